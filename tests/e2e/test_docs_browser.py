"""/docs in a real browser, as a newcomer uses it after `make run`.

Headless Chromium (Debian's ``chromium`` package, driven by playwright, which never downloads a
browser of its own here) opens /docs of a real `order-api serve` process on a free loopback
port, signs in through Authorize with the dev identity, and through Try it out lists orders
(200) and places one (201). The page has no script errors and no request leaves loopback: the
page's scripts are the server's own (offline Swagger UI), and anything else is refused.

`make install` / `make test` install Chromium where that is allowed (root with apt-get);
elsewhere this module is skipped and says why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

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
        self.requested: list[str] = []
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
        self.requested.append(url)
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
    assert any(url.endswith("/docs/assets/swagger-ui-bundle.js") for url in browser.requested)
    assert any(url.endswith("/openapi.json") for url in browser.requested)
