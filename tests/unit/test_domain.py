"""Domain rules, without AWS."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from lambda_app.domain.errors import InsufficientStock, InvalidRequest, InvalidTransition
from lambda_app.domain.ids import ULID_PATTERN, new_ulid
from lambda_app.domain.models import (
    Address,
    Caller,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    merge_lines,
    price_lines,
)
from lambda_app.domain.timestamps import rfc3339

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ADDRESS = Address(name="A", line1="1 Road", city="Town", postal_code="1", country="DE")


def product(sku: str, stock: int = 5, price: int = 250, currency: str = "EUR") -> Product:
    return Product(sku, f"name {sku}", price, currency, stock, 1, NOW, NOW)


def order(status: OrderStatus = OrderStatus.PENDING) -> Order:
    return Order(
        id=new_ulid(),
        customer_id="alice",
        status=status,
        currency="EUR",
        items=(OrderLine("A", "a", 2, 250), OrderLine("B", "b", 1, 1000)),
        shipping_address=ADDRESS,
        created_at=NOW,
        updated_at=NOW,
    )


def test_duplicate_skus_merge_into_one_line() -> None:
    assert merge_lines([("A", 1), ("B", 2), ("A", 3)]) == {"A": 4, "B": 2}


def test_merged_quantity_over_1000_is_rejected_naming_the_sku() -> None:
    with pytest.raises(InvalidRequest, match="A"):
        merge_lines([("A", 600), ("A", 401)])


def test_more_than_50_distinct_lines_is_rejected_but_50_is_fine() -> None:
    assert len(merge_lines([(f"S{i}", 1) for i in range(50)])) == 50
    with pytest.raises(InvalidRequest):
        merge_lines([(f"S{i}", 1) for i in range(51)])


def test_51_raw_lines_that_merge_to_fewer_are_fine() -> None:
    assert merge_lines([("A", 1)] * 51) == {"A": 51}


def test_pricing_uses_catalog_prices_and_totals() -> None:
    lines = price_lines({"A": 2, "B": 1}, {"A": product("A"), "B": product("B", price=1000)})
    assert [(line.sku, line.unit_price, line.line_total) for line in lines] == [
        ("A", 250, 500),
        ("B", 1000, 1000),
    ]


def test_unknown_sku_names_it() -> None:
    with pytest.raises(InvalidRequest, match="NOPE"):
        price_lines({"NOPE": 1}, {})


def test_short_stock_names_every_short_sku() -> None:
    catalog = {"A": product("A", stock=1), "B": product("B", stock=0), "C": product("C")}
    with pytest.raises(InsufficientStock) as raised:
        price_lines({"A": 2, "B": 1, "C": 1}, catalog)
    assert raised.value.skus == ["A", "B"]


def test_mixed_currencies_are_rejected() -> None:
    catalog = {"A": product("A"), "B": product("B", currency="USD")}
    with pytest.raises(InvalidRequest, match="currency"):
        price_lines({"A": 1, "B": 1}, catalog)


def test_order_total_is_sum_of_lines() -> None:
    assert order().total == 1500


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (OrderStatus.PENDING, OrderStatus.CONFIRMED),
        (OrderStatus.CONFIRMED, OrderStatus.SHIPPED),
        (OrderStatus.SHIPPED, OrderStatus.DELIVERED),
    ],
)
def test_status_moves_one_step_forward(start: OrderStatus, target: OrderStatus) -> None:
    moved = order(start).moved_to(target, NOW)
    assert moved.status is target
    assert moved.version == 2


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (OrderStatus.PENDING, OrderStatus.SHIPPED),
        (OrderStatus.CONFIRMED, OrderStatus.PENDING),
        (OrderStatus.DELIVERED, OrderStatus.SHIPPED),
        (OrderStatus.CANCELLED, OrderStatus.CONFIRMED),
        (OrderStatus.PENDING, OrderStatus.CANCELLED),
    ],
)
def test_other_status_moves_are_refused_naming_the_current_status(
    start: OrderStatus, target: OrderStatus
) -> None:
    with pytest.raises(InvalidTransition) as raised:
        order(start).moved_to(target, NOW)
    assert raised.value.current == start


def test_only_pending_or_confirmed_orders_cancel() -> None:
    alice = Caller("alice")
    assert order(OrderStatus.CONFIRMED).cancelled(NOW, alice).status is OrderStatus.CANCELLED
    for status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED):
        with pytest.raises(InvalidTransition):
            order(status).cancelled(NOW, alice)


def test_address_changes_only_while_pending() -> None:
    assert order().readdressed(ADDRESS, NOW).version == 2
    with pytest.raises(InvalidTransition):
        order(OrderStatus.CONFIRMED).readdressed(ADDRESS, NOW)


def test_ulids_are_valid_unique_and_time_ordered() -> None:
    ids = [new_ulid(now_ms=1_000 + i) for i in range(100)]
    assert all(re.match(ULID_PATTERN, i) for i in ids)
    assert ids == sorted(ids)
    assert len({new_ulid(now_ms=5) for _ in range(1000)}) == 1000


def test_timestamps_are_utc_whatever_zone_or_fold_they_come_in() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 02:30 happens twice on 2026-10-25 in Berlin: first at 00:30Z, then at 01:30Z.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=berlin, fold=0)
    second = datetime(2026, 10, 25, 2, 30, tzinfo=berlin, fold=1)
    assert rfc3339(first) == "2026-10-25T00:30:00.000Z"
    assert rfc3339(second) == "2026-10-25T01:30:00.000Z"
    assert (
        rfc3339(datetime(2026, 11, 25, 7, 0, 0, 123456, tzinfo=UTC)) == "2026-11-25T07:00:00.123Z"
    )
