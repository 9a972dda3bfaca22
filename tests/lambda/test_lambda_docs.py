"""The deployed function's document and /docs: a bearer scheme, never the dev headers."""

from __future__ import annotations

from .conftest import Gateway


def test_the_function_documents_no_dev_headers(gateway: Gateway) -> None:
    spec = gateway.call("GET", "/openapi.json", user=None).json()
    # No DOCS_OAUTH_* in this function's environment: the bearer scheme only.
    assert set(spec["components"]["securitySchemes"]) == {"bearerAuth"}
    assert spec["paths"]["/orders"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in spec["paths"]["/health"]["get"]
    assert "X-Dev-User" not in gateway.call("GET", "/openapi.json", user=None).body


def test_the_functions_docs_load_swagger_ui_from_the_cdn(gateway: Gateway) -> None:
    page = gateway.call("GET", "/docs", user=None).body
    assert "https://cdn.jsdelivr.net/npm/swagger-ui-dist@" in page
    assert "/docs/assets/" not in page
    redirect = gateway.call("GET", "/docs/oauth2-redirect", user=None)
    assert redirect.status == 200
    assert "oauth2" in redirect.body
