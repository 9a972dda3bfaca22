"""/docs in a real browser, as a newcomer uses it after `make run`.

Headless Chromium (Debian's ``chromium`` package, driven by playwright, which never downloads a
browser of its own here) opens /docs of a real `order-api serve` process on a free loopback
port, signs in through Authorize with the dev identity, and through Try it out lists orders
(200) and places one (201). The page has no script errors and no request leaves loopback: the
page's scripts are the server's own (offline Swagger UI), and anything else is refused.

And the deployed function's /docs: Authorize signs in through an OAuth 2.0 authorization server
(a strict local stand-in for Cognito's hosted login: code grant, PKCE S256, public client, the
registered callback), and Try it out sends the token it got.

`make install` / `make test` install Chromium where that is allowed (root with apt-get);
elsewhere this module is skipped and says why.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from lambda_app.api.app import create_app
from lambda_app.repository.client import make_client
from tests.conftest import REGION, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dev-server")]

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip(
        f"Debian's chromium is not installed ({CHROMIUM}): `make install` installs it where it "
        "may (root with apt-get), e.g. `apt-get install chromium`",
        allow_module_level=True,
    )
playwright = pytest.importorskip("playwright.sync_api")

# Known to work headless on these machines; the rest keep Chromium from calling home.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOPPER = "docs-browser-shopper"  # this test's own customer on the shared server
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
ORDER = {
    "items": [{"sku": "MUG-LOGO", "quantity": 1}],
    "shipping_address": {
        "name": "Alice",
        "line1": "1 Main St",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    },
}


class Browser:
    """One page in a fresh Chromium profile; records script errors and every request."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.errors: list[str] = []
        self.requests: list[Any] = []
        self.refused: list[str] = []
        context.route("**/*", self._only_loopback)
        self.page = context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on(
            "console",
            lambda message: (
                self.errors.append(f"console: {message.text}") if message.type == "error" else None
            ),
        )

    def _only_loopback(self, route: Any) -> None:
        url = route.request.url
        self.requests.append(route.request)
        if urlsplit(url).hostname in LOOPBACK or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()

    def operation(self, operation_id: str, tag: str = "orders") -> Any:
        """An operation's block, opened, in Try it out mode (ids follow operationId)."""
        block = self.page.locator(f"#operations-{tag}-{operation_id}")
        block.locator(".opblock-summary").first.click()
        block.locator("button.try-out__btn").click()
        return block

    @staticmethod
    def execute(block: Any) -> int:
        block.locator("button.execute").click()
        status = block.locator(".live-responses-table .response .response-col_status").first
        status.wait_for(timeout=15_000)
        return int(status.inner_text().strip().split()[0])


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    with playwright.sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a new, empty --user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
        )
        context.set_default_timeout(15_000)
        try:
            yield Browser(context)
        finally:
            context.close()


def test_sign_in_list_and_place_an_order_from_docs(dev_server: str, browser: Browser) -> None:
    page = browser.page
    page.goto(f"{dev_server}/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Order API" in page.locator(".swagger-ui .info .title").inner_text()

    # Authorize with the dev identity: the X-Dev-User scheme.
    page.locator("button.authorize").first.click()
    dev_user = page.locator(".auth-container").filter(has_text="Name: X-Dev-User")
    dev_user.locator("input").fill(SHOPPER)
    dev_user.locator("button.authorize").click()
    dev_user.locator("h6", has_text="Authorized").wait_for()
    page.locator(".auth-container button.btn-done").first.click()

    listing = browser.operation("listOrders")
    assert browser.execute(listing) == 200
    body = json.loads(
        listing.locator(".live-responses-table .response-col_description pre").first.inner_text()
    )
    assert body["items"] == []

    placing = browser.operation("placeOrder")
    placing.locator("textarea.body-param__text").fill(json.dumps(ORDER))
    assert browser.execute(placing) == 201

    # The order is the signed-in shopper's: the browser's Authorize reached the server.
    orders = httpx.get(f"{dev_server}/orders", headers={"X-Dev-User": SHOPPER}).json()["items"]
    assert [order["items"][0]["sku"] for order in orders] == ["MUG-LOGO"]

    assert browser.errors == []
    assert browser.refused == []
    requested = [request.url for request in browser.requests]
    assert any(url.endswith("/docs/assets/swagger-ui-bundle.js") for url in requested)
    assert any(url.endswith("/openapi.json") for url in requested)


# --- the deployed /docs: sign-in through an OAuth 2.0 authorization server -------------------


class AuthorizationServer:
    """A stand-in for Cognito's hosted login, as strict as it needs to be to hold Swagger UI
    to our configuration: the code grant for our public client only, a PKCE S256 challenge
    that the token request must answer, no client secret, the registered callback only."""

    CLIENT_ID = "docs-client"
    TOKEN = "access-token-from-the-login"

    def __init__(self) -> None:
        self.callback = ""
        self.grants: dict[str, str] = {}  # code -> code_challenge
        self.refusals: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/oauth2/authorize", self.authorize),
                Route("/oauth2/token", self.token, methods=["POST", "OPTIONS"]),
            ]
        )

    def _refuse(self, why: str) -> Response:
        self.refusals.append(why)
        return JSONResponse({"error": "invalid_request", "error_description": why}, 400)

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        if query.get("response_type") != "code" or query.get("client_id") != self.CLIENT_ID:
            return self._refuse(f"not our client's code grant: {dict(query)}")
        if query.get("redirect_uri") != self.callback:
            return self._refuse(f"unregistered callback {query.get('redirect_uri')}")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return self._refuse("no PKCE challenge")
        code = secrets.token_urlsafe(16)
        self.grants[code] = query["code_challenge"]
        target = f"{self.callback}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return RedirectResponse(target, status_code=302)

    async def token(self, request: Request) -> Response:
        cors = {
            "Access-Control-Allow-Origin": request.headers.get("origin", "*"),
            "Access-Control-Allow-Headers": request.headers.get(
                "access-control-request-headers", "*"
            ),
            "Access-Control-Allow-Methods": "POST",
        }
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=cors)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if "client_secret" in form or "authorization" in request.headers:
            return self._refuse("a public client has no secret")
        challenge = self.grants.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        answer = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if challenge is None or answer.rstrip(b"=").decode() != challenge:
            return self._refuse("the code verifier does not answer the challenge")
        if (
            form.get("grant_type") != "authorization_code"
            or form.get("client_id") != self.CLIENT_ID
        ):
            return self._refuse("not our client's code exchange")
        body = {"access_token": self.TOKEN, "token_type": "Bearer", "expires_in": 3600}
        return JSONResponse(body, headers=cors)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` on a free loopback port in a thread, for as long as the block runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_sign_in_through_the_hosted_login_from_docs(browser: Browser, tmp_path: Path) -> None:
    """The deployed function's /docs (no dev identity, a login configured): Authorize signs in
    through the authorization server with PKCE and Try it out sends the token it got."""
    login = AuthorizationServer()
    with serving(login.app) as login_url:
        settings = make_settings(
            ORDER_API_DEV_AUTH=False,
            # Swagger UI from this process rather than the CDN: the test stays on loopback.
            ORDER_API_DOCS_OFFLINE=True,
            DOCS_OAUTH_CLIENT_ID=login.CLIENT_ID,
            DOCS_OAUTH_AUTHORIZATION_URL=f"{login_url}/oauth2/authorize",
            DOCS_OAUTH_TOKEN_URL=f"{login_url}/oauth2/token",
        )
        # Never called: outside API Gateway no request carries verified claims (401 first).
        dynamodb = make_client(REGION, "http://127.0.0.1:9")
        with serving(create_app(settings, dynamodb)) as api_url:
            login.callback = f"{api_url}/docs/oauth2-redirect"
            page = browser.page
            page.goto(f"{api_url}/docs")
            page.locator("button.authorize").first.click()
            hosted = page.locator(".auth-container").filter(has_text="hostedLogin")
            assert hosted.locator("#client_id_authorizationCode").input_value() == login.CLIENT_ID
            hosted.locator("button.authorize").click()  # the login answers in a popup
            try:
                hosted.locator("h6", has_text="Authorized").wait_for()
            except playwright.Error as error:
                raise AssertionError(f"not signed in; the login said {login.refusals}") from error
            page.locator(".auth-container button.btn-done").first.click()

            listing = browser.operation("listOrders")
            # The app trusts API Gateway's verified claims only, so this process says 401;
            # what matters here is that Swagger UI sent the token it signed in for.
            assert browser.execute(listing) == 401
            sent = [r for r in browser.requests if urlsplit(r.url).path == "/orders"]
            assert [r.headers.get("authorization") for r in sent] == [f"Bearer {login.TOKEN}"]
    assert browser.refused == []
    assert [e for e in browser.errors if "401" not in e] == []
