"""Order lists: newest first, filters, pagination, and cursors that only work for their owner."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.engines import BOTH_ENGINES

pytestmark = [BOTH_ENGINES]


@pytest.fixture
def shop(api: Api) -> Api:
    api.add_product("A", stock=1000)
    return api


def walk(api: Api, path: str, user: str, admin: bool = False, limit: int = 3) -> list[str]:
    path, _, query = path.partition("?")
    filters = dict(pair.split("=") for pair in query.split("&") if pair)
    ids: list[str] = []
    cursor = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": limit, **filters}
        if cursor:
            params["cursor"] = cursor
        response = api.call("GET", path, user=user, admin=admin, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        ids += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("pagination did not end")


def test_own_orders_newest_first_across_pages(shop: Api) -> None:
    placed = [shop.place([("A", 1)]).json()["id"] for _ in range(7)]
    shop.place([("A", 1)], user="bob")
    assert walk(shop, "/orders", "alice") == list(reversed(placed))


def test_last_page_has_null_cursor_even_when_full(shop: Api) -> None:
    for _ in range(3):
        shop.place([("A", 1)])
    page = shop.call("GET", "/orders", params={"limit": 3}).json()
    assert len(page["items"]) == 3
    assert page["next_cursor"] is None


def test_own_orders_filtered_by_status(shop: Api) -> None:
    ids = [shop.place([("A", 1)]).json()["id"] for _ in range(4)]
    shop.call("POST", f"/orders/{ids[1]}/cancel")
    shop.call("POST", f"/orders/{ids[3]}/cancel")
    assert walk(shop, "/orders?status=CANCELLED", "alice", limit=1) == [ids[3], ids[1]]
    assert walk(shop, "/orders?status=PENDING", "alice") == [ids[2], ids[0]]


def test_staff_list_any_customer_or_every_order_in_a_status(shop: Api) -> None:
    alice = [shop.place([("A", 1)], user="alice").json()["id"] for _ in range(3)]
    bob = [shop.place([("A", 1)], user="bob").json()["id"] for _ in range(4)]
    shop.call("PATCH", f"/orders/{bob[0]}", admin=True, json={"status": "CONFIRMED"})
    assert walk(shop, "/orders?customer_id=alice", "staff", admin=True) == alice[::-1]
    pending = walk(shop, "/orders?status=PENDING", "staff", admin=True, limit=2)
    assert pending == sorted(alice + bob[1:], reverse=True)
    both = walk(shop, "/orders?customer_id=bob&status=CONFIRMED", "staff", admin=True)
    assert both == [bob[0]]
    assert walk(shop, "/orders", "staff", admin=True) == []


def test_customers_may_name_themselves_but_nobody_else(shop: Api) -> None:
    mine = shop.place([("A", 1)]).json()["id"]
    assert walk(shop, "/orders?customer_id=alice", "alice") == [mine]
    assert shop.call("GET", "/orders?customer_id=bob").status_code == 403


def test_cursors_only_work_for_their_caller_and_query(shop: Api) -> None:
    for _ in range(3):
        shop.place([("A", 1)])
        shop.place([("A", 1)], user="bob")
    cursor = shop.call("GET", "/orders", params={"limit": 1}).json()["next_cursor"]
    assert cursor
    assert shop.call("GET", "/orders", params={"cursor": cursor}).status_code == 200
    foreign = shop.call("GET", "/orders", user="bob", params={"cursor": cursor})
    other_query = shop.call("GET", "/orders", params={"cursor": cursor, "status": "PENDING"})
    products = shop.call("GET", "/products", params={"cursor": cursor})
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    altered = shop.call("GET", "/orders", params={"cursor": tampered})
    truncated = shop.call("GET", "/orders", params={"cursor": cursor[:10]})
    garbage = shop.call("GET", "/orders", params={"cursor": "!!!not-a-cursor!!!"})
    for response in (foreign, other_query, products, altered, truncated, garbage):
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5"])
def test_limit_out_of_range_is_422(shop: Api, limit: str) -> None:
    assert shop.call("GET", "/orders", params={"limit": limit}).status_code == 422
    assert shop.call("GET", "/products", params={"limit": limit}).status_code == 422


def test_unknown_status_filter_is_422(shop: Api) -> None:
    assert shop.call("GET", "/orders?status=LOST").status_code == 422
