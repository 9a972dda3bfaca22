"""Every error is problem+json; the edges of HTTP (bad JSON, big bodies, odd routes) included."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from tests.conftest import ADDRESS, Api
from tests.engines import BOTH_ENGINES

pytestmark = [BOTH_ENGINES]

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    assert "Traceback" not in response.text
    return dict(body)


def test_missing_identity_is_401(api: Api) -> None:
    for method, path in [("GET", "/orders"), ("GET", "/products"), ("POST", "/orders")]:
        response = api.call(method, path, user=None, json={})
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_stranger_learns_nothing_about_the_request_but_401(api: Api) -> None:
    # Who calls is settled before the request is read: no 400/422 hints for strangers.
    json_type = {"Content-Type": "application/json"}
    for method, path, extra in [
        ("POST", "/orders", {"content": b"{", "headers": json_type}),
        ("GET", "/orders?limit=0&status=NOPE", {}),
        ("PATCH", "/products/A", {"json": {"price": -1}, "headers": {"If-Match": "x"}}),
    ]:
        assert_problem(api.call(method, path, user=None, **extra), 401)


def test_public_endpoints_need_no_identity(api: Api) -> None:
    assert api.call("GET", "/health", user=None).json() == {"status": "ok"}
    assert api.call("GET", "/openapi.json", user=None).status_code == 200
    assert "swagger" in api.call("GET", "/docs", user=None).text.lower()
    assert "redoc" in api.call("GET", "/redoc", user=None).text.lower()


def test_malformed_json_is_400(api: Api) -> None:
    for raw in (b"{", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b'{"items": NaN}'):
        response = api.call(
            "POST", "/orders", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (400, 422)
        assert response.headers["content-type"] == PROBLEM
    assert_problem(
        api.call("POST", "/orders", content=b"{", headers={"Content-Type": "application/json"}),
        400,
    )


def test_bodies_over_64_kib_are_413(api: Api) -> None:
    api.add_product("A")
    body = {
        "items": [{"sku": "A", "quantity": 1}],
        "shipping_address": {**ADDRESS, "name": "x" * 70_000},
    }
    assert_problem(api.call("POST", "/orders", json=body), 413)
    assert api.call("GET", "/products/A").json()["stock"] == 10


def test_non_json_bodies_are_415(api: Api) -> None:
    response = api.call(
        "POST", "/orders", content=b"items=1", headers={"Content-Type": "text/plain"}
    )
    assert_problem(response, 415)


def test_unknown_routes_and_wrong_methods(api: Api) -> None:
    assert_problem(api.call("GET", "/nope"), 404)
    response = api.call("DELETE", "/orders")
    assert_problem(response, 405)
    assert "allow" in response.headers


def test_validation_errors_list_fields(api: Api) -> None:
    body = assert_problem(api.call("POST", "/orders", json={"items": []}), 422)
    fields = {error["field"] for error in body["errors"]}
    assert "body.shipping_address" in fields


def test_every_response_carries_a_request_id(api: Api) -> None:
    given = api.call("GET", "/health", headers={"X-Request-Id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = api.call("GET", "/nope")
    assert len(made.headers["x-request-id"]) >= 16
    bogus = api.call("GET", "/health", headers={"X-Request-Id": "x" * 500})
    assert bogus.headers["x-request-id"] != "x" * 500


def test_unexpected_errors_are_problem_json_500_with_request_id(api: Api) -> None:
    # Break the table name underneath the app: DynamoDB answers ResourceNotFoundException.
    app = api.client.app
    app.state.services.products._repository._table = "missing-table"  # type: ignore[attr-defined]
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/products/A", headers={"X-Dev-User": "alice"})
    body = assert_problem(response, 500)
    assert body["request_id"] == response.headers["x-request-id"]
    assert "missing-table" not in json.dumps(body)


def test_openapi_documents_every_path_parameter_once(api: Api) -> None:
    # Path parameters are read by the endpoints and documented through openapi_extra
    # (api/deps.py): a route that forgot would publish an invalid document.
    spec = api.call("GET", "/openapi.json", user=None).json()
    checked = 0
    for path, operations in spec["paths"].items():
        templated = set(re.findall(r"{([^}]+)}", path))
        for method, operation in operations.items():
            documented = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            assert sorted(documented) == sorted(templated), (method, path, documented)
            checked += len(documented)
    assert checked >= 5


def test_openapi_documents_problem_responses(api: Api) -> None:
    spec = api.call("GET", "/openapi.json", user=None).json()
    place = spec["paths"]["/orders"]["post"]["responses"]
    for status in ("400", "401", "409", "413", "422", "503"):
        assert "application/problem+json" in place[status]["content"]
    assert "Problem" in spec["components"]["schemas"]
