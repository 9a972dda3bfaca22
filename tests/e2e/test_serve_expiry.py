"""`order-api serve` expires reservations in the background: a real process against a DynamoDB
this test runs, holding an order placed (through the service, with its clock set back) long
enough ago that its hold has run out, and one placed just now."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from lambda_app.domain.models import Address, Caller, PlaceOrder, Product
from lambda_app.domain.timestamps import parse_rfc3339
from lambda_app.local.dynamodb_server import EmbeddedDynamoDB
from lambda_app.repository.client import make_client
from lambda_app.repository.dynamodb import DynamoRepository
from lambda_app.repository.tables import ensure_table
from lambda_app.service.clock import utcnow
from lambda_app.service.cursors import CursorCodec
from lambda_app.service.orders import OrderService
from tests.conftest import REGION
from tests.e2e.test_serve import ORDER_API, free_port, wait_healthy

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]

TABLE = "orders-serve-expiry"
ADDRESS = Address(name="Alice", line1="1 Main St", city="Berlin", postal_code="10115", country="DE")


def _place(repository: DynamoRepository, minutes_ago: int, window: timedelta) -> str:
    at = utcnow() - timedelta(minutes=minutes_ago)
    service = OrderService(repository, CursorCodec(b"e2e"), 86400, window, clock=lambda: at)
    request = PlaceOrder(lines=(("MUG", 3),), shipping_address=ADDRESS)
    return service.place(Caller("alice"), request, None).order.id


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, dict[str, str], str]]:
    with EmbeddedDynamoDB() as dynamo:
        client = make_client(REGION, dynamo.endpoint_url)
        ensure_table(client, TABLE)
        repository = DynamoRepository(client, TABLE)
        now = utcnow()
        repository.create_product(Product("MUG", "Mug", 1299, "EUR", 10, 1, now, now))
        ids = {
            "expired": _place(repository, minutes_ago=5, window=timedelta(minutes=1)),
            "held": _place(repository, minutes_ago=0, window=timedelta(minutes=30)),
        }
        port = free_port()
        env = {**os.environ, "TABLE_NAME": TABLE, "RESERVATION_MINUTES": "7"}
        env.pop("CURSOR_SECRET", None)
        process = subprocess.Popen(
            [str(ORDER_API), "serve", "--port", str(port), "--endpoint-url", dynamo.endpoint_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert process.stdout is not None
        banner = ""
        deadline = time.monotonic() + 30
        while "Reservations:" not in banner and time.monotonic() < deadline:
            banner += process.stdout.readline()
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(base)
            yield base, ids, banner
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _order(base: str, order_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/orders/{order_id}", headers={"X-Dev-User": "alice"}, timeout=5)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_background_job_expires_what_is_due_and_leaves_the_rest(
    served: tuple[str, dict[str, str], str],
) -> None:
    base, ids, banner = served
    assert "holds its stock 7 min" in banner
    deadline = time.monotonic() + 20  # the loop's first run is at start-up
    while _order(base, ids["expired"])["status"] != "CANCELLED":
        assert time.monotonic() < deadline, "the expired reservation was not released"
        time.sleep(0.2)
    expired = _order(base, ids["expired"])
    assert (expired["cancellation_reason"], expired["expires_at"]) == ("expired", None)
    held = _order(base, ids["held"])
    assert held["status"] == "PENDING" and held["expires_at"] is not None
    stock = httpx.get(f"{base}/products/MUG", headers={"X-Dev-User": "alice"}).json()["stock"]
    assert stock == 10 - 3  # the expired order's 3 are back; the held order keeps its 3


def test_new_orders_get_the_configured_window(served: tuple[str, dict[str, str], str]) -> None:
    base, _, _ = served
    response = httpx.post(
        f"{base}/orders",
        headers={"X-Dev-User": "bob"},
        json={
            "items": [{"sku": "MUG", "quantity": 1}],
            "shipping_address": {
                "name": "Bob",
                "line1": "2 Main St",
                "city": "Berlin",
                "postal_code": "10115",
                "country": "DE",
            },
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    window = parse_rfc3339(body["expires_at"]) - parse_rfc3339(body["created_at"])
    assert window == timedelta(minutes=7)


def test_a_window_out_of_range_stops_serve_at_start_with_a_clear_message() -> None:
    env = {**os.environ, "RESERVATION_MINUTES": "0"}
    result = subprocess.run(
        [str(ORDER_API), "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "RESERVATION_MINUTES must be a whole number of minutes from 1 to 1440" in result.stderr
    assert "Traceback" not in result.stderr
