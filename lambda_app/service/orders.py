"""Orders: placing, reading, listing, cancelling and moving them, under the domain's rules."""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from lambda_app.domain.errors import (
    ConcurrentUpdate,
    Forbidden,
    IdempotencyKeyReused,
    IdempotencyKeyTaken,
    NotFound,
    PreconditionFailed,
    StaleWrite,
)
from lambda_app.domain.ids import ULID_PATTERN, new_ulid
from lambda_app.domain.models import (
    Address,
    Caller,
    IdempotencyRecord,
    Order,
    OrderStatus,
    PlaceOrder,
    merge_lines,
    price_lines,
)
from lambda_app.repository.dynamodb import DynamoRepository
from lambda_app.service.clock import Clock, utcnow
from lambda_app.service.cursors import CursorCodec
from lambda_app.service.pages import Page

_ORDER_ID = re.compile(ULID_PATTERN)
# Attempts when other writers keep winning races on the same items (optimistic concurrency).
MAX_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    order: Order
    replayed: bool


def fingerprint(request: PlaceOrder) -> str:
    """What makes two requests "the same body" for an Idempotency-Key: the lines as sent and
    the address, in a fixed JSON layout (stable across releases, unlike a repr)."""
    address = request.shipping_address
    canonical = json.dumps(
        [
            request.lines,
            [address.name, address.line1, address.line2, address.city],
            [address.postal_code, address.country],
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _backoff(attempt: int) -> None:
    # Full jitter: concurrent losers spread out instead of colliding again. The OS's randomness,
    # not the seeded module generator: after a SnapStart restore every environment would draw the
    # same delays from the snapshot's state and collide in step.
    time.sleep(random.SystemRandom().uniform(0, 0.01 * 2**attempt))


class OrderService:
    def __init__(
        self,
        repository: DynamoRepository,
        cursors: CursorCodec,
        idempotency_ttl_seconds: int,
        reservation: timedelta,
        new_id: Callable[[], str] = new_ulid,
        clock: Clock = utcnow,
    ) -> None:
        self._repository = repository
        self._cursors = cursors
        self._ttl = idempotency_ttl_seconds
        self._reservation = reservation  # how long a new order holds its stock
        self._new_id = new_id
        self._clock = clock

    # -- placing ----------------------------------------------------------------------------

    def place(
        self, caller: Caller, request: PlaceOrder, idempotency_key: str | None
    ) -> PlacedOrder:
        quantities = merge_lines(request.lines)
        # Only a keyed request is ever compared with an earlier one.
        request_fingerprint = fingerprint(request) if idempotency_key is not None else ""
        for attempt in range(MAX_ATTEMPTS):
            catalog, record = self._repository.read_for_order(
                quantities, caller.id, idempotency_key
            )
            now = self._clock()
            now_epoch = int(now.timestamp())
            if record is not None and record.expires_at > now_epoch:
                return _replay(record, request_fingerprint)
            lines = price_lines(quantities, catalog)
            order = Order(
                id=self._new_id(),
                customer_id=caller.id,
                status=OrderStatus.PENDING,
                currency=catalog[lines[0].sku].currency,
                items=tuple(lines),
                shipping_address=request.shipping_address,
                created_at=now,
                updated_at=now,
                expires_at=now + self._reservation,
            )
            new_record = None
            if idempotency_key is not None:
                new_record = IdempotencyRecord(
                    caller.id, idempotency_key, request_fingerprint, order, now_epoch + self._ttl
                )
            try:
                self._repository.create_order(order, new_record, now_epoch)
            except IdempotencyKeyTaken as taken:
                return _replay(taken.record, request_fingerprint)
            except ConcurrentUpdate:
                if attempt + 1 == MAX_ATTEMPTS:
                    raise
                _backoff(attempt)
                continue
            return PlacedOrder(order, replayed=False)
        raise ConcurrentUpdate("Too many concurrent changes; retry")  # pragma: no cover

    # -- reading ----------------------------------------------------------------------------

    def get(self, caller: Caller, order_id: str) -> Order:
        order = self._repository.get_order(order_id) if _ORDER_ID.match(order_id) else None
        # Someone else's order is "not found": its existence is not revealed.
        if order is None or not order.visible_to(caller):
            raise NotFound(f"No order {order_id}")
        return order

    def list(
        self,
        caller: Caller,
        *,
        customer_id: str | None,
        status: OrderStatus | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Order]:
        if customer_id is not None and customer_id != caller.id and not caller.is_admin:
            raise Forbidden("Only staff can list another customer's orders")
        if customer_id is None and not (caller.is_admin and status is not None):
            customer_id = caller.id  # everyone's default: their own orders
        query = f"orders|{customer_id or ''}|{status.value if status else ''}"
        before = self._cursors.decode(cursor, caller.id, query) if cursor else None
        if customer_id is None:
            assert status is not None
            found = self._repository.list_orders_by_status(status, before, limit)
        else:
            found = self._repository.list_customer_orders(customer_id, status, before, limit)
        next_cursor = (
            self._cursors.encode(caller.id, query, found.items[-1].id) if found.has_more else None
        )
        return Page(found.items, next_cursor)

    # -- changing ---------------------------------------------------------------------------

    def cancel(self, caller: Caller, order_id: str, if_match: int | None) -> Order:
        def attempt() -> Order:
            order = self._current(caller, order_id, if_match)
            cancelled = order.cancelled(self._clock(), by=caller)
            self._repository.save_cancellation(cancelled, order)
            return cancelled

        return self._with_retries(attempt)

    def change_address(
        self, caller: Caller, order_id: str, address: Address, if_match: int | None
    ) -> Order:
        def attempt() -> Order:
            order = self._current(caller, order_id, if_match)
            if order.customer_id != caller.id:
                raise Forbidden("Only the customer who placed the order can change its address")
            changed = order.readdressed(address, self._clock())
            self._repository.save_order(changed, order.version)
            return changed

        return self._with_retries(attempt)

    def move(
        self, caller: Caller, order_id: str, target: OrderStatus, if_match: int | None
    ) -> Order:
        if not caller.is_admin:
            # Not revealing existence to a customer poking at someone else's order comes first.
            self.get(caller, order_id)
            raise Forbidden("Only staff can change an order's status")

        def attempt() -> Order:
            order = self._current(caller, order_id, if_match)
            moved = order.moved_to(target, self._clock())
            self._repository.save_order(moved, order.version)
            return moved

        return self._with_retries(attempt)

    def _current(self, caller: Caller, order_id: str, if_match: int | None) -> Order:
        order = self.get(caller, order_id)
        if if_match is not None and order.version != if_match:
            raise PreconditionFailed(order.version)
        return order

    @staticmethod
    def _with_retries(attempt: Callable[[], Order]) -> Order:
        """Optimistic concurrency: re-read and re-decide when someone wrote in between."""
        for number in range(MAX_ATTEMPTS):
            try:
                return attempt()
            except (StaleWrite, ConcurrentUpdate):
                if number + 1 == MAX_ATTEMPTS:
                    break
                _backoff(number)
        raise ConcurrentUpdate("The order kept changing while this request ran; retry")


def _replay(record: IdempotencyRecord, request_fingerprint: str) -> PlacedOrder:
    if record.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body",
            [("Idempotency-Key", "already used with another body")],
        )
    return PlacedOrder(record.order, replayed=True)
