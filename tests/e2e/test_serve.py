"""`order-api serve` as a newcomer runs it: a real process, embedded DynamoDB, seeded catalog."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]

ORDER_API = Path(sys.executable).with_name("order-api")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(base: str, timeout: float = 30) -> None:
    """Until `GET /health` answers 200: the banner comes just before uvicorn binds its port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{base} did not come up"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"TABLE_NAME", "CURSOR_SECRET"}}
    data = tmp_path_factory.mktemp("serve-data")  # not the repository's .build: a fresh catalog
    process = subprocess.Popen(
        [str(ORDER_API), "serve", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    banner = ""
    deadline = time.monotonic() + 30
    while "Staff:" not in banner and time.monotonic() < deadline:
        banner += process.stdout.readline()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        yield base, banner
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_banner_names_docs_and_a_curl_example(server: tuple[str, str]) -> None:
    base, banner = server
    assert f"{base}/docs" in banner
    assert re.search(r"curl .*X-Dev-User", banner)


def test_seeded_catalog_and_an_order_over_http(server: tuple[str, str]) -> None:
    base, _ = server
    alice = {"X-Dev-User": "alice"}
    catalog = httpx.get(f"{base}/products", headers=alice, params={"limit": 100}).json()
    skus = {p["sku"]: p for p in catalog["items"]}
    assert "MUG-LOGO" in skus
    order = httpx.post(
        f"{base}/orders",
        headers={**alice, "Idempotency-Key": "e2e-1"},
        json={
            "items": [{"sku": "MUG-LOGO", "quantity": 2}],
            "shipping_address": {
                "name": "Alice",
                "line1": "1 Main St",
                "city": "Berlin",
                "postal_code": "10115",
                "country": "DE",
            },
        },
    )
    assert order.status_code == 201, order.text
    fetched = httpx.get(f"{base}{order.headers['location']}", headers=alice)
    assert fetched.json() == order.json()
    stock = httpx.get(f"{base}/products/MUG-LOGO", headers=alice).json()["stock"]
    assert stock == skus["MUG-LOGO"]["stock"] - 2
    assert httpx.get(f"{base}/orders", headers={}).status_code == 401
    docs = httpx.get(f"{base}/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
