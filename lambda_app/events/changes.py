"""Order changes (DynamoDB stream records, NEW_AND_OLD_IMAGES) to domain events. Pure: no I/O.

Rules (docs/events.md is the public statement of them):
- Only order items produce events; products and idempotency records (their TTL deletions
  included) produce nothing. An order is recognised by its key, present in every record.
- INSERT of an order: ``OrderPlaced``.
- MODIFY where the status changes: ``OrderCancelled`` when it becomes CANCELLED, otherwise
  ``OrderStatusChanged``. A MODIFY that keeps the status (an address change) produces nothing:
  the address is personal data and no consumer needs to hear about it.
- REMOVE of an order produces nothing: the service never deletes orders.
- The event id is the order id and version: the same change gives the same id however often
  its record is delivered, so consumers can deduplicate.
- Every event carries ``expires_at`` and ``cancellation_reason`` as the order's representation
  has them after the change; an expired reservation is an ``OrderCancelled`` with reason
  ``expired``, produced from its stream record like any other cancel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from lambda_app.domain.models import Order, OrderStatus
from lambda_app.domain.timestamps import rfc3339
from lambda_app.repository.codec import item_to_order
from lambda_app.repository.keys import ORDER_SK
from lambda_app.repository.schema import SORT_KEY

SOURCE = "order-service"
SCHEMA_VERSION = "1"


class EventType(StrEnum):
    ORDER_PLACED = "OrderPlaced"
    ORDER_CANCELLED = "OrderCancelled"
    ORDER_STATUS_CHANGED = "OrderStatusChanged"


@dataclass(frozen=True, slots=True)
class DomainEvent:
    detail_type: EventType
    detail: dict[str, Any]
    time: datetime

    @property
    def event_id(self) -> str:
        event_id: str = self.detail["event_id"]
        return event_id


def event_id(order_id: str, version: int) -> str:
    """Stable across redeliveries of a record (and across streams: a restored table or a
    replica region derive the same id for the same change)."""
    return f"{order_id}:{version}"


def is_order_record(record: Mapping[str, Any]) -> bool:
    keys = (record.get("dynamodb") or {}).get("Keys") or {}
    return bool((keys.get(SORT_KEY) or {}).get("S") == ORDER_SK)


def event_for_record(record: Mapping[str, Any]) -> DomainEvent | None:
    """The event one stream record stands for, or None. Raises on an order record it cannot
    read (a missing image means the stream is not NEW_AND_OLD_IMAGES: fail loudly)."""
    if not is_order_record(record):
        return None
    change = record["dynamodb"]
    name = record.get("eventName")
    if name == "INSERT":
        return _event(EventType.ORDER_PLACED, None, item_to_order(change["NewImage"]))
    if name == "MODIFY":
        old = item_to_order(change["OldImage"])
        new = item_to_order(change["NewImage"])
        if old.status is new.status:
            return None
        kind = (
            EventType.ORDER_CANCELLED
            if new.status is OrderStatus.CANCELLED
            else EventType.ORDER_STATUS_CHANGED
        )
        return _event(kind, old.status, new)
    return None


def _event(kind: EventType, old_status: OrderStatus | None, order: Order) -> DomainEvent:
    return DomainEvent(
        detail_type=kind,
        detail={
            "schema_version": SCHEMA_VERSION,
            "event_id": event_id(order.id, order.version),
            "order_id": order.id,
            "customer_id": order.customer_id,
            "old_status": old_status.value if old_status is not None else None,
            "new_status": order.status.value,
            "total": order.total,
            "currency": order.currency,
            "version": order.version,
            "time": rfc3339(order.updated_at),
            # As the order's representation has them: a deadline while PENDING (OrderPlaced),
            # who cancelled once CANCELLED (OrderCancelled: customer, staff or expired).
            "expires_at": rfc3339(order.expires_at) if order.expires_at else None,
            "cancellation_reason": (
                order.cancellation_reason.value if order.cancellation_reason else None
            ),
        },
        time=order.updated_at,
    )
