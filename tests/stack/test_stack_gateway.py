"""The gateway in front of the function: the JWT authorizer and what it lets through.

What the authorizer refuses gets API Gateway's own ``401 {"message": "Unauthorized"}``; the
function never ran, so the response has none of its marks (problem+json, ``X-Request-Id``, which
the app puts on every response). Everything it lets through reaches the function, unknown
paths and wrong methods included (the contract's Errors section).
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from infra.local_stack import users

from .conftest import Caller, Stack, claims

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]

PROBLEM = "application/problem+json"


def assert_refused_by_the_gateway(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {"message": "Unauthorized"}
    assert response.headers["content-type"].startswith("application/json")
    assert "x-request-id" not in response.headers, "the function answered"


def assert_from_the_function(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "x-request-id" in response.headers
    body: dict[str, object] = response.json()
    assert body["status"] == status
    return body


def _tampered(token: str, **changes: object) -> str:
    header, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(json.dumps({**claims(token), **changes}).encode())
    return f"{header}.{payload.rstrip(b'=').decode()}.{signature}"


def test_no_token_is_refused_before_the_function(stack: Stack) -> None:
    assert_refused_by_the_gateway(stack.http.get("orders"))


def test_a_garbage_token_is_refused(stack: Stack) -> None:
    for value in ("Bearer not-a-jwt", "Bearer a.b.c", "Basic YWxpY2U6c2VjcmV0"):
        assert_refused_by_the_gateway(stack.http.get("orders", headers={"Authorization": value}))


def test_a_tampered_payload_is_refused(stack: Stack, alice: Caller) -> None:
    assert alice.call("GET", "orders").status_code == 200  # the untampered token works
    for changes in ({"cognito:groups": ["admin"]}, {"sub": "someone-else"}):
        forged = _tampered(alice.token, **changes)
        response = stack.http.get("orders", headers={"Authorization": f"Bearer {forged}"})
        assert_refused_by_the_gateway(response)


def test_a_token_for_another_app_client_is_refused(stack: Stack) -> None:
    """Same pool, same signing key, same user: only the audience (client_id) differs."""
    idp = stack.client("cognito-idp")
    other = idp.create_user_pool_client(
        UserPoolId=stack.outputs["UserPoolId"],
        ClientName="not-the-api",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    caller = stack.sign_in(users.CUSTOMER.username, users.CUSTOMER.password, client_id=other)
    assert claims(caller.token)["client_id"] == other
    assert_refused_by_the_gateway(caller.call("GET", "orders"))


def test_staff_groups_as_the_gateway_delivers_them(stack: Stack, bob: Caller) -> None:
    """API Gateway hands claims to the function as strings: ``cognito:groups`` arrives as
    ``"[admin]"``, or ``"[admin ops]"`` for two groups. Both make the caller staff."""
    assert claims(bob.token)["cognito:groups"] == ["admin"]
    two_groups = stack.new_user("admin", "ops")
    assert sorted(claims(two_groups.token)["cognito:groups"]) == ["admin", "ops"]
    not_staff = stack.new_user("ops")
    for caller, expected in ((bob, 201), (two_groups, 201), (not_staff, 403)):
        sku = f"G-{caller.username[-8:].upper()}"
        created = caller.call(
            "POST",
            "products",
            json={"sku": sku, "name": "Group check", "price": 1, "currency": "EUR", "stock": 1},
        )
        assert created.status_code == expected, (caller.username, created.text)


def test_unknown_paths_and_wrong_methods_reach_the_function(alice: Caller) -> None:
    body = assert_from_the_function(alice.call("GET", "no/such/route"), 404)
    assert body["title"] == "Not Found"
    wrong = alice.call("DELETE", "orders")
    assert_from_the_function(wrong, 405)
    assert wrong.headers["allow"]


def test_a_body_over_64_kib_gets_the_functions_413(alice: Caller) -> None:
    response = alice.call(
        "POST",
        "orders",
        content=b'{"items": "' + b"x" * (64 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert_from_the_function(response, 413)
