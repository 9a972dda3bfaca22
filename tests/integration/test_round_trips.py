"""DynamoDB round trips per request, counted at botocore's ``before-call`` on the app's client.

Each route is held to the budget in lambda_app/repository/dynamodb.py's docstring: latency and
cost in Lambda are mostly these calls, and a list must never turn into a Scan.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from lambda_app.repository.keys import SHARDS
from tests.conftest import ADDRESS, Api
from tests.engines import BOTH_ENGINES

pytestmark = [BOTH_ENGINES]

ORDER_BODY = {"items": [{"sku": "MUG", "quantity": 1}], "shipping_address": ADDRESS}


class Calls:
    """Every DynamoDB API call the app makes (shard queries run on several threads)."""

    def __init__(self, client: Any) -> None:
        self.total: Counter[str] = Counter()
        self._current: Counter[str] | None = None
        self._lock = threading.Lock()
        client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.total[model.name] += 1
            if self._current is not None:
                self._current[model.name] += 1

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        seen: Counter[str] = Counter()
        self._current = seen
        try:
            yield seen
        finally:
            self._current = None


@pytest.fixture
def calls(dynamodb: Any) -> Iterator[Calls]:
    counter = Calls(dynamodb)
    yield counter
    assert "Scan" not in counter.total, "a request scanned the table"


@pytest.fixture
def shop(api: Api, calls: Calls) -> dict[str, Any]:
    """A catalog of a few products and orders by alice and bob."""
    for sku in ("MUG", "CAP", "TEE", "PEN", "BAG", "HAT"):
        api.add_product(sku, stock=100)
    placed = [api.place([("MUG", 1)], user=user) for user in ("alice", "alice", "alice", "bob")]
    assert all(p.status_code == 201 for p in placed)
    return {"alice_order": placed[0].json(), "bob_order": placed[3].json()}


def expect(calls: Calls, api: Api, status: int, method: str, path: str, **kwargs: Any) -> Any:
    """Make the request and return (response, the DynamoDB calls it made)."""
    with calls.counting() as seen:
        response = api.call(method, path, **kwargs)
    assert response.status_code == status, response.text
    return response, dict(seen)


# -- products ---------------------------------------------------------------------------------


def test_product_routes_make_one_call_each(api: Api, calls: Calls, shop: Any) -> None:
    product = {"sku": "NEW-1", "name": "New", "price": 5, "currency": "EUR", "stock": 3}
    _, seen = expect(calls, api, 201, "POST", "/products", user="s", admin=True, json=product)
    assert seen == {"PutItem": 1}
    _, seen = expect(calls, api, 409, "POST", "/products", user="s", admin=True, json=product)
    assert seen == {"PutItem": 1}

    _, seen = expect(calls, api, 200, "GET", "/products/NEW-1")
    assert seen == {"GetItem": 1}
    _, seen = expect(calls, api, 404, "GET", "/products/NOPE")
    assert seen == {"GetItem": 1}

    change = {"price": 7, "stock_delta": -2}
    headers = {"If-Match": '"1"'}
    patch = {"user": "s", "admin": True, "headers": headers, "json": change}
    _, seen = expect(calls, api, 200, "PATCH", "/products/NEW-1", **patch)
    assert seen == {"UpdateItem": 1}
    _, seen = expect(calls, api, 412, "PATCH", "/products/NEW-1", **patch)
    assert seen == {"UpdateItem": 1}
    patch = {"user": "s", "admin": True, "json": {"stock_delta": -5}}
    _, seen = expect(calls, api, 409, "PATCH", "/products/NEW-1", **patch)
    assert seen == {"UpdateItem": 1}


def test_a_catalog_page_is_one_query_per_shard(api: Api, calls: Calls, shop: Any) -> None:
    first, seen = expect(calls, api, 200, "GET", "/products?limit=4")
    assert seen == {"Query": SHARDS}
    cursor = first.json()["next_cursor"]
    assert cursor is not None

    second, seen = expect(calls, api, 200, "GET", "/products", params={"cursor": cursor})
    assert seen == {"Query": SHARDS}
    skus = [p["sku"] for p in first.json()["items"] + second.json()["items"]]
    assert skus == sorted(["MUG", "CAP", "TEE", "PEN", "BAG", "HAT"])


# -- placing orders ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "checkout-1"])
def test_placing_an_order_is_one_batch_read_and_one_transaction(
    api: Api, calls: Calls, shop: Any, key: str | None
) -> None:
    headers = {"Idempotency-Key": key} if key else {}
    body = {
        "items": [{"sku": "MUG", "quantity": 1}, {"sku": "CAP", "quantity": 2}],
        "shipping_address": ADDRESS,
    }
    _, seen = expect(calls, api, 201, "POST", "/orders", headers=headers, json=body)
    assert seen == {"BatchGetItem": 1, "TransactWriteItems": 1}


def test_rejected_orders_cost_no_more_than_accepted_ones(api: Api, calls: Calls, shop: Any) -> None:
    short = {"items": [{"sku": "MUG", "quantity": 1000}], "shipping_address": ADDRESS}
    _, seen = expect(calls, api, 409, "POST", "/orders", json=short)
    assert seen == {"BatchGetItem": 1}  # the strongly consistent read already shows the shortage

    unknown = {"items": [{"sku": "NOPE", "quantity": 1}], "shipping_address": ADDRESS}
    _, seen = expect(calls, api, 422, "POST", "/orders", json=unknown)
    assert seen == {"BatchGetItem": 1}


def test_replaying_an_idempotency_key_is_one_batch_read(api: Api, calls: Calls, shop: Any) -> None:
    headers = {"Idempotency-Key": "checkout-2"}
    first, _ = expect(calls, api, 201, "POST", "/orders", headers=headers, json=ORDER_BODY)

    replay, seen = expect(calls, api, 201, "POST", "/orders", headers=headers, json=ORDER_BODY)
    assert seen == {"BatchGetItem": 1}
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()

    other = {**ORDER_BODY, "items": [{"sku": "MUG", "quantity": 2}]}
    _, seen = expect(calls, api, 422, "POST", "/orders", headers=headers, json=other)
    assert seen == {"BatchGetItem": 1}


# -- reading and listing orders ---------------------------------------------------------------


def test_reading_an_order_is_one_get(api: Api, calls: Calls, shop: Any) -> None:
    order_id = shop["alice_order"]["id"]
    _, seen = expect(calls, api, 200, "GET", f"/orders/{order_id}")
    assert seen == {"GetItem": 1}
    _, seen = expect(calls, api, 404, "GET", f"/orders/{order_id}", user="mallory")
    assert seen == {"GetItem": 1}


def test_listing_one_customers_orders_is_one_query(api: Api, calls: Calls, shop: Any) -> None:
    for query, admin in [
        ("", False),
        ("?status=PENDING", False),
        ("?customer_id=bob", True),
        ("?customer_id=bob&status=PENDING", True),
        ("", True),  # an admin without filters gets their own orders
    ]:
        _, seen = expect(calls, api, 200, "GET", f"/orders{query}", admin=admin)
        assert seen == {"Query": 1}, query


def test_every_page_of_ones_own_orders_is_one_query(api: Api, calls: Calls, shop: Any) -> None:
    first, seen = expect(calls, api, 200, "GET", "/orders?limit=2")
    assert seen == {"Query": 1}
    cursor = first.json()["next_cursor"]
    second, seen = expect(calls, api, 200, "GET", "/orders", params={"limit": 2, "cursor": cursor})
    assert seen == {"Query": 1}
    assert len(first.json()["items"]) + len(second.json()["items"]) == 3
    assert second.json()["next_cursor"] is None


def test_admin_listing_by_status_is_one_query_per_shard(api: Api, calls: Calls, shop: Any) -> None:
    first, seen = expect(calls, api, 200, "GET", "/orders?status=PENDING&limit=3", admin=True)
    assert seen == {"Query": SHARDS}
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    params = {"status": "PENDING", "limit": 3, "cursor": cursor}
    second, seen = expect(calls, api, 200, "GET", "/orders", admin=True, params=params)
    assert seen == {"Query": SHARDS}
    assert len(first.json()["items"]) + len(second.json()["items"]) == 4


# -- changing orders --------------------------------------------------------------------------


def test_cancelling_is_one_get_and_one_transaction(api: Api, calls: Calls, shop: Any) -> None:
    path = f"/orders/{shop['alice_order']['id']}/cancel"
    _, seen = expect(calls, api, 412, "POST", path, headers={"If-Match": '"7"'})
    assert seen == {"GetItem": 1}
    _, seen = expect(calls, api, 200, "POST", path, headers={"If-Match": '"1"'})
    assert seen == {"GetItem": 1, "TransactWriteItems": 1}
    _, seen = expect(calls, api, 409, "POST", path)
    assert seen == {"GetItem": 1}


def test_changing_an_order_is_one_get_and_one_update(api: Api, calls: Calls, shop: Any) -> None:
    path = f"/orders/{shop['bob_order']['id']}"
    address = {"shipping_address": {**ADDRESS, "name": "Bob"}}
    _, seen = expect(calls, api, 200, "PATCH", path, user="bob", json=address)
    assert seen == {"GetItem": 1, "UpdateItem": 1}

    move = {"status": "CONFIRMED"}
    headers = {"If-Match": '"2"'}
    _, seen = expect(calls, api, 200, "PATCH", path, admin=True, headers=headers, json=move)
    assert seen == {"GetItem": 1, "UpdateItem": 1}
    _, seen = expect(calls, api, 412, "PATCH", path, admin=True, headers=headers, json=move)
    assert seen == {"GetItem": 1}


# -- the whole flow ---------------------------------------------------------------------------


def test_a_whole_shopping_flow_never_scans(api: Api, calls: Calls) -> None:
    for sku in ("MUG", "CAP"):
        api.add_product(sku, stock=5)
    api.call("PATCH", "/products/CAP", user="s", admin=True, json={"stock_delta": 5})
    api.call("GET", "/products")
    api.call("GET", "/products/MUG")
    order = api.place([("MUG", 1), ("CAP", 2)], key="flow-1").json()
    api.place([("MUG", 1), ("CAP", 2)], key="flow-1")
    api.place([("MUG", 50)])
    api.call("GET", f"/orders/{order['id']}")
    api.call("GET", "/orders?limit=1")
    api.call("GET", "/orders?status=PENDING")
    api.call("GET", "/orders?status=PENDING", admin=True)
    api.call("GET", "/orders?customer_id=alice", admin=True)
    api.call("PATCH", f"/orders/{order['id']}", json={"shipping_address": ADDRESS})
    api.call("PATCH", f"/orders/{order['id']}", admin=True, json={"status": "CONFIRMED"})
    api.call("POST", f"/orders/{order['id']}/cancel")
    api.call("GET", "/health")

    assert calls.total["Scan"] == 0
    assert set(calls.total) <= {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "BatchGetItem",
        "TransactWriteItems",
        "Query",
    }
    assert api.call("GET", f"/orders/{order['id']}").json()["status"] == "CANCELLED"
