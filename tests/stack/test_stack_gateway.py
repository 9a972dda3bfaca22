"""The gateway in front of the function: the JWT authorizer and what it lets through.

What the authorizer refuses gets API Gateway's own ``401 {"message": "Unauthorized"}``; the
function never ran, so the response has none of its marks (problem+json, ``X-Request-Id``, which
the app puts on every response). Everything it lets through reaches the function, unknown
paths and wrong methods included (the contract's Errors section).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from urllib.parse import parse_qs, urlsplit

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
    assert {m.strip() for m in wrong.headers["allow"].split(",")} >= {"GET", "POST"}


def test_a_body_over_64_kib_gets_the_functions_413(alice: Caller) -> None:
    response = alice.call(
        "POST",
        "orders",
        content=b'{"items": "' + b"x" * (64 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert_from_the_function(response, 413)


def _hosted_login_code(stack: Stack, callback: str, challenge: str) -> str:
    """alice signs in on the hosted login (its form, as a browser submits it); the code it
    redirects to the callback with."""
    authorize = httpx.get(
        f"{stack.endpoint}/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": stack.outputs["UserPoolClientId"],
            "redirect_uri": callback,
            "scope": "openid",
            "state": "stack-test",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert authorize.status_code == 200, authorize.text
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', authorize.text))
    form.update(username=users.CUSTOMER.username, password=users.CUSTOMER.password)
    signed_in = httpx.post(f"{stack.endpoint}/login", data=form)
    assert signed_in.status_code == 302, signed_in.text
    location = urlsplit(signed_in.headers["location"])
    assert location._replace(query="").geturl() == callback
    query = parse_qs(location.query)
    assert query["state"] == ["stack-test"]
    return query["code"][0]


def test_the_hosted_login_signs_in_for_docs_with_pkce(stack: Stack) -> None:
    """The app client's authorization-code grant with PKCE, calling back to the API's
    /docs/oauth2-redirect (as /docs uses it): its access token passes the authorizer."""
    client = stack.client("cognito-idp").describe_user_pool_client(
        UserPoolId=stack.outputs["UserPoolId"], ClientId=stack.outputs["UserPoolClientId"]
    )["UserPoolClient"]
    (callback,) = client["CallbackURLs"]
    assert callback.endswith("/docs/oauth2-redirect")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    challenge_text = challenge.rstrip(b"=").decode()
    token_url = f"{stack.endpoint}/oauth2/token"
    grant = {
        "grant_type": "authorization_code",
        "client_id": stack.outputs["UserPoolClientId"],
        "redirect_uri": callback,
    }

    wrong = httpx.post(
        token_url,
        data={
            **grant,
            "code": _hosted_login_code(stack, callback, challenge_text),
            "code_verifier": secrets.token_urlsafe(48),
        },
    )
    assert wrong.status_code == 400  # PKCE: a code is worth nothing without its verifier

    tokens = httpx.post(
        token_url,
        data={
            **grant,
            "code": _hosted_login_code(stack, callback, challenge_text),
            "code_verifier": verifier,
        },
    )
    assert tokens.status_code == 200, tokens.text
    access = tokens.json()["access_token"]
    assert claims(access)["client_id"] == stack.outputs["UserPoolClientId"]
    response = stack.http.get("orders", headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 200, response.text
