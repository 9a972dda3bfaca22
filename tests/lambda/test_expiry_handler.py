"""``lambda_app.jobs.expire_reservations.handler`` invoked as EventBridge's scheduled rule does,
against moto: what it returns, logs and counts, and how the invocation's time left bounds it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from lambda_app.domain.models import Address, Caller, PlaceOrder, Product
from lambda_app.jobs import expire_reservations
from lambda_app.repository.dynamodb import DynamoRepository
from lambda_app.service.clock import utcnow
from lambda_app.service.cursors import CursorCodec
from lambda_app.service.orders import OrderService
from tests.conftest import TABLE

# What EventBridge sends for a rule on a schedule.
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-25T09:30:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/dev-orders-expiry-schedule"],
    "detail": {},
}
ADDRESS = Address(name="A", line1="1 Road", city="Town", postal_code="1", country="DE")


class Context:
    """The part of Lambda's context object the handler reads."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def due_orders(dynamodb: Any) -> Iterator[DynamoRepository]:
    repository = DynamoRepository(dynamodb, TABLE)
    now = utcnow()
    repository.create_product(Product("MUG", "Mug", 1000, "EUR", 10, 1, now, now))
    long_ago = now - timedelta(minutes=40)
    service = OrderService(
        repository, CursorCodec(b"k"), 86400, timedelta(minutes=30), clock=lambda: long_ago
    )
    for _ in range(3):
        service.place(Caller("alice"), PlaceOrder((("MUG", 2),), ADDRESS), None)
    expire_reservations._job.cache_clear()  # a fresh container: settings and client at first use
    yield repository
    expire_reservations._job.cache_clear()


def _lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_a_scheduled_run_expires_due_orders_and_reports_them(
    due_orders: DynamoRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    result = expire_reservations.handler(SCHEDULED_EVENT, Context(remaining_ms=60_000))
    assert (result["expired"], result["lost"], result["failed"]) == (3, 0, 0)
    assert result["stopped_early"] is False
    product = due_orders.get_product("MUG")
    assert product is not None and product.stock == 10
    lines = _lines(capsys.readouterr().out)
    (emf,) = [line for line in lines if "_aws" in line]
    assert emf["Service"] == "order-expiry"
    assert (emf["ReservationsExpired"], emf["ReservationExpiryFailures"]) == (3, 0)
    assert 600 <= emf["ReservationExpiryLag"] < 700  # ten minutes and change past the deadline
    units = {m["Name"]: m["Unit"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units["ReservationExpiryLag"] == "Seconds"
    (log,) = [line for line in lines if line.get("message") == "reservation expiry"]
    assert (log["level"], log["expired"]) == ("INFO", 3)
    # The next minute's run finds nothing and says so.
    again = expire_reservations.handler(SCHEDULED_EVENT, Context(remaining_ms=60_000))
    assert again["expired"] == 0


def test_a_run_with_too_little_time_left_starts_nothing(
    due_orders: DynamoRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    """Less time left than the slowest single call: no expiry is started that could be cut off."""
    short = Context(remaining_ms=expire_reservations.SLOWEST_CALL_SECONDS * 1000)
    result = expire_reservations.handler(SCHEDULED_EVENT, short)
    assert (result["expired"], result["stopped_early"]) == (0, True)
    product = due_orders.get_product("MUG")
    assert product is not None and product.stock == 10 - 3 * 2
    assert expire_reservations.handler(SCHEDULED_EVENT, Context(60_000))["expired"] == 3


def test_an_order_not_yet_due_is_left_as_it_is(due_orders: DynamoRepository) -> None:
    service = OrderService(due_orders, CursorCodec(b"k"), 86400, timedelta(minutes=30))
    held = service.place(Caller("bob"), PlaceOrder((("MUG", 1),), ADDRESS), None).order
    assert expire_reservations.handler(SCHEDULED_EVENT, Context(60_000))["expired"] == 3
    after = due_orders.get_order(held.id)
    assert after == held  # still PENDING, same version, same deadline
