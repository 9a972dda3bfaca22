"""Key design of the single table: every key value is built here and nowhere else.

Items and their keys (all key attributes are strings):

| item        | PK                          | SK            | GSI1PK / GSI1SK            | GSI2PK / GSI2SK                 | GSI3PK / GSI3SK               |
|-------------|-----------------------------|---------------|----------------------------|---------------------------------|-------------------------------|
| product     | PRODUCT#<sku>               | PRODUCT       | CATALOG#<shard> / <sku>    | -                               | -                             |
| order       | ORDER#<order id>            | ORDER         | CUSTOMER#<id> / <order id> | CUSTOMER#<id>#<status> / <oid>  | STATUS#<status>#<shard> / <oid>|
| idempotency | IDEMPOTENCY#<sha256>        | IDEMPOTENCY   | -                          | -                               | -                             |

and, only while an order is PENDING with a deadline, GSI4PK / GSI4SK =
``RESERVATION#<shard>`` / ``<deadline, RFC 3339 UTC>`` (the reservation index, keys only).

Access patterns:
- product by sku, order by id: one GetItem on the base table.
- catalog page: GSI1, ``CATALOG#<shard>`` ascending by sku, shards merged (see below).
- a customer's orders, newest first: GSI1, ``CUSTOMER#<id>`` descending. Order ids are ULIDs,
  so sorting by id is sorting by creation time.
- a customer's orders in one status: GSI2, ``CUSTOMER#<id>#<status>`` descending.
- every order in one status (staff): GSI3, ``STATUS#<status>#<shard>`` descending, shards merged.
- idempotency record: GetItem/conditional Put on the base table; expires through TTL.
- PENDING orders whose reservation ran out (the expiry job): GSI4, ``RESERVATION#<shard>`` with
  ``GSI4SK <= now``, ascending, every shard; then a strongly consistent BatchGetItem of those
  orders (the index holds keys only).

Why shards: an index partition that every write touches caps the whole table at one partition's
throughput (about 1,000 writes/s). Every order write lands in the status index, and every order
line decrements a product's stock, which rewrites that product's catalog index entry; so both are
spread over ``SHARDS`` partitions, picked from the item's own id so a key can be rebuilt from
the id alone. A page of those two lists is one Query per shard (issued together) and a k-way
merge, which keeps the global order (sku ascending, newest order first).

Why a reservation index of its own, rather than the status index: GSI3 already lists PENDING
orders, sorted by id, that is by creation time, at no new write cost. But an order's deadline is
its creation plus the window *in force when it was placed*, and RESERVATION_MINUTES changes per
stage and over time. A cutoff of "created before now - the current window" misses, after the
window grows from 10 to 30 minutes, every order placed under 10 until 20 minutes past its
deadline (the contract says within 2), and after it shrinks reads orders that are not due.
The only cutoff that is right whatever the history is the smallest window allowed (1 minute):
every run would then read every PENDING order (about 1.5 KB each, ALL projected) for as long
as it is pending, 30 reads per abandoned order at 30 minutes, 1,440 at 24 hours, and a run's
work would grow with the pending population (30,000 items a minute at 1,000 orders a minute),
which is largest exactly during a sale, when releasing stock matters most. A sparse index
keyed by the stored deadline is exact: a run reads only what is due, oldest first, whatever
windows were in force, and its work is bounded by what it expires. The price is index writes:
a ~100-byte keys-only entry put when an order is placed (1 write unit) and deleted when it
leaves PENDING (1 write unit), 2 write units per order; an address change keeps the deadline and
writes nothing to it. Measured figures: the closing note of issue 14. The deadline is stored as
text under ``reserved_until``, never under the TTL attribute (``expires_at``), which would make
DynamoDB delete the order. Sharded like the status index, since every placement writes to it.
"""

from __future__ import annotations

import hashlib
import zlib

from lambda_app.repository.schema import GSI1, GSI2, GSI3, GSI4, PARTITION_KEY, SORT_KEY

# Changing this re-keys the indexes: existing items would need a backfill. Four partitions give
# ~4,000 writes/s of headroom per index, far beyond what one table of this service needs.
SHARDS = 4

PRODUCT_SK = "PRODUCT"
ORDER_SK = "ORDER"
IDEMPOTENCY_SK = "IDEMPOTENCY"


def _shard(value: str) -> int:
    # crc32 is stable across processes (unlike hash()) and cheap; spread is all we need.
    return zlib.crc32(value.encode()) % SHARDS


def product_key(sku: str) -> dict[str, str]:
    return {PARTITION_KEY: f"PRODUCT#{sku}", SORT_KEY: PRODUCT_SK}


def catalog_partition(shard: int) -> str:
    return f"CATALOG#{shard}"


def product_index_keys(sku: str) -> dict[str, str]:
    return {GSI1.partition_key: catalog_partition(_shard(sku)), GSI1.sort_key: sku}


def order_key(order_id: str) -> dict[str, str]:
    return {PARTITION_KEY: f"ORDER#{order_id}", SORT_KEY: ORDER_SK}


def customer_partition(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


def customer_status_partition(customer_id: str, status: str) -> str:
    return f"CUSTOMER#{customer_id}#{status}"


def status_partition(status: str, shard: int) -> str:
    return f"STATUS#{status}#{shard}"


def order_status_keys(order_id: str, customer_id: str, status: str) -> dict[str, str]:
    """The index keys that change when an order's status changes."""
    return {
        GSI2.partition_key: customer_status_partition(customer_id, status),
        GSI2.sort_key: order_id,
        GSI3.partition_key: status_partition(status, _shard(order_id)),
        GSI3.sort_key: order_id,
    }


def order_index_keys(order_id: str, customer_id: str, status: str) -> dict[str, str]:
    return {
        GSI1.partition_key: customer_partition(customer_id),
        GSI1.sort_key: order_id,
        **order_status_keys(order_id, customer_id, status),
    }


def reservation_partition(shard: int) -> str:
    return f"RESERVATION#{shard}"


def reservation_index_keys(order_id: str, deadline: str) -> dict[str, str]:
    """An order's entry in the reservation index: ``deadline`` is RFC 3339 UTC text, which
    sorts as time does (fixed width, one zone)."""
    return {
        GSI4.partition_key: reservation_partition(_shard(order_id)),
        GSI4.sort_key: deadline,
    }


RESERVATION_INDEX_ATTRIBUTES = (GSI4.partition_key, GSI4.sort_key)


def idempotency_key(caller_id: str, key: str) -> dict[str, str]:
    # Hashed: keys are client-chosen (up to 255 chars) and must not shape our key space.
    digest = hashlib.sha256(f"{caller_id}\n{key}".encode()).hexdigest()
    return {PARTITION_KEY: f"IDEMPOTENCY#{digest}", SORT_KEY: IDEMPOTENCY_SK}
