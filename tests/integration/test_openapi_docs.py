"""What /openapi.json and /docs tell a person or a client generator, per kind of process.

- `order-api serve` (dev identity on): X-Dev-User / X-Dev-Groups as API-key schemes, nothing
  else; its pages load Swagger UI from the server itself.
- Lambda (dev identity off): a bearer JWT scheme, plus the hosted login when configured.
- Every signed-in operation carries the requirement, public ones none; operation ids are the
  contract's; a 405 names every method of its path.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambda_app.api import docs
from lambda_app.api.app import create_app
from lambda_app.settings import Settings
from tests.conftest import make_settings

LOGIN = {
    "DOCS_OAUTH_CLIENT_ID": "client-123",
    "DOCS_OAUTH_AUTHORIZATION_URL": "https://login.example.com/oauth2/authorize",
    "DOCS_OAUTH_TOKEN_URL": "https://login.example.com/oauth2/token",
}
# The contract's operation ids (Operation ids), by operation.
OPERATION_IDS = {
    ("post", "/orders"): "placeOrder",
    ("get", "/orders/{order_id}"): "getOrder",
    ("get", "/orders"): "listOrders",
    ("patch", "/orders/{order_id}"): "updateOrder",
    ("post", "/orders/{order_id}/cancel"): "cancelOrder",
    ("post", "/products"): "createProduct",
    ("get", "/products/{sku}"): "getProduct",
    ("get", "/products"): "listProducts",
    ("patch", "/products/{sku}"): "updateProduct",
    ("get", "/health"): "getHealth",
}
PUBLIC = {("get", "/health")}
# Paths served but not in the document (the documentation itself).
DOC_PAGES = ("/openapi.json", docs.DOCS, docs.OAUTH2_REDIRECT, docs.REDOC)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def client_for(dynamodb: Any, **settings: Any) -> TestClient:
    return TestClient(create_app(make_settings(**settings), dynamodb))


def document(dynamodb: Any, **settings: Any) -> dict[str, Any]:
    response = client_for(dynamodb, **settings).get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }


def test_operation_ids_are_the_contracts(dynamodb: Any) -> None:
    found = {key: op["operationId"] for key, op in operations(document(dynamodb)).items()}
    assert found == OPERATION_IDS


def test_serve_documents_the_dev_headers_only(dynamodb: Any) -> None:
    # Even with a login configured: the dev identity ignores tokens, so none is offered.
    spec = document(dynamodb, ORDER_API_DEV_AUTH=True, **LOGIN)
    schemes = spec["components"]["securitySchemes"]
    assert schemes == {
        "devUser": {**schemes["devUser"], "type": "apiKey", "in": "header", "name": "X-Dev-User"},
        "devGroups": {
            **schemes["devGroups"],
            "type": "apiKey",
            "in": "header",
            "name": "X-Dev-Groups",
        },
    }
    for key, operation in operations(spec).items():
        if key in PUBLIC:
            assert "security" not in operation, key
        else:  # X-Dev-User alone, or together with X-Dev-Groups
            assert operation["security"] == [{"devUser": []}, {"devUser": [], "devGroups": []}]
    assert (
        "initOAuth" not in client_for(dynamodb, ORDER_API_DEV_AUTH=True, **LOGIN).get("/docs").text
    )


def test_deployed_without_a_login_documents_the_bearer_scheme_only(dynamodb: Any) -> None:
    spec = document(dynamodb, ORDER_API_DEV_AUTH=False)
    assert spec["components"]["securitySchemes"] == {
        "bearerAuth": {
            **spec["components"]["securitySchemes"]["bearerAuth"],
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
        }
    }
    for key, operation in operations(spec).items():
        assert operation.get("security") == (None if key in PUBLIC else [{"bearerAuth": []}])


def test_deployed_with_the_hosted_login(dynamodb: Any) -> None:
    spec = document(dynamodb, ORDER_API_DEV_AUTH=False, **LOGIN)
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == {"bearerAuth", "hostedLogin"}
    assert schemes["hostedLogin"]["type"] == "oauth2"
    assert schemes["hostedLogin"]["flows"] == {
        "authorizationCode": {
            "authorizationUrl": LOGIN["DOCS_OAUTH_AUTHORIZATION_URL"],
            "tokenUrl": LOGIN["DOCS_OAUTH_TOKEN_URL"],
            "scopes": {
                "openid": schemes["hostedLogin"]["flows"]["authorizationCode"]["scopes"]["openid"]
            },
        }
    }
    for key, operation in operations(spec).items():
        expected = None if key in PUBLIC else [{"bearerAuth": []}, {"hostedLogin": []}]
        assert operation.get("security") == expected, key
    # Swagger UI signs in as the public client, with PKCE, asking for the scopes.
    page = client_for(dynamodb, ORDER_API_DEV_AUTH=False, **LOGIN).get("/docs").text
    init = re.search(r"ui\.initOAuth\((.*?)\)", page, re.DOTALL)
    assert init is not None
    assert '"clientId": "client-123"' in init.group(1)
    assert '"usePkceWithAuthorizationCodeGrant": true' in init.group(1)
    assert '"scopes": "openid"' in init.group(1)
    assert "clientSecret" not in page
    assert "window.location.origin + '/docs/oauth2-redirect'" in page


def test_a_login_is_configured_whole_or_not_at_all() -> None:
    with pytest.raises(ValueError, match="go together"):
        Settings(DOCS_OAUTH_CLIENT_ID="client-123")
    with pytest.raises(ValueError, match="https"):
        Settings(**{**LOGIN, "DOCS_OAUTH_TOKEN_URL": "http://login.example.com/oauth2/token"})


def test_every_405_names_every_method_of_its_path(dynamodb: Any) -> None:
    client = client_for(dynamodb)
    spec = client.get("/openapi.json").json()
    supported = {path: {m.upper() for m in item} for path, item in spec["paths"].items()}
    # The documentation's own pages are GET (and HEAD, which Starlette adds to them).
    supported.update({page: {"GET", "HEAD"} for page in DOC_PAGES})
    checked = 0
    for template, methods in supported.items():
        path = template.replace("{order_id}", "01ARZ3NDEKTSV4RRFFQ69G5FAV").replace("{sku}", "A")
        for method in sorted(set(METHODS) - methods):
            response = client.request(method, path, headers={"X-Dev-User": "alice"})
            assert response.status_code == 405, (method, path)
            assert response.headers["content-type"] == "application/problem+json"
            allowed = {m.strip() for m in response.headers["allow"].split(",")}
            assert allowed == methods, (method, path)
            checked += 1
    assert checked > 40


def test_docs_pages_load_pinned_scripts_from_the_cdn_by_default(dynamodb: Any) -> None:
    client = client_for(dynamodb)
    swagger, redoc = client.get("/docs").text, client.get("/redoc").text
    assert f"swagger-ui-dist@{docs.SWAGGER_UI_VERSION}/swagger-ui-bundle.js" in swagger
    assert f"redoc@{docs.REDOC_VERSION}/bundles/redoc.standalone.js" in redoc
    assert '"validatorUrl": null' in swagger  # the document is never sent to swagger.io
    assert client.get(f"{docs.ASSETS}/swagger-ui-bundle.js").status_code == 404
    assert client.get(docs.OAUTH2_REDIRECT).status_code == 200


def test_offline_docs_serve_the_same_versions_themselves(dynamodb: Any) -> None:
    client = client_for(dynamodb, ORDER_API_DOCS_OFFLINE=True)
    swagger, redoc = client.get("/docs").text, client.get("/redoc").text
    scripts = re.findall(r'(?:src|href)="([^"]+)"', swagger + redoc)
    assert scripts
    assert all(url.startswith(docs.ASSETS) for url in scripts), scripts
    assert "fonts.googleapis.com" not in redoc
    for url in scripts:
        assert client.get(url).status_code == 200, url
    bundle = client.get(docs.LOCAL_ASSETS.swagger_js).text
    assert f'PACKAGE_VERSION:"{docs.SWAGGER_UI_VERSION}"' in bundle  # the CDN pin is this file
    redoc_js = client.get(docs.LOCAL_ASSETS.redoc_js).text
    assert f'ReDoc Version: ","{docs.REDOC_VERSION}"' in redoc_js
