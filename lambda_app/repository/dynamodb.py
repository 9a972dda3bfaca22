"""The only module that talks to DynamoDB: every read and write of the service, one call each.

Round trips per operation (held by tests/integration/test_round_trips.py):
- get product / get order: one GetItem.
- place order: one BatchGetItem (the products and the caller's idempotency record, strongly
  consistent) and one TransactWriteItems (the order, each line's conditional stock decrement and
  the idempotency record).
- cancel: the service's GetItem, then one TransactWriteItems (order + stock returned).
- expire reservations: per page of due orders, one Query of the reservation index per shard and
  one strongly consistent BatchGetItem; then one TransactWriteItems per order, as a cancel.
- product change: one UpdateItem (atomic stock delta under condition).
- order change: the service's GetItem, then one UpdateItem guarded by the version read.
- a list page: one Query, or one Query per shard for the sharded indexes (see keys.py).
"""

from __future__ import annotations

import heapq
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from lambda_app.domain.errors import (
    AlreadyExists,
    ConcurrentUpdate,
    Conflict,
    IdempotencyKeyTaken,
    InsufficientStock,
    NotFound,
    PreconditionFailed,
    StaleWrite,
    StoreUnavailable,
)
from lambda_app.domain.models import (
    IdempotencyRecord,
    Order,
    OrderStatus,
    Product,
    ProductChange,
)
from lambda_app.domain.timestamps import rfc3339
from lambda_app.repository import codec, keys
from lambda_app.repository.schema import (
    GSI1,
    GSI2,
    GSI3,
    GSI4,
    PARTITION_KEY,
    SORT_KEY,
    TTL_ATTRIBUTE,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

T = TypeVar("T")
Item = dict[str, Any]

# Error codes that mean "try again later", after the SDK's own retries gave up.
_UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        # The SDK retried a transaction with its token while the first try was still running.
        "TransactionInProgressException",
    }
)
_UNAVAILABLE_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    """Up to `limit` items of a list, and whether more follow."""

    items: list[T]
    has_more: bool


class DynamoRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name
        # Shard queries of one page run side by side; threads start lazily on first use.
        self._pool = ThreadPoolExecutor(max_workers=keys.SHARDS, thread_name_prefix="shard")

    # -- plumbing ---------------------------------------------------------------------------

    def _call(self, operation: Callable[..., Any], **params: Any) -> Any:
        try:
            return operation(**params)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _UNAVAILABLE_CODES:
                raise StoreUnavailable(
                    "The database is busy; retry after the indicated time", 1
                ) from error
            if code == "TransactionConflictException":
                # A PutItem/UpdateItem on an item that an ongoing transaction holds.
                raise ConcurrentUpdate("A concurrent transaction won; retry") from error
            raise
        except (ConnectionError, HTTPClientError) as error:
            # Includes read timeouts after the request was sent: the outcome is unknown, which
            # is why order placement takes an Idempotency-Key.
            raise StoreUnavailable("The database did not answer in time", 1) from error

    # -- products ---------------------------------------------------------------------------

    def get_product(self, sku: str) -> Product | None:
        response = self._call(
            self._client.get_item, TableName=self._table, Key=_key(keys.product_key(sku))
        )
        item = response.get("Item")
        return codec.item_to_product(item) if item else None

    def create_product(self, product: Product) -> None:
        try:
            self._call(
                self._client.put_item,
                TableName=self._table,
                Item=codec.product_to_item(product),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": PARTITION_KEY},
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                raise AlreadyExists(f"Product {product.sku} already exists") from error
            raise

    def update_product(
        self, sku: str, change: ProductChange, expected_version: int | None, now: datetime
    ) -> Product:
        """Apply a change atomically: the stock delta is an increment, never read-modify-write."""
        names = {"#pk": PARTITION_KEY, "#v": "version", "#u": "updated_at"}
        values: dict[str, Any] = {":one": {"N": "1"}, ":now": {"S": rfc3339(now)}}
        sets = ["#v = #v + :one", "#u = :now"]
        conditions = ["attribute_exists(#pk)"]
        if change.name is not None:
            names["#name"] = "name"
            values[":name"] = {"S": change.name}
            sets.append("#name = :name")
        if change.price is not None:
            names["#price"] = "price"
            values[":price"] = {"N": str(change.price)}
            sets.append("#price = :price")
        if change.stock_delta:
            names["#stock"] = "stock"
            values[":delta"] = {"N": str(change.stock_delta)}
            sets.append("#stock = #stock + :delta")
            if change.stock_delta < 0:
                values[":need"] = {"N": str(-change.stock_delta)}
                conditions.append("#stock >= :need")
        if expected_version is not None:
            values[":expected"] = {"N": str(expected_version)}
            conditions.append("#v = :expected")
        try:
            response = self._call(
                self._client.update_item,
                TableName=self._table,
                Key=_key(keys.product_key(sku)),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            old: Item | None = error.response.get("Item")  # type: ignore[assignment]
            if not old:
                raise NotFound(f"No product {sku}") from error
            current = codec.item_to_product(old)
            if expected_version is not None and current.version != expected_version:
                raise PreconditionFailed(current.version) from error
            raise Conflict(
                f"Stock of {sku} is {current.stock}; a change of {change.stock_delta} "
                "would take it below 0"
            ) from error
        return codec.item_to_product(response["Attributes"])

    def list_products(self, after_sku: str | None, limit: int) -> Slice[Product]:
        def query(shard: int) -> list[Item]:
            condition, values = "#pk = :pk", {":pk": {"S": keys.catalog_partition(shard)}}
            if after_sku is not None:
                condition += " AND #sk > :after"
                values[":after"] = {"S": after_sku}
            return self._query(
                GSI1.name, GSI1.partition_key, GSI1.sort_key, condition, values, True, limit
            )

        items = self._merge_shards(query, GSI1.sort_key, descending=False, limit=limit)
        return Slice([codec.item_to_product(i) for i in items[:limit]], len(items) > limit)

    # -- placing an order -------------------------------------------------------------------

    def read_for_order(
        self, skus: Iterable[str], caller_id: str, idempotency_key: str | None
    ) -> tuple[dict[str, Product], IdempotencyRecord | None]:
        """The products named and the caller's idempotency record, in one BatchGetItem."""
        request_keys = [_key(keys.product_key(sku)) for sku in skus]
        if idempotency_key is not None:
            request_keys.append(_key(keys.idempotency_key(caller_id, idempotency_key)))
        products: dict[str, Product] = {}
        record = None
        for item in self._batch_get(request_keys):
            if item["SK"]["S"] == keys.PRODUCT_SK:
                product = codec.item_to_product(item)
                products[product.sku] = product
            elif idempotency_key is not None:
                record = codec.item_to_idempotency(item, caller_id, idempotency_key)
        return products, record

    def create_order(self, order: Order, record: IdempotencyRecord | None, now_epoch: int) -> None:
        """Write the order, reserve every line's stock and record the key: all or nothing."""
        transact: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": codec.order_to_item(order),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
                }
            }
        ]
        transact += [
            self._stock_update(line.sku, -line.quantity, order.updated_at) for line in order.items
        ]
        if record is not None:
            transact.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": codec.idempotency_to_item(record),
                        # An expired record may linger until TTL deletes it: it no longer counts.
                        "ConditionExpression": "attribute_not_exists(#pk) OR #exp < :now",
                        "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#exp": TTL_ATTRIBUTE},
                        "ExpressionAttributeValues": {":now": {"N": str(now_epoch)}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            )
        reasons = self._transact(transact)
        if reasons is None:
            return
        if reasons[0].get("Code") == "ConditionalCheckFailed":
            # Order ids are fresh per attempt, so the order existing means this very transaction
            # was applied by an earlier SDK attempt whose answer was lost (a timeout after send);
            # DynamoDB's ClientRequestToken normally covers that, this covers it when it cannot.
            return
        if record is not None and reasons[-1].get("Code") == "ConditionalCheckFailed":
            taken = reasons[-1].get("Item")
            if taken:
                raise IdempotencyKeyTaken(
                    codec.item_to_idempotency(taken, record.caller_id, record.key)
                )
        short = [
            line.sku
            for line, reason in zip(order.items, reasons[1:], strict=False)
            if reason.get("Code") == "ConditionalCheckFailed"
        ]
        if short:
            raise InsufficientStock(short)
        raise ConcurrentUpdate("Other orders for the same products are being placed; retry")

    # -- changing an order ------------------------------------------------------------------

    def get_order(self, order_id: str) -> Order | None:
        response = self._call(
            self._client.get_item, TableName=self._table, Key=_key(keys.order_key(order_id))
        )
        item = response.get("Item")
        return codec.item_to_order(item) if item else None

    def save_order(self, order: Order, expected_version: int) -> None:
        """Replace the order's mutable fields if nobody changed it since `expected_version`."""
        index_keys = keys.order_status_keys(order.id, order.customer_id, order.status.value)
        attributes = {
            "status": {"S": order.status.value},
            "shipping_address": codec.address_to_attr(order.shipping_address),
            "updated_at": {"S": rfc3339(order.updated_at)},
            "version": {"N": str(order.version)},
            **{name: {"S": value} for name, value in index_keys.items()},
        }
        try:
            self._call(
                self._client.update_item,
                TableName=self._table,
                Key=_key(keys.order_key(order.id)),
                **_order_update(order, attributes, expected_version, None),
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                raise StaleWrite() from error
            raise

    def save_cancellation(self, order: Order, read: Order) -> None:
        """Mark the order cancelled and return its stock, in one transaction, if it is still at
        the version and status it had when ``read``; otherwise nothing changes (StaleWrite).

        Whoever cancels (a customer, staff, the expiry job) writes through here, so of two that
        race exactly one transaction applies and the stock comes back once.
        """
        index_keys = keys.order_status_keys(order.id, order.customer_id, order.status.value)
        sets = {
            "status": {"S": order.status.value},
            "updated_at": {"S": rfc3339(order.updated_at)},
            "version": {"N": str(order.version)},
            **{name: {"S": value} for name, value in index_keys.items()},
        }
        update = {
            "TableName": self._table,
            "Key": _key(keys.order_key(order.id)),
            **_order_update(order, sets, read.version, read.status),
        }
        transact: list[dict[str, Any]] = [{"Update": update}]
        transact += [
            self._stock_update(line.sku, line.quantity, order.updated_at) for line in order.items
        ]
        reasons = self._transact(transact)
        if reasons is None:
            return
        if reasons[0].get("Code") == "ConditionalCheckFailed":
            raise StaleWrite()
        raise ConcurrentUpdate("The order or its products are being changed; retry")

    # -- expiring reservations --------------------------------------------------------------

    def due_orders(self, now: datetime, page_size: int) -> Iterator[list[Order]]:
        """PENDING orders whose reservation deadline is at or before ``now``, in pages of at most
        ``page_size`` (<= 100, BatchGetItem's limit), each shard's oldest deadline first.

        Each page is one Query of one shard of the reservation index, continuing where that
        shard's previous page stopped (so an order that stays due after a failed attempt is not
        read again in the same run), then one strongly consistent BatchGetItem of those orders:
        the index is eventually consistent, the orders are read as they are now. Orders that
        are gone or no longer due by then are left out. Shards take turns, one page each.
        """
        cutoff = {"S": rfc3339(now)}
        starts: dict[int, dict[str, Any] | None] = dict.fromkeys(range(keys.SHARDS))
        while starts:
            for shard, start in list(starts.items()):
                params: dict[str, Any] = {
                    "TableName": self._table,
                    "IndexName": GSI4.name,
                    "KeyConditionExpression": "#pk = :pk AND #sk <= :now",
                    "ExpressionAttributeNames": {"#pk": GSI4.partition_key, "#sk": GSI4.sort_key},
                    "ExpressionAttributeValues": {
                        ":pk": {"S": keys.reservation_partition(shard)},
                        ":now": cutoff,
                    },
                    "ScanIndexForward": True,
                    "Limit": page_size,
                }
                if start is not None:
                    params["ExclusiveStartKey"] = start
                response = self._call(self._client.query, **params)
                following = response.get("LastEvaluatedKey")
                if following:
                    starts[shard] = following
                else:
                    del starts[shard]
                found = response.get("Items", [])
                if not found:
                    continue
                items = self._batch_get(
                    [{name: item[name] for name in (PARTITION_KEY, SORT_KEY)} for item in found]
                )
                orders = [codec.item_to_order(item) for item in items]
                due = [order for order in orders if order.reservation_expired(now)]
                yield sorted(due, key=lambda order: (order.expires_at, order.id))

    def pending_without_deadline(self, page_size: int) -> Iterator[list[Order]]:
        """PENDING orders written before reservations expired (no ``reserved_until``), a page per
        shard of the status index at a time. A one-off: it reads every PENDING order (the filter
        saves bytes sent, not capacity), which is why the expiry job never does this."""
        for shard in range(keys.SHARDS):
            params: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": GSI3.name,
                "KeyConditionExpression": "#pk = :pk",
                "FilterExpression": "attribute_not_exists(#deadline)",
                "ExpressionAttributeNames": {
                    "#pk": GSI3.partition_key,
                    "#deadline": codec.RESERVED_UNTIL,
                },
                "ExpressionAttributeValues": {
                    ":pk": {"S": keys.status_partition(OrderStatus.PENDING.value, shard)}
                },
                "Limit": page_size,
            }
            while True:
                response = self._call(self._client.query, **params)
                yield [codec.item_to_order(item) for item in response.get("Items", [])]
                following = response.get("LastEvaluatedKey")
                if not following:
                    break
                params["ExclusiveStartKey"] = following

    # -- listing orders ---------------------------------------------------------------------

    def list_customer_orders(
        self, customer_id: str, status: OrderStatus | None, before_id: str | None, limit: int
    ) -> Slice[Order]:
        if status is None:
            index, partition = GSI1, keys.customer_partition(customer_id)
        else:
            index, partition = GSI2, keys.customer_status_partition(customer_id, status.value)
        items = self._query(
            index.name,
            index.partition_key,
            index.sort_key,
            *_before(partition, before_id),
            False,
            limit,
        )
        return Slice([codec.item_to_order(i) for i in items[:limit]], len(items) > limit)

    def list_orders_by_status(
        self, status: OrderStatus, before_id: str | None, limit: int
    ) -> Slice[Order]:
        def query(shard: int) -> list[Item]:
            partition = keys.status_partition(status.value, shard)
            return self._query(
                GSI3.name,
                GSI3.partition_key,
                GSI3.sort_key,
                *_before(partition, before_id),
                False,
                limit,
            )

        items = self._merge_shards(query, GSI3.sort_key, descending=True, limit=limit)
        return Slice([codec.item_to_order(i) for i in items[:limit]], len(items) > limit)

    # -- helpers ----------------------------------------------------------------------------

    def _stock_update(self, sku: str, delta: int, now: datetime) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key(keys.product_key(sku)),
            "UpdateExpression": "SET #stock = #stock + :delta, #v = #v + :one, #u = :now",
            "ConditionExpression": "attribute_exists(#pk)",
            "ExpressionAttributeNames": {
                "#pk": PARTITION_KEY,
                "#stock": "stock",
                "#v": "version",
                "#u": "updated_at",
            },
            "ExpressionAttributeValues": {
                ":delta": {"N": str(delta)},
                ":one": {"N": "1"},
                ":now": {"S": rfc3339(now)},
            },
        }
        if delta < 0:
            # The guard that keeps stock from ever going below zero, under any concurrency.
            update["ConditionExpression"] += " AND #stock >= :need"
            update["ExpressionAttributeValues"][":need"] = {"N": str(-delta)}
        return {"Update": update}

    def _batch_get(self, request_keys: list[dict[str, Any]]) -> list[Item]:
        """The items at ``request_keys`` (<= 100), strongly consistent, in no particular order."""
        found: list[Item] = []
        pending: dict[str, Any] = {self._table: {"Keys": request_keys, "ConsistentRead": True}}
        for attempt in range(5):
            response = self._call(self._client.batch_get_item, RequestItems=pending)
            found += response.get("Responses", {}).get(self._table, [])
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                return found
            time.sleep(0.02 * 2**attempt)  # unprocessed keys mean throttling: back off
        raise StoreUnavailable("The database is busy; retry after the indicated time", 1)

    def _transact(self, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """Run a transaction; None on success, else the per-item cancellation reasons."""
        try:
            # The token makes the SDK's own retries of this exact call idempotent (10 minutes).
            # One per call, never derived from the items: two requests deciding the same change
            # at once (two cancels of one order) would share it, and DynamoDB answers the second
            # IdempotentParameterMismatchException (their timestamps differ) or, worse, replays
            # the first's success to it. Found on DynamoDB Local; moto ignores tokens.
            self._call(
                self._client.transact_write_items,
                TransactItems=items,
                ClientRequestToken=str(uuid.uuid4()),
            )
        except ClientError as error:
            if _code(error) != "TransactionCanceledException":
                raise
            reasons: list[dict[str, Any]] = list(error.response.get("CancellationReasons") or [])  # type: ignore[arg-type]
            if any(r.get("Code") in _UNAVAILABLE_REASONS for r in reasons):
                raise StoreUnavailable(
                    "The database is busy; retry after the indicated time", 1
                ) from error
            return reasons or [{"Code": "TransactionConflict"}]
        return None

    def _query(
        self,
        index: str,
        partition_key: str,
        sort_key: str,
        condition: str,
        values: dict[str, Any],
        forward: bool,
        limit: int,
    ) -> list[Item]:
        """Up to limit + 1 items, so the caller knows whether another page follows."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#pk": partition_key},
            "ExpressionAttributeValues": values,
            "ScanIndexForward": forward,
            "Limit": limit + 1,
        }
        if "#sk" in condition:
            params["ExpressionAttributeNames"]["#sk"] = sort_key
        items: list[Item] = []
        while True:
            response = self._call(self._client.query, **params)
            items += response.get("Items", [])
            start = response.get("LastEvaluatedKey")
            # Only the 1 MB response cap can stop short of Limit: continue from where it stopped.
            if not start or len(items) > limit:
                return items[: limit + 1]
            params["ExclusiveStartKey"] = start
            params["Limit"] = limit + 1 - len(items)

    def _merge_shards(
        self, query: Callable[[int], list[Item]], sort_key: str, *, descending: bool, limit: int
    ) -> list[Item]:
        """Query every shard at once and merge their sorted pages into one, limit + 1 long."""
        pages = list(self._pool.map(query, range(keys.SHARDS)))
        merged = heapq.merge(*pages, key=lambda item: item[sort_key]["S"], reverse=descending)
        return [item for _, item in zip(range(limit + 1), merged, strict=False)]


def _order_update(
    order: Order,
    sets: dict[str, Any],
    expected_version: int,
    expected_status: OrderStatus | None,
) -> dict[str, Any]:
    """UpdateItem parameters that SET ``sets`` and the order's state attributes (deadline and
    reservation index entry while it holds stock, cancellation reason once cancelled) and REMOVE
    the state attributes it no longer has. Conditioned on the version read (and the status)."""
    present, absent = codec.state_attributes(order)
    sets = {**sets, **present}
    names = {f"#a{i}": name for i, name in enumerate(sets)}
    values = {f":a{i}": value for i, value in enumerate(sets.values())}
    expression = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(sets)))
    if absent:
        removed = {f"#r{i}": name for i, name in enumerate(absent)}
        names.update(removed)
        expression += " REMOVE " + ", ".join(removed)
    names["#version"] = "version"
    values[":expected"] = {"N": str(expected_version)}
    condition = "#version = :expected"
    if expected_status is not None:
        names["#status"] = "status"
        values[":was"] = {"S": expected_status.value}
        condition += " AND #status = :was"
    return {
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def _key(key: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"S": value} for name, value in key.items()}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _before(partition: str, before: str | None) -> tuple[str, dict[str, Any]]:
    condition, values = "#pk = :pk", {":pk": {"S": partition}}
    if before is not None:
        condition += " AND #sk < :before"
        values[":before"] = {"S": before}
    return condition, values
