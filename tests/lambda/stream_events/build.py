"""Builds the DynamoDB stream events in this folder from our own codec, so they hold exactly the
items the service writes, shaped like AWS's sample stream events (``aws:dynamodb`` records,
NEW_AND_OLD_IMAGES, low-level attribute values).

Regenerate after changing the item shapes (a test fails until you do)::

    .venv/bin/python -m tests.lambda.stream_events.build
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lambda_app.domain.models import (
    Address,
    CancellationReason,
    IdempotencyRecord,
    Order,
    OrderLine,
    OrderStatus,
    Product,
)
from lambda_app.repository import codec, keys

HERE = Path(__file__).parent
REGION = "us-east-1"
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-11-25T07:00:00.000"
TTL_DELETION = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
T0 = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
ADDRESS = Address(
    name="Ada Lovelace",
    line1="12 St James's Square",
    city="London",
    postal_code="SW1Y 4JH",
    country="GB",
)
MUG = Product("MUG-LOGO", "Logo mug", 1250, "EUR", 10, 1, T0, T0)
RESERVATION = timedelta(minutes=30)


def order(number: int = 1, **changes: Any) -> Order:
    placed = T0 + timedelta(minutes=number)
    base = Order(
        id=f"01JDQ5N8W6ZK3B9X2M4T7R{number:04d}",
        customer_id=f"customer-{number}",
        status=OrderStatus.PENDING,
        currency="EUR",
        items=(OrderLine("MUG-LOGO", "Logo mug", 2, 1250),),
        shipping_address=ADDRESS,
        created_at=placed,
        updated_at=placed,
        expires_at=placed + RESERVATION,
    )
    return replace(base, **changes)


class Stream:
    """Numbers the records as one shard would: event ids and sequence numbers ascending."""

    def __init__(self, first: int) -> None:
        self.number = first

    def record(
        self,
        name: str,
        key: dict[str, str],
        new: dict[str, Any] | None = None,
        old: dict[str, Any] | None = None,
        *,
        when: datetime = T0,
        identity: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        self.number += 1
        change: dict[str, Any] = {
            "ApproximateCreationDateTime": int(when.timestamp()),
            "Keys": {name: {"S": value} for name, value in key.items()},
        }
        if new is not None:
            change["NewImage"] = new
        if old is not None:
            change["OldImage"] = old
        change["SequenceNumber"] = f"{4421584500000000017450439000 + self.number}"
        change["SizeBytes"] = len(json.dumps(change["Keys"])) + len(json.dumps([new, old]))
        change["StreamViewType"] = "NEW_AND_OLD_IMAGES"
        record: dict[str, Any] = {
            "eventID": f"{self.number:032x}",
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": change,
            "eventSourceARN": STREAM_ARN,
        }
        if identity is not None:
            record["userIdentity"] = identity
        return record

    def order(self, name: str, new: Order | None, old: Order | None = None) -> dict[str, Any]:
        found = new or old
        assert found is not None
        return self.record(
            name,
            keys.order_key(found.id),
            codec.order_to_item(new) if new else None,
            codec.order_to_item(old) if old else None,
            when=found.updated_at,
        )

    def product(self, name: str, new: Product | None, old: Product | None = None) -> dict[str, Any]:
        found = new or old
        assert found is not None
        return self.record(
            name,
            keys.product_key(found.sku),
            codec.product_to_item(new) if new else None,
            codec.product_to_item(old) if old else None,
        )


def _stock(product: Product, delta: int) -> Product:
    return replace(product, stock=product.stock + delta, version=product.version + 1)


def build() -> dict[str, dict[str, Any]]:
    placed = order()
    record = IdempotencyRecord("customer-1", "checkout-1", "f" * 64, placed, 1795679400)
    idempotency_key = keys.idempotency_key(record.caller_id, record.key)
    confirmed = replace(
        placed, status=OrderStatus.CONFIRMED, version=2, updated_at=T0 + timedelta(hours=1)
    )
    cancelled = replace(
        confirmed,
        status=OrderStatus.CANCELLED,
        cancellation_reason=CancellationReason.STAFF,
        version=3,
        updated_at=T0 + timedelta(hours=2),
    )
    assert placed.expires_at is not None
    expired = placed.expired(placed.expires_at + timedelta(seconds=40))
    readdressed = replace(
        placed,
        shipping_address=replace(ADDRESS, line2="Flat 2"),
        version=2,
        updated_at=T0 + timedelta(minutes=5),
    )
    events: dict[str, list[dict[str, Any]]] = {}

    # POST /orders: one transaction, three items: the order, the product's stock, the key.
    s = Stream(100)
    events["order_placed"] = [
        s.order("INSERT", placed),
        s.product("MODIFY", _stock(MUG, -2), MUG),
        s.record("INSERT", idempotency_key, codec.idempotency_to_item(record)),
    ]
    s = Stream(200)
    events["order_confirmed"] = [s.order("MODIFY", confirmed, placed)]
    # POST /orders/{id}/cancel: the order and its stock returned, one transaction.
    s = Stream(300)
    events["order_cancelled"] = [
        s.order("MODIFY", cancelled, confirmed),
        s.product("MODIFY", MUG, _stock(MUG, -2)),
    ]
    # The expiry job: the same transaction as a cancel, reason "expired".
    s = Stream(350)
    events["order_expired"] = [
        s.order("MODIFY", expired, placed),
        s.product("MODIFY", MUG, _stock(MUG, -2)),
    ]
    # An order written before reservations expired: no deadline, no reason, no reservation
    # index entry; confirmed by staff.
    s = Stream(370)
    legacy = replace(placed, expires_at=None)
    events["legacy_order_confirmed"] = [
        s.order("MODIFY", replace(confirmed, expires_at=None), legacy)
    ]
    s = Stream(400)
    events["order_readdressed"] = [s.order("MODIFY", readdressed, placed)]
    # DynamoDB's TTL deleting an expired Idempotency-Key record.
    s = Stream(500)
    events["idempotency_expired"] = [
        s.record(
            "REMOVE",
            idempotency_key,
            old=codec.idempotency_to_item(record),
            identity=TTL_DELETION,
        )
    ]
    s = Stream(600)
    events["catalog_changes"] = [
        s.product("INSERT", MUG),
        s.product("MODIFY", replace(MUG, price=1350, version=2), MUG),
        s.product("REMOVE", None, replace(MUG, price=1350, version=2)),
    ]
    s = Stream(700)
    events["order_removed"] = [s.order("REMOVE", None, placed)]
    # Twelve orders placed in a row: two PutEvents calls (10 + 2), product changes between.
    s = Stream(800)
    busy: list[dict[str, Any]] = []
    stock = replace(MUG, stock=100)
    for number in range(1, 13):
        busy.append(s.order("INSERT", order(number)))
        busy.append(s.product("MODIFY", _stock(stock, -2), stock))
        stock = _stock(stock, -2)
    events["busy_batch"] = busy
    return {name: {"Records": records} for name, records in events.items()}


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2) + "\n"


def main() -> None:
    for name, event in build().items():
        (HERE / f"{name}.json").write_text(render(event))


if __name__ == "__main__":
    main()
