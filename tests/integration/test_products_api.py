"""The catalog over HTTP, against moto: who may do what, and what they get back."""

from __future__ import annotations

from tests.conftest import Api
from tests.engines import BOTH_ENGINES

pytestmark = [BOTH_ENGINES]

PROBLEM = "application/problem+json"


def test_staff_create_a_product_and_anyone_reads_it(api: Api) -> None:
    created = api.call(
        "POST",
        "/products",
        user="staff",
        admin=True,
        json={"sku": "MUG-1", "name": "Mug", "price": 1299, "currency": "EUR", "stock": 3},
    )
    assert created.status_code == 201
    assert created.headers["location"] == "/products/MUG-1"
    assert created.headers["etag"] == '"1"'
    body = created.json()
    assert body["sku"] == "MUG-1" and body["price"] == 1299 and body["stock"] == 3
    assert body["version"] == 1 and body["created_at"].endswith("Z")

    fetched = api.call("GET", "/products/MUG-1", user="bob")
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert fetched.headers["etag"] == '"1"'


def test_duplicate_sku_is_409(api: Api) -> None:
    api.add_product("DUP")
    again = api.call(
        "POST",
        "/products",
        user="staff",
        admin=True,
        json={"sku": "DUP", "name": "Other", "price": 1, "currency": "EUR", "stock": 1},
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM


def test_customers_cannot_touch_the_catalog(api: Api) -> None:
    api.add_product("P1")
    create = api.call(
        "POST",
        "/products",
        json={"sku": "P2", "name": "x", "price": 1, "currency": "EUR", "stock": 1},
    )
    patch = api.call("PATCH", "/products/P1", json={"price": 1})
    assert (create.status_code, patch.status_code) == (403, 403)
    assert api.call("GET", "/products/P1").json()["price"] == 1000


def test_unknown_product_is_404(api: Api) -> None:
    assert api.call("GET", "/products/NOPE").status_code == 404
    assert api.call("GET", "/products/lower-case").status_code == 404
    assert api.call("PATCH", "/products/NOPE", admin=True, json={"price": 5}).status_code == 404


def test_patch_changes_fields_and_bumps_version(api: Api) -> None:
    api.add_product("P1", stock=5)
    changed = api.call(
        "PATCH", "/products/P1", admin=True, json={"name": "New", "price": 7, "stock_delta": -2}
    )
    assert changed.status_code == 200
    body = changed.json()
    assert (body["name"], body["price"], body["stock"], body["version"]) == ("New", 7, 3, 2)
    assert changed.headers["etag"] == '"2"'


def test_stock_never_goes_below_zero(api: Api) -> None:
    api.add_product("P1", stock=2)
    refused = api.call("PATCH", "/products/P1", admin=True, json={"stock_delta": -3})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM
    assert api.call("GET", "/products/P1").json()["stock"] == 2


def test_if_match_guards_product_changes(api: Api) -> None:
    api.add_product("P1")
    stale = api.call(
        "PATCH", "/products/P1", admin=True, headers={"If-Match": '"7"'}, json={"price": 1}
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 1
    fresh = api.call(
        "PATCH", "/products/P1", admin=True, headers={"If-Match": '"1"'}, json={"price": 1}
    )
    assert fresh.status_code == 200
    assert api.call("GET", "/products/P1").json()["price"] == 1


def test_invalid_products_are_422_with_field_errors(api: Api) -> None:
    bad = [
        {"sku": "bad sku", "name": "x", "price": 1, "currency": "EUR", "stock": 1},
        {"sku": "A", "name": "", "price": 1, "currency": "EUR", "stock": 1},
        {"sku": "A", "name": "x", "price": 100_000_001, "currency": "EUR", "stock": 1},
        {"sku": "A", "name": "x", "price": 1.5, "currency": "EUR", "stock": 1},
        {"sku": "A", "name": "x", "price": 1, "currency": "XXX", "stock": 1},
        {"sku": "A", "name": "x", "price": 1, "currency": "EUR", "stock": -1},
        {"sku": "A", "name": "x", "price": 1, "currency": "EUR", "stock": 1, "extra": 1},
        {"sku": "A", "name": "x", "price": "1", "currency": "EUR", "stock": 1},
    ]
    for body in bad:
        response = api.call("POST", "/products", admin=True, json=body)
        assert response.status_code == 422, body
        problem = response.json()
        assert response.headers["content-type"] == PROBLEM
        assert problem["errors"] and all({"field", "message"} <= set(e) for e in problem["errors"])
    assert api.call("GET", "/products/A").status_code == 404


def test_empty_or_null_patch_is_422(api: Api) -> None:
    api.add_product("P1")
    for body in ({}, {"price": None}, {"currency": "USD"}):
        assert api.call("PATCH", "/products/P1", admin=True, json=body).status_code == 422
    assert api.call("GET", "/products/P1").json()["version"] == 1


def test_catalog_pages_in_sku_order_across_shards(api: Api) -> None:
    skus = [f"SKU-{i:02d}" for i in range(25)]
    for sku in reversed(skus):
        api.add_product(sku)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        page = api.call("GET", "/products", params=params).json()
        seen += [p["sku"] for p in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == skus
    assert pages == 3
