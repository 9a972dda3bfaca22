"""DynamoDB capacity per route, as DynamoDB bills it, and what a million orders cost on demand.

The app runs in-process against DynamoDB Local (AWS's own engine, in memory); every DynamoDB call
its client makes is sent with ``ReturnConsumedCapacity=INDEXES``, added here through botocore's
``before-parameter-build`` event (never by the service's own code), and the units each answer
reports are summed per request: read units and write units, for the table and each index.
moto's figures are not used: it leaves out index writes and transactions (see
docs/dynamodb-engines.md).

Run with ``make bench`` (beside the CPU figures) or alone: ``python -m bench.capacity``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.events import ORDER_BODY

# On-demand prices, US East (N. Virginia), Standard table class, in USD per million request
# units: the prices in effect since AWS halved on-demand throughput prices on 2024-11-01
# (aws.amazon.com/dynamodb/pricing/on-demand/). Other Regions differ; no network lookups here.
PRICE_REGION = "us-east-1"
USD_PER_MILLION_WRITE_UNITS = 0.625
USD_PER_MILLION_READ_UNITS = 0.125

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
CUSTOMER = {"X-Dev-User": "bench-customer"}
STAFF = {"X-Dev-User": "bench-staff", "X-Dev-Groups": "admin"}
PAGE = 20
TABLE = "bench-capacity"
SCRATCH_TABLE = "bench-capacity-items"


class CapacityMeter:
    """Asks for ``ReturnConsumedCapacity=INDEXES`` on every call of one client and sums what
    the answers report, per kind (read, write) and per table or index.

    Transactions are the exception: DynamoDB Local adds up the per-item figures of a
    ``TransactWriteItems`` as a set, so items that consume the same (two stock updates of one
    order) count once; test_dynamodb_engines.py holds that. DynamoDB bills every item. So each
    item of a transaction is also run alone, as a one-item transaction, on a scratch table
    holding a copy of the item it touches (copied just before the real call, so conditions and
    index entries are the same), and those per-item figures, read from DynamoDB Local too, are
    what is counted. What the engine reported for the whole transaction is kept beside them."""

    def __init__(self, client: Any, table: str, scratch: Any, scratch_table: str) -> None:
        self._lock = threading.Lock()  # shard queries of one page run on several threads
        self._table = table
        self._scratch = scratch  # another client: its calls are not counted
        self._scratch_table = scratch_table
        self._current: Counter[tuple[str, str]] | None = None
        self._calls: Counter[str] | None = None
        self._reported: list[float] = []
        self._per_item: Counter[tuple[str, str]] | None = None
        client.meta.events.register("before-parameter-build.dynamodb", self._ask)
        client.meta.events.register("after-call.dynamodb", self._count)

    def _ask(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params["ReturnConsumedCapacity"] = "INDEXES"
        if model.name == "TransactWriteItems" and self._current is not None:
            self._per_item = Counter()
            for entry in params["TransactItems"]:
                self._add(self._per_item, "write", self._alone(entry))

    def _alone(self, entry: dict[str, Any]) -> dict[str, Any]:
        """One item of a transaction, run alone on the scratch table: its consumed capacity."""
        [(action, body)] = entry.items()
        key = body.get("Key") or {name: body["Item"][name] for name in ("PK", "SK")}
        found = self._scratch.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        self._scratch.delete_item(TableName=self._scratch_table, Key=key)
        if "Item" in found:
            self._scratch.put_item(TableName=self._scratch_table, Item=found["Item"])
        answer = self._scratch.transact_write_items(
            TransactItems=[{action: {**body, "TableName": self._scratch_table}}],
            ReturnConsumedCapacity="INDEXES",
        )
        [consumed] = answer["ConsumedCapacity"]
        return dict(consumed)

    @staticmethod
    def _add(units: Counter[tuple[str, str]], kind: str, consumed: dict[str, Any]) -> None:
        units[(kind, "table")] += consumed.get("Table", {}).get("CapacityUnits", 0)
        for group in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            for index, part in consumed.get(group, {}).items():
                units[(kind, index)] += part["CapacityUnits"]

    def _count(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        kind = "write" if model.name in WRITES else "read"
        with self._lock:
            if self._current is None or self._calls is None:
                return
            self._calls[model.name] += 1
            assert "Error" not in parsed, parsed  # every call of the walk succeeds
            if model.name == "TransactWriteItems":
                assert self._per_item is not None
                self._current.update(self._per_item)
                self._reported += [float(table["CapacityUnits"]) for table in consumed]
                self._per_item = None
                return
            for table in consumed if isinstance(consumed, list) else [consumed or {}]:
                self._add(self._current, kind, table)

    @contextmanager
    def measuring(self) -> Iterator[dict[str, Any]]:
        """Units consumed by what runs inside, filled in when the block ends."""
        result: dict[str, Any] = {}
        with self._lock:
            self._current, self._calls, self._reported = Counter(), Counter(), []
        try:
            yield result
        finally:
            with self._lock:
                units, calls, reported = self._current, self._calls, self._reported
                self._current = self._calls = None
            assert units is not None and calls is not None
            for kind in ("read", "write"):
                parts = {name: n for (k, name), n in sorted(units.items()) if k == kind and n}
                result[kind] = {"total": sum(parts.values()), "by_table_or_index": parts}
            result["calls"] = dict(calls)
            if reported:
                result["transaction_units_as_dynamodb_local_reported"] = sum(reported)
            result["usd_per_million_requests"] = _usd(result)


def _usd(row: dict[str, Any]) -> float:
    return float(
        row["write"]["total"] * USD_PER_MILLION_WRITE_UNITS
        + row["read"]["total"] * USD_PER_MILLION_READ_UNITS
    )


def measure() -> dict[str, Any]:
    """Start DynamoDB Local, walk the routes once each, stop it; the figures per route."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    with warnings.catch_warnings():  # starlette's note about its httpx dependency
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from lambda_app.api.app import create_app
    from lambda_app.local.dynamodb_local import DynamoDBLocal
    from lambda_app.repository.client import make_client
    from lambda_app.repository.tables import ensure_table
    from lambda_app.settings import Settings

    with DynamoDBLocal() as engine:
        client = make_client("us-east-1", engine.endpoint_url)
        scratch = make_client("us-east-1", engine.endpoint_url)
        for table in (TABLE, SCRATCH_TABLE):
            ensure_table(client, table)
        settings = Settings(
            TABLE_NAME=TABLE,
            ORDER_API_DEV_AUTH=True,
            CURSOR_SECRET="bench",  # noqa: S106 - a local, throwaway table
            LOG_LEVEL="WARNING",  # no request log lines between the figures
        )
        meter = CapacityMeter(client, TABLE, scratch, SCRATCH_TABLE)
        with TestClient(create_app(settings, client)) as http:
            routes = _walk(http, meter)
        version = engine.version()
    return {
        "engine": f"DynamoDB Local {version}",
        "prices": {
            "region": PRICE_REGION,
            "usd_per_million_write_units": USD_PER_MILLION_WRITE_UNITS,
            "usd_per_million_read_units": USD_PER_MILLION_READ_UNITS,
        },
        "routes": routes,
        "million_orders_usd": routes["POST /orders (2 lines, keyed)"]["usd_per_million_requests"],
    }


def _walk(http: Any, meter: CapacityMeter) -> dict[str, dict[str, Any]]:
    def call(method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = http.request(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    for line in ORDER_BODY["items"]:
        product = {"name": f"Product {line['sku']}", "price": 1999, "currency": "EUR"}
        call(
            "POST",
            "/products",
            201,
            headers=STAFF,
            json={"sku": line["sku"], **product, "stock": 10**6},
        )
    for _ in range(PAGE + 1):  # a full page, and one more so that a next page exists
        call("POST", "/orders", 201, headers=CUSTOMER, json=ORDER_BODY)

    routes: dict[str, dict[str, Any]] = {}
    keyed = {**CUSTOMER, "Idempotency-Key": "bench-checkout-1"}
    with meter.measuring() as routes["POST /orders (2 lines, keyed)"]:
        order = call("POST", "/orders", 201, headers=keyed, json=ORDER_BODY)
    path = f"/orders/{order['id']}"
    with meter.measuring() as routes["GET /orders/{id}"]:
        call("GET", path, 200, headers=CUSTOMER)
    with meter.measuring() as routes[f"GET /orders (page of {PAGE})"]:
        page = call("GET", "/orders", 200, headers=CUSTOMER, params={"limit": PAGE})
    assert len(page["items"]) == PAGE and page["next_cursor"]
    with meter.measuring() as routes["PATCH /orders/{id} (status move)"]:
        call("PATCH", path, 200, headers=STAFF, json={"status": "CONFIRMED"})
    # A PENDING order, as customers and the expiry job cancel them (it leaves the reservation
    # index too); a CONFIRMED one costs its index entry less.
    pending = call("POST", "/orders", 201, headers=CUSTOMER, json=ORDER_BODY)
    with meter.measuring() as routes["POST /orders/{id}/cancel (PENDING)"]:
        call("POST", f"/orders/{pending['id']}/cancel", 200, headers=CUSTOMER)
    return routes


def print_report(report: dict[str, Any]) -> None:
    prices = report["prices"]
    print(
        f"\nDynamoDB capacity per request ({report['engine']}, ReturnConsumedCapacity=INDEXES; "
        f"on-demand {prices['region']}: ${prices['usd_per_million_write_units']} per million "
        f"write units, ${prices['usd_per_million_read_units']} per million read units)"
    )
    print(f"{'route':<36}{'read':>6}{'write':>7}{'$ / million':>13}  units by table / index")
    for route, row in report["routes"].items():
        parts = "; ".join(
            f"{kind} "
            + ", ".join(f"{name} {n:g}" for name, n in row[kind]["by_table_or_index"].items())
            for kind in ("read", "write")
            if row[kind]["total"]
        )
        print(
            f"{route:<36}{row['read']['total']:>6g}{row['write']['total']:>7g}"
            f"{row['usd_per_million_requests']:>13.3f}  {parts}"
        )
    reported = {
        route: row["transaction_units_as_dynamodb_local_reported"]
        for route, row in report["routes"].items()
        if "transaction_units_as_dynamodb_local_reported" in row
    }
    print(
        "Transactions as DynamoDB Local itself reported them (it counts items that consume the "
        "same once; each item run alone gives the figures above): "
        + ", ".join(f"{route} {units:g}" for route, units in reported.items())
    )
    place = report["routes"]["POST /orders (2 lines, keyed)"]
    print(
        f"A million orders placed (2 lines, keyed): {place['write']['total']:g} million write "
        f"units + {place['read']['total']:g} million read units = "
        f"${report['million_orders_usd']:.2f} in DynamoDB"
    )


def measure_or_skip() -> dict[str, Any]:
    """For ``make bench``: the figures, or why there are none (no Java here)."""
    from lambda_app.local.dynamodb_local import Unavailable

    try:
        return measure()
    except Unavailable as missing:
        return {"skipped": str(missing)}


def print_or_skip(report: dict[str, Any]) -> None:
    if "skipped" in report:
        print(f"\nDynamoDB capacity: not measured ({report['skipped']})")
    else:
        print_report(report)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.capacity", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--output", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    report = measure()
    print_report(report)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
