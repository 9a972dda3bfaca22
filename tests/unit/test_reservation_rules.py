"""The reservation rules of the domain, with the clock held where each case needs it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from lambda_app.domain.errors import InvalidTransition
from lambda_app.domain.models import (
    Address,
    Caller,
    CancellationReason,
    Order,
    OrderLine,
    OrderStatus,
    reservation_window,
)
from lambda_app.settings import Settings

PLACED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DEADLINE = PLACED + timedelta(minutes=30)
ADDRESS = Address(name="A", line1="1 Road", city="Town", postal_code="1", country="DE")


def pending(expires_at: datetime | None = DEADLINE) -> Order:
    return Order(
        id="01JDQ5N8W6ZK3B9X2M4T7R0001",
        customer_id="alice",
        status=OrderStatus.PENDING,
        currency="EUR",
        items=(OrderLine("A", "a", 2, 250),),
        shipping_address=ADDRESS,
        created_at=PLACED,
        updated_at=PLACED,
        expires_at=expires_at,
    )


def test_a_reservation_runs_out_at_its_deadline_not_before() -> None:
    order = pending()
    assert not order.reservation_expired(DEADLINE - timedelta(milliseconds=1))
    assert order.reservation_expired(DEADLINE)
    assert order.reservation_expired(DEADLINE + timedelta(days=3))


def test_expiring_cancels_with_reason_expired_and_ends_the_deadline() -> None:
    now = DEADLINE + timedelta(seconds=40)
    expired = pending().expired(now)
    assert expired.status is OrderStatus.CANCELLED
    assert expired.cancellation_reason is CancellationReason.EXPIRED
    assert expired.expires_at is None
    assert (expired.version, expired.updated_at) == (2, now)


def test_an_order_is_not_expired_before_its_deadline_nor_once_it_left_pending() -> None:
    with pytest.raises(InvalidTransition, match="reservation holds until"):
        pending().expired(DEADLINE - timedelta(seconds=1))
    confirmed = pending().moved_to(OrderStatus.CONFIRMED, PLACED + timedelta(minutes=1))
    with pytest.raises(InvalidTransition) as raised:
        confirmed.expired(DEADLINE + timedelta(hours=1))
    assert raised.value.current == OrderStatus.CONFIRMED
    cancelled = pending().cancelled(PLACED, Caller("alice"))
    with pytest.raises(InvalidTransition) as again:
        cancelled.expired(DEADLINE + timedelta(hours=1))
    assert again.value.current == OrderStatus.CANCELLED


def test_confirming_ends_the_deadline_and_an_address_change_keeps_it() -> None:
    assert pending().moved_to(OrderStatus.CONFIRMED, PLACED).expires_at is None
    assert pending().readdressed(replace(ADDRESS, line2="Flat 2"), PLACED).expires_at == DEADLINE


def test_a_cancel_records_who_cancelled() -> None:
    assert pending().cancelled(PLACED, Caller("alice")).cancellation_reason == "customer"
    staff = Caller("bob", is_admin=True)
    assert pending().cancelled(PLACED, staff).cancellation_reason == "staff"
    # Staff cancelling an order of their own do it as its customer.
    own = Caller("alice", is_admin=True)
    assert pending().cancelled(PLACED, own).cancellation_reason == "customer"
    cancelled = pending().cancelled(PLACED, Caller("alice"))
    assert cancelled.expires_at is None


def test_a_deadline_or_reason_never_outlives_the_status_it_belongs_to() -> None:
    confirmed = replace(pending(), status=OrderStatus.CONFIRMED)
    assert confirmed.expires_at is None
    reasoned = replace(pending(), cancellation_reason=CancellationReason.STAFF)
    assert reasoned.cancellation_reason is None


def test_an_order_placed_before_reservations_expired_never_runs_out() -> None:
    assert not pending(expires_at=None).reservation_expired(PLACED + timedelta(days=365))


@pytest.mark.parametrize(("value", "minutes"), [("1", 1), ("30", 30), (" 90 ", 90), (1440, 1440)])
def test_the_window_is_whole_minutes_from_1_to_1440(value: object, minutes: int) -> None:
    assert reservation_window(value) == timedelta(minutes=minutes)
    assert Settings(RESERVATION_MINUTES=value).reservation == timedelta(minutes=minutes)


def test_the_window_defaults_to_30_minutes() -> None:
    assert Settings().reservation == timedelta(minutes=30)


@pytest.mark.parametrize("value", ["0", "1441", "", "abc", "1.5", "-1", "30m", True])
def test_a_window_out_of_range_is_refused_naming_the_setting(value: object) -> None:
    with pytest.raises(ValidationError, match="RESERVATION_MINUTES must be a whole number"):
        Settings(RESERVATION_MINUTES=value)


def test_an_order_without_a_deadline_can_be_given_the_one_it_would_have_had() -> None:
    now = PLACED + timedelta(hours=2)
    given = pending(expires_at=None).with_deadline(timedelta(minutes=30), now)
    assert (given.expires_at, given.version, given.updated_at) == (DEADLINE, 2, now)
    assert given.reservation_expired(now)
    with pytest.raises(InvalidTransition):
        pending().with_deadline(timedelta(minutes=30), now)  # it has one already
    confirmed = pending(expires_at=None).moved_to(OrderStatus.CONFIRMED, now)
    with pytest.raises(InvalidTransition):
        confirmed.with_deadline(timedelta(minutes=30), now)
