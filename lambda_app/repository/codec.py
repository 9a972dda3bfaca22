"""Domain objects to DynamoDB items and back, in DynamoDB's low-level attribute-value format.

Written out by hand rather than through boto3's TypeSerializer: the shapes are few and fixed, and
this is on every request's path.
"""

from __future__ import annotations

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
from lambda_app.domain.timestamps import parse_rfc3339 as parse_timestamp
from lambda_app.domain.timestamps import rfc3339 as timestamp
from lambda_app.repository import keys
from lambda_app.repository.schema import TTL_ATTRIBUTE

Item = dict[str, Any]

# An order's reservation deadline, as RFC 3339 text. Never the table's TTL attribute
# (``expires_at``, epoch seconds on idempotency records): a number there would make DynamoDB
# delete the order itself. The API still calls the field ``expires_at``.
RESERVED_UNTIL = "reserved_until"
CANCELLATION_REASON = "cancellation_reason"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def product_to_item(product: Product) -> Item:
    item: Item = {name: _s(value) for name, value in keys.product_key(product.sku).items()}
    item.update({name: _s(value) for name, value in keys.product_index_keys(product.sku).items()})
    item.update(
        {
            "type": _s("PRODUCT"),
            "sku": _s(product.sku),
            "name": _s(product.name),
            "price": _n(product.price),
            "currency": _s(product.currency),
            "stock": _n(product.stock),
            "version": _n(product.version),
            "created_at": _s(timestamp(product.created_at)),
            "updated_at": _s(timestamp(product.updated_at)),
        }
    )
    return item


def item_to_product(item: Item) -> Product:
    return Product(
        sku=item["sku"]["S"],
        name=item["name"]["S"],
        price=int(item["price"]["N"]),
        currency=item["currency"]["S"],
        stock=int(item["stock"]["N"]),
        version=int(item["version"]["N"]),
        created_at=parse_timestamp(item["created_at"]["S"]),
        updated_at=parse_timestamp(item["updated_at"]["S"]),
    )


def address_to_attr(address: Address) -> dict[str, Any]:
    fields = {
        "name": _s(address.name),
        "line1": _s(address.line1),
        "city": _s(address.city),
        "postal_code": _s(address.postal_code),
        "country": _s(address.country),
    }
    if address.line2 is not None:
        fields["line2"] = _s(address.line2)
    return {"M": fields}


def _attr_to_address(attr: dict[str, Any]) -> Address:
    fields = attr["M"]
    return Address(
        name=fields["name"]["S"],
        line1=fields["line1"]["S"],
        line2=fields["line2"]["S"] if "line2" in fields else None,
        city=fields["city"]["S"],
        postal_code=fields["postal_code"]["S"],
        country=fields["country"]["S"],
    )


def order_attributes(order: Order) -> Item:
    """The order's own attributes, without keys: also the snapshot kept for idempotent replays."""
    return {
        "type": _s("ORDER"),
        "id": _s(order.id),
        "customer_id": _s(order.customer_id),
        "status": _s(order.status.value),
        "currency": _s(order.currency),
        "items": {
            "L": [
                {
                    "M": {
                        "sku": _s(line.sku),
                        "name": _s(line.name),
                        "quantity": _n(line.quantity),
                        "unit_price": _n(line.unit_price),
                    }
                }
                for line in order.items
            ]
        },
        "total": _n(order.total),
        "shipping_address": address_to_attr(order.shipping_address),
        "created_at": _s(timestamp(order.created_at)),
        "updated_at": _s(timestamp(order.updated_at)),
        "version": _n(order.version),
        **_state_attributes(order),
    }


def _state_attributes(order: Order) -> Item:
    # Absent rather than NULL when they do not apply: fewer bytes, same meaning on read.
    item: Item = {}
    if order.cancellation_reason is not None:
        item[CANCELLATION_REASON] = _s(order.cancellation_reason.value)
    if order.expires_at is not None:
        item[RESERVED_UNTIL] = _s(timestamp(order.expires_at))
    return item


def reservation_index_attributes(order: Order) -> Item:
    """The order's entry in the reservation index while it holds stock; nothing otherwise."""
    if order.expires_at is None:
        return {}
    index_keys = keys.reservation_index_keys(order.id, timestamp(order.expires_at))
    return {name: _s(value) for name, value in index_keys.items()}


# Attributes an order has only in some states. A write gives the order those of its new state
# and removes the others: ending a reservation removes its index keys, which takes the order out
# of the sparse reservation index.
STATE_ATTRIBUTES = (CANCELLATION_REASON, RESERVED_UNTIL, *keys.RESERVATION_INDEX_ATTRIBUTES)


def state_attributes(order: Order) -> tuple[Item, list[str]]:
    """(the state attributes the order has, the names of those it has not)."""
    present = {**_state_attributes(order), **reservation_index_attributes(order)}
    return present, [name for name in STATE_ATTRIBUTES if name not in present]


def order_to_item(order: Order) -> Item:
    item: Item = {name: _s(value) for name, value in keys.order_key(order.id).items()}
    index_keys = keys.order_index_keys(order.id, order.customer_id, order.status.value)
    item.update({name: _s(value) for name, value in index_keys.items()})
    item.update(order_attributes(order))
    item.update(reservation_index_attributes(order))
    return item


def item_to_order(item: Item) -> Order:
    return Order(
        id=item["id"]["S"],
        customer_id=item["customer_id"]["S"],
        status=OrderStatus(item["status"]["S"]),
        currency=item["currency"]["S"],
        items=tuple(
            OrderLine(
                sku=line["M"]["sku"]["S"],
                name=line["M"]["name"]["S"],
                quantity=int(line["M"]["quantity"]["N"]),
                unit_price=int(line["M"]["unit_price"]["N"]),
            )
            for line in item["items"]["L"]
        ),
        shipping_address=_attr_to_address(item["shipping_address"]),
        created_at=parse_timestamp(item["created_at"]["S"]),
        updated_at=parse_timestamp(item["updated_at"]["S"]),
        version=int(item["version"]["N"]),
        # Both absent on orders written before reservations expired: read as "none".
        expires_at=parse_timestamp(item[RESERVED_UNTIL]["S"]) if RESERVED_UNTIL in item else None,
        cancellation_reason=(
            CancellationReason(item[CANCELLATION_REASON]["S"])
            if CANCELLATION_REASON in item
            else None
        ),
    )


def idempotency_to_item(record: IdempotencyRecord) -> Item:
    item: Item = {
        name: _s(value)
        for name, value in keys.idempotency_key(record.caller_id, record.key).items()
    }
    item.update(
        {
            "type": _s("IDEMPOTENCY"),
            "fingerprint": _s(record.fingerprint),
            "order": {"M": order_attributes(record.order)},
            TTL_ATTRIBUTE: _n(record.expires_at),
        }
    )
    return item


def item_to_idempotency(item: Item, caller_id: str, key: str) -> IdempotencyRecord:
    return IdempotencyRecord(
        caller_id=caller_id,
        key=key,
        fingerprint=item["fingerprint"]["S"],
        order=item_to_order(item["order"]["M"]),
        expires_at=int(item[TTL_ATTRIBUTE]["N"]),
    )
