"""Orders over HTTP, against moto: placing, reading, changing, cancelling, idempotency."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADDRESS, Api
from tests.engines import BOTH_ENGINES

pytestmark = [BOTH_ENGINES]

PROBLEM = "application/problem+json"


def stock(api: Api, sku: str) -> int:
    return int(api.call("GET", f"/products/{sku}").json()["stock"])


@pytest.fixture
def catalog(api: Api) -> Api:
    api.add_product("A", stock=10, price=250)
    api.add_product("B", stock=5, price=1000)
    api.add_product("USD-ONLY", stock=5, currency="USD")
    return api


def test_placing_an_order_prices_it_from_the_catalog_and_reserves_stock(catalog: Api) -> None:
    placed = catalog.place([("A", 2), ("B", 1)])
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert placed.headers["location"] == f"/orders/{order['id']}"
    assert placed.headers["etag"] == '"1"'
    assert order["status"] == "PENDING"
    assert order["customer_id"] == "alice"
    assert order["currency"] == "EUR"
    assert order["total"] == 2 * 250 + 1000
    assert order["items"] == [
        {"sku": "A", "name": "Product A", "quantity": 2, "unit_price": 250, "line_total": 500},
        {"sku": "B", "name": "Product B", "quantity": 1, "unit_price": 1000, "line_total": 1000},
    ]
    assert order["shipping_address"] == {**ADDRESS, "line2": None}
    assert len(order["id"]) == 26
    assert (stock(catalog, "A"), stock(catalog, "B")) == (8, 4)
    assert catalog.call("GET", "/products/A").json()["version"] == 2


def test_client_prices_are_refused(catalog: Api) -> None:
    response = catalog.call(
        "POST",
        "/orders",
        json={"items": [{"sku": "A", "quantity": 1, "unit_price": 1}], "shipping_address": ADDRESS},
    )
    assert response.status_code == 422


def test_duplicate_skus_are_merged(catalog: Api) -> None:
    order = catalog.place([("A", 1), ("A", 2)]).json()
    assert [(i["sku"], i["quantity"]) for i in order["items"]] == [("A", 3)]
    assert stock(catalog, "A") == 7


def test_short_stock_is_409_naming_every_short_sku_and_reserves_nothing(catalog: Api) -> None:
    response = catalog.place([("A", 11), ("B", 6), ("USD-ONLY", 0 + 1)])
    # Mixed currencies is checked first: it is a 422 whatever the stock.
    assert response.status_code == 422
    response = catalog.place([("A", 11), ("B", 6)])
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["skus"] == ["A", "B"]
    assert "A" in response.json()["detail"] and "B" in response.json()["detail"]
    assert (stock(catalog, "A"), stock(catalog, "B")) == (10, 5)


def test_unknown_sku_is_422_naming_it(catalog: Api) -> None:
    response = catalog.place([("A", 1), ("GHOST", 1)])
    assert response.status_code == 422
    assert "GHOST" in response.json()["detail"]
    assert stock(catalog, "A") == 10


def test_mixed_currencies_are_422(catalog: Api) -> None:
    assert catalog.place([("A", 1), ("USD-ONLY", 1)]).status_code == 422


@pytest.mark.parametrize(
    "items",
    [
        [],
        [{"sku": "A", "quantity": 0}],
        [{"sku": "A", "quantity": 1001}],
        [{"sku": "A", "quantity": 600}, {"sku": "A", "quantity": 401}],
        [{"sku": f"S{i}", "quantity": 1} for i in range(51)],
        [{"sku": "A", "quantity": 1.0}],
        [{"sku": "A", "quantity": "1"}],
        [{"sku": "a", "quantity": 1}],
        [{"sku": "Ａ", "quantity": 1}],
    ],
)
def test_invalid_lines_are_422_and_reserve_nothing(catalog: Api, items: list[Any]) -> None:
    response = catalog.call("POST", "/orders", json={"items": items, "shipping_address": ADDRESS})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert stock(catalog, "A") == 10


@pytest.mark.parametrize(
    "address",
    [
        {**ADDRESS, "country": "XX"},
        {**ADDRESS, "country": "gb"},
        {**ADDRESS, "name": ""},
        {**ADDRESS, "name": "bad\u0000name"},
        {k: v for k, v in ADDRESS.items() if k != "city"},
        {**ADDRESS, "line2": "x" * 201},
    ],
)
def test_invalid_addresses_are_422(catalog: Api, address: dict[str, Any]) -> None:
    response = catalog.call(
        "POST",
        "/orders",
        json={"items": [{"sku": "A", "quantity": 1}], "shipping_address": address},
    )
    assert response.status_code == 422


def test_customers_see_only_their_own_orders(catalog: Api) -> None:
    order = catalog.place([("A", 1)], user="alice").json()
    path = f"/orders/{order['id']}"
    assert catalog.call("GET", path, user="alice").status_code == 200
    assert catalog.call("GET", path, user="staff", admin=True).status_code == 200
    assert catalog.call("GET", path, user="mallory").status_code == 404
    assert catalog.call("POST", f"{path}/cancel", user="mallory").status_code == 404
    patch = catalog.call("PATCH", path, user="mallory", json={"shipping_address": ADDRESS})
    assert patch.status_code == 404
    assert (
        catalog.call("PATCH", path, user="mallory", json={"status": "CONFIRMED"}).status_code == 404
    )
    assert catalog.call("GET", "/orders", user="mallory").json()["items"] == []
    assert catalog.call("GET", "/orders?customer_id=alice", user="mallory").status_code == 403
    assert catalog.call("GET", path, user="alice").json()["version"] == 1


def test_unknown_and_malformed_order_ids_are_404(catalog: Api) -> None:
    assert catalog.call("GET", "/orders/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404
    assert catalog.call("GET", "/orders/" + "x" * 3000).status_code == 404


def test_cancel_returns_stock_in_the_same_transaction(catalog: Api) -> None:
    order = catalog.place([("A", 3), ("B", 2)]).json()
    cancelled = catalog.call("POST", f"/orders/{order['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "CANCELLED"
    assert cancelled.json()["version"] == 2
    assert cancelled.headers["etag"] == '"2"'
    assert (stock(catalog, "A"), stock(catalog, "B")) == (10, 5)
    again = catalog.call("POST", f"/orders/{order['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["current_status"] == "CANCELLED"
    assert stock(catalog, "A") == 10


def test_staff_can_cancel_confirmed_but_not_shipped(catalog: Api) -> None:
    order = catalog.place([("A", 1)]).json()
    path = f"/orders/{order['id']}"
    assert catalog.call("PATCH", path, admin=True, json={"status": "CONFIRMED"}).status_code == 200
    assert catalog.call("POST", f"{path}/cancel", user="staff", admin=True).status_code == 200
    other = catalog.place([("A", 1)]).json()
    path = f"/orders/{other['id']}"
    catalog.call("PATCH", path, admin=True, json={"status": "CONFIRMED"})
    catalog.call("PATCH", path, admin=True, json={"status": "SHIPPED"})
    refused = catalog.call("POST", f"{path}/cancel")
    assert refused.status_code == 409
    assert "SHIPPED" in refused.json()["detail"]


def test_status_moves_one_step_at_a_time_and_only_for_staff(catalog: Api) -> None:
    order = catalog.place([("A", 1)]).json()
    path = f"/orders/{order['id']}"
    assert catalog.call("PATCH", path, json={"status": "CONFIRMED"}).status_code == 403
    skip = catalog.call("PATCH", path, admin=True, json={"status": "SHIPPED"})
    assert skip.status_code == 409
    assert skip.json()["current_status"] == "PENDING"
    assert "PENDING" in skip.json()["detail"]
    versions = []
    for status in ("CONFIRMED", "SHIPPED", "DELIVERED"):
        moved = catalog.call("PATCH", path, user="staff", admin=True, json={"status": status})
        assert moved.status_code == 200
        assert moved.json()["status"] == status
        versions.append(moved.json()["version"])
    assert versions == [2, 3, 4]
    back = catalog.call("PATCH", path, admin=True, json={"status": "PENDING"})
    assert back.status_code == 409
    assert back.json()["current_status"] == "DELIVERED"


def test_address_changes_while_pending_only_by_its_customer(catalog: Api) -> None:
    order = catalog.place([("A", 1)]).json()
    path = f"/orders/{order['id']}"
    new_address = {**ADDRESS, "city": "Paris", "country": "FR", "line2": "Flat 2"}
    changed = catalog.call("PATCH", path, json={"shipping_address": new_address})
    assert changed.status_code == 200
    assert changed.json()["shipping_address"] == new_address
    assert changed.json()["version"] == 2
    staff = catalog.call(
        "PATCH", path, user="staff", admin=True, json={"shipping_address": ADDRESS}
    )
    assert staff.status_code == 403
    catalog.call("PATCH", path, admin=True, json={"status": "CONFIRMED"})
    late = catalog.call("PATCH", path, json={"shipping_address": ADDRESS})
    assert late.status_code == 409
    assert catalog.call("GET", path).json()["shipping_address"]["city"] == "Paris"


def test_patch_with_both_or_neither_field_is_422(catalog: Api) -> None:
    order = catalog.place([("A", 1)]).json()
    path = f"/orders/{order['id']}"
    for body in ({}, {"status": "CONFIRMED", "shipping_address": ADDRESS}, {"status": "LOST"}):
        assert catalog.call("PATCH", path, admin=True, json=body).status_code == 422
    assert catalog.call("GET", path).json()["version"] == 1


def test_if_match_on_order_changes(catalog: Api) -> None:
    order = catalog.place([("A", 1)]).json()
    path = f"/orders/{order['id']}"
    stale = catalog.call("POST", f"{path}/cancel", headers={"If-Match": '"2"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == PROBLEM
    garbage = catalog.call("POST", f"{path}/cancel", headers={"If-Match": "garbage"})
    assert garbage.status_code in (400, 422)
    assert catalog.call("GET", path).json()["status"] == "PENDING"
    assert stock(catalog, "A") == 9
    ok = catalog.call(
        "PATCH", path, headers={"If-Match": '"1"'}, json={"shipping_address": ADDRESS}
    )
    assert ok.status_code == 200
    assert catalog.call("POST", f"{path}/cancel", headers={"If-Match": '"2"'}).status_code == 200


def test_idempotency_key_replays_the_first_response(catalog: Api) -> None:
    first = catalog.place([("A", 2)], key="order-123")
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = catalog.place([("A", 2)], key="order-123")
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert stock(catalog, "A") == 8
    assert len(catalog.call("GET", "/orders").json()["items"]) == 1


def test_idempotent_replay_is_the_first_response_even_after_the_order_changed(catalog: Api) -> None:
    first = catalog.place([("A", 1)], key="k1").json()
    catalog.call("POST", f"/orders/{first['id']}/cancel")
    again = catalog.place([("A", 1)], key="k1")
    assert again.json() == first
    assert stock(catalog, "A") == 10


def test_idempotency_key_with_another_body_is_422(catalog: Api) -> None:
    catalog.place([("A", 1)], key="k2")
    other = catalog.place([("A", 2)], key="k2")
    assert other.status_code == 422
    assert other.headers["content-type"] == PROBLEM
    assert stock(catalog, "A") == 9


def test_idempotency_keys_are_scoped_to_the_caller(catalog: Api) -> None:
    alice = catalog.place([("A", 1)], key="same", user="alice").json()
    bob = catalog.place([("A", 1)], key="same", user="bob")
    assert bob.status_code == 201
    assert "idempotent-replayed" not in bob.headers
    assert bob.json()["id"] != alice["id"]


def test_a_rejected_request_does_not_use_up_its_key(catalog: Api) -> None:
    assert catalog.place([("A", 11)], key="retry-me").status_code == 409
    catalog.call("PATCH", "/products/A", admin=True, json={"stock_delta": 5})
    retried = catalog.place([("A", 11)], key="retry-me")
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "del\x7f"])
def test_invalid_idempotency_keys_are_rejected(catalog: Api, key: str) -> None:
    response = catalog.call(
        "POST",
        "/orders",
        headers={"Idempotency-Key": key},
        json={"items": [{"sku": "A", "quantity": 1}], "shipping_address": ADDRESS},
    )
    assert 400 <= response.status_code < 500
    assert stock(catalog, "A") == 10
