"""The order domain: entities and the rules that govern them. Imports nothing of ours but domain."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from lambda_app.domain.errors import InsufficientStock, InvalidRequest, InvalidTransition

MAX_LINES = 50
MAX_QUANTITY = 1000


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


# Staff move an order forward one step at a time; cancelling is its own operation.
NEXT_STATUS: Mapping[OrderStatus, OrderStatus] = {
    OrderStatus.PENDING: OrderStatus.CONFIRMED,
    OrderStatus.CONFIRMED: OrderStatus.SHIPPED,
    OrderStatus.SHIPPED: OrderStatus.DELIVERED,
}
CANCELLABLE = frozenset({OrderStatus.PENDING, OrderStatus.CONFIRMED})

# How long a PENDING order may hold its stock (RESERVATION_MINUTES): the contract's bounds.
MIN_RESERVATION_MINUTES = 1
MAX_RESERVATION_MINUTES = 1440


def reservation_window(minutes: object, setting: str = "RESERVATION_MINUTES") -> timedelta:
    """The window a setting's value (text or a number) names: whole minutes, 1..1440."""
    text = str(minutes).strip()
    low, high = MIN_RESERVATION_MINUTES, MAX_RESERVATION_MINUTES
    if isinstance(minutes, bool) or not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(
            f"{setting} must be a whole number of minutes from {low} to {high}, got {minutes!r}"
        )
    return timedelta(minutes=int(text))


class CancellationReason(StrEnum):
    """Who ended an order: its customer, staff, or its reservation running out."""

    CUSTOMER = "customer"
    STAFF = "staff"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: the verified subject and whether they are staff."""

    id: str
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    price: int
    currency: str
    stock: int
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ProductChange:
    name: str | None = None
    price: int | None = None
    stock_delta: int | None = None


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    name: str
    quantity: int
    unit_price: int

    @property
    def line_total(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    customer_id: str
    status: OrderStatus
    currency: str
    items: tuple[OrderLine, ...]
    shipping_address: Address
    created_at: datetime
    updated_at: datetime
    version: int = 1
    # Until when a PENDING order holds its stock: placed + the reservation window in force then.
    # None for orders placed before reservations expired (they carry no deadline).
    expires_at: datetime | None = None
    cancellation_reason: CancellationReason | None = None
    total: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", sum(line.line_total for line in self.items))
        # A deadline means nothing once the order has left PENDING, nor a reason before it is
        # cancelled: every transition below drops them by building a new Order.
        if self.status is not OrderStatus.PENDING:
            object.__setattr__(self, "expires_at", None)
        if self.status is not OrderStatus.CANCELLED:
            object.__setattr__(self, "cancellation_reason", None)

    def visible_to(self, caller: Caller) -> bool:
        return caller.is_admin or caller.id == self.customer_id

    def reservation_expired(self, now: datetime) -> bool:
        """Still PENDING with its hold run out: the order's stock is due back."""
        return self.expires_at is not None and self.expires_at <= now

    def cancelled(self, now: datetime, by: Caller) -> Order:
        """Cancelled by a person: its own customer, or staff acting on someone else's order."""
        reason = (
            CancellationReason.CUSTOMER if by.id == self.customer_id else CancellationReason.STAFF
        )
        return self._cancelled(now, reason)

    def expired(self, now: datetime) -> Order:
        """Cancelled because its reservation ran out; only a PENDING order past its deadline."""
        if not self.reservation_expired(now):
            deadline = "" if self.expires_at is None else f" until {self.expires_at.isoformat()}"
            raise InvalidTransition(
                self.status, f"Order is {self.status}; its reservation holds{deadline}"
            )
        return self._cancelled(now, CancellationReason.EXPIRED)

    def with_deadline(self, window: timedelta, now: datetime) -> Order:
        """A PENDING order placed before reservations expired, given the deadline it would have
        had: placed + ``window`` (already past for an order older than the window)."""
        if self.status is not OrderStatus.PENDING or self.expires_at is not None:
            raise InvalidTransition(
                self.status, f"Order is {self.status}; it has no reservation to add"
            )
        return replace(
            self, expires_at=self.created_at + window, updated_at=now, version=self.version + 1
        )

    def _cancelled(self, now: datetime, reason: CancellationReason) -> Order:
        if self.status not in CANCELLABLE:
            raise InvalidTransition(
                self.status,
                f"Order is {self.status}; only PENDING or CONFIRMED orders can be cancelled",
            )
        return replace(
            self,
            status=OrderStatus.CANCELLED,
            cancellation_reason=reason,
            updated_at=now,
            version=self.version + 1,
        )

    def moved_to(self, target: OrderStatus, now: datetime) -> Order:
        if NEXT_STATUS.get(self.status) != target:
            allowed = NEXT_STATUS.get(self.status)
            hint = f"the only allowed move is to {allowed}" if allowed else "it cannot move further"
            raise InvalidTransition(
                self.status, f"Order is {self.status}; cannot move to {target}: {hint}"
            )
        return replace(self, status=target, updated_at=now, version=self.version + 1)

    def readdressed(self, address: Address, now: datetime) -> Order:
        if self.status is not OrderStatus.PENDING:
            raise InvalidTransition(
                self.status, f"Order is {self.status}; the address can only change while PENDING"
            )
        return replace(self, shipping_address=address, updated_at=now, version=self.version + 1)


def merge_lines(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Quantities per sku, a sku listed twice merged into one line; limits apply after merging."""
    merged: dict[str, int] = {}
    for sku, quantity in lines:
        merged[sku] = merged.get(sku, 0) + quantity
    if not merged:
        raise InvalidRequest("An order needs at least one line", [("items", "must not be empty")])
    if len(merged) > MAX_LINES:
        raise InvalidRequest(
            f"An order has at most {MAX_LINES} distinct skus", [("items", "too many lines")]
        )
    over = [sku for sku, quantity in merged.items() if quantity > MAX_QUANTITY]
    if over:
        raise InvalidRequest(
            f"Quantity per sku is at most {MAX_QUANTITY} after merging duplicate lines: "
            + ", ".join(over),
            [(f"items[{sku}].quantity", f"at most {MAX_QUANTITY}") for sku in over],
        )
    return merged


def price_lines(quantities: Mapping[str, int], catalog: Mapping[str, Product]) -> list[OrderLine]:
    """Order lines at the catalog's prices; every sku must exist, share a currency and be in stock."""
    unknown = [sku for sku in quantities if sku not in catalog]
    if unknown:
        raise InvalidRequest(
            "Unknown sku: " + ", ".join(unknown),
            [("items.sku", f"unknown sku {sku}") for sku in unknown],
        )
    currencies = {catalog[sku].currency for sku in quantities}
    if len(currencies) > 1:
        raise InvalidRequest(
            "All lines of an order must share one currency; found " + ", ".join(sorted(currencies)),
            [("items", "mixed currencies")],
        )
    short = [sku for sku, quantity in quantities.items() if catalog[sku].stock < quantity]
    if short:
        raise InsufficientStock(short)
    return [
        OrderLine(sku=sku, name=catalog[sku].name, quantity=qty, unit_price=catalog[sku].price)
        for sku, qty in quantities.items()
    ]


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """A caller's request to place an order, as received (before lines are merged)."""

    lines: tuple[tuple[str, int], ...]
    shipping_address: Address


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """Proof that a caller's Idempotency-Key created an order, and what the answer was."""

    caller_id: str
    key: str
    fingerprint: str
    order: Order
    expires_at: int  # epoch seconds; also the table's TTL attribute
