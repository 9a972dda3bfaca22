"""Hostile input: whatever a client sends, the answer is a clear problem+json 4xx (never a 5xx,
never a stack trace) and nothing is written.

"Nothing is written" is checked on the data itself: the whole table (products with their stock
and versions, orders, idempotency records) is read before and after each hostile request and must
be identical. Cases already covered by test_orders_api.py / test_errors.py / test_lists.py are not
repeated here; these go further.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ADDRESS, Api
from tests.engines import BOTH_ENGINES

pytestmark = [BOTH_ENGINES]

PROBLEM = "application/problem+json"
JSON = {"Content-Type": "application/json"}
ORDER_OK = {"items": [{"sku": "A", "quantity": 1}], "shipping_address": ADDRESS}


def _table(dynamodb: Any, table_name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**params)  # a test's view of everything; the service never scans
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class Shop:
    """The API plus a view of the whole table, to prove that refused requests wrote nothing."""

    def __init__(self, api: Api, dynamodb: Any, table_name: str) -> None:
        self.api = api
        self.dynamodb = dynamodb
        self.table_name = table_name
        api.add_product("A", stock=10)
        api.add_product("B", stock=10)
        placed = api.place([("A", 2)], key="first")
        assert placed.status_code == 201, placed.text
        self.order = placed.json()

    def snapshot(self) -> list[dict[str, Any]]:
        return _table(self.dynamodb, self.table_name)

    def refused(self, status: int | tuple[int, ...], method: str, path: str, **kw: Any) -> Any:
        """Send the request; assert a problem+json 4xx with `status`, and an unchanged table."""
        before = self.snapshot()
        response = self.api.call(method, path, **kw)
        expected = (status,) if isinstance(status, int) else status
        assert response.status_code in expected, (response.status_code, response.text[:500])
        assert response.headers["content-type"] == PROBLEM, response.headers
        body = response.json()
        assert body["status"] == response.status_code
        assert {"type", "title", "detail"} <= set(body)
        assert "Traceback" not in response.text and 'File "' not in response.text
        assert self.snapshot() == before, "a refused request changed the table"
        return body


@pytest.fixture
def shop(api: Api, dynamodb: Any, table_name: str) -> Shop:
    return Shop(api, dynamodb, table_name)


def _order_body(**changes: Any) -> dict[str, Any]:
    return {**ORDER_OK, **changes}


# -- size ---------------------------------------------------------------------------------------


def test_body_one_byte_over_64_kib_is_413_and_just_under_is_read(shop: Shop) -> None:
    padding = " " * (64 * 1024 - len(json.dumps(ORDER_OK)))
    exact = (json.dumps(ORDER_OK) + padding).encode()
    assert len(exact) == 64 * 1024
    shop.refused(413, "POST", "/orders", content=exact + b" ", headers=JSON)
    assert shop.api.call("POST", "/orders", content=exact, headers=JSON).status_code == 201


def test_streamed_body_without_content_length_is_cut_at_64_kib(shop: Shop) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"items": ['
        for _ in range(5000):  # ~130 KB, sent chunked: no Content-Length to trust
            yield b'{"sku": "A", "quantity": 1},'
        yield b"]}"

    shop.refused(413, "POST", "/orders", content=chunks(), headers=JSON)


def test_lying_content_length_over_the_limit_is_413(shop: Shop) -> None:
    headers = {**JSON, "Content-Length": str(10**12)}
    shop.refused(413, "PATCH", f"/orders/{shop.order['id']}", content=b"{}", headers=headers)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"items":' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        b'{"shipping_address":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_000 + b"}",
    ],
    ids=["arrays-30000-deep", "objects-10000-deep"],
)
def test_deeply_nested_json_is_400(shop: Shop, raw: bytes) -> None:
    assert len(raw) < 64 * 1024
    shop.refused(400, "POST", "/orders", content=raw, headers=JSON)


def test_huge_json_within_the_size_limit_is_422(shop: Shop) -> None:
    many_lines = [{"sku": "A", "quantity": 1}] * 2_000  # 2,000 lines; at most 500 are read
    shop.refused(422, "POST", "/orders", json=_order_body(items=many_lines))
    many_keys = {**ORDER_OK, **{f"k{i}": i for i in range(5_000)}}  # unknown fields
    body = shop.refused(422, "POST", "/orders", json=many_keys)
    assert len(json.dumps(body)) < 1_500_000


# -- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "quantity",
    [
        2**63,
        2**64 + 1,
        -(2**63) - 1,
        10**38,
        10**39 + 1,
        int("9" * 4000),  # the longest Python parses by default
        1.0,
        1.5,
        1e3,
        True,
        "1",
        None,
        [],
        {"$gt": 0},
    ],
    ids=repr,
)
def test_quantities_that_are_not_small_integers_are_422(shop: Shop, quantity: Any) -> None:
    raw = json.dumps(_order_body(items=[{"sku": "A", "quantity": quantity}]))
    shop.refused(422, "POST", "/orders", content=raw.encode(), headers=JSON)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-0.0"])
def test_nan_and_infinity_literals_are_refused(shop: Shop, literal: str) -> None:
    order = (
        f'{{"items":[{{"sku":"A","quantity":{literal}}}],"shipping_address":{json.dumps(ADDRESS)}}}'
    )
    shop.refused((400, 422), "POST", "/orders", content=order.encode(), headers=JSON)
    patch = f'{{"price":{literal}}}'
    shop.refused(
        (400, 422), "PATCH", "/products/A", admin=True, content=patch.encode(), headers=JSON
    )


@pytest.mark.parametrize(
    "field",
    [
        {"price": 10**38},
        {"price": 2**64},
        {"price": 100_000_001},
        {"price": -1},
        {"price": 9.99},
        {"stock": 2**63},
        {"stock": -1},
        {"stock": 1.0},
    ],
    ids=repr,
)
def test_product_numbers_out_of_range_are_422(shop: Shop, field: dict[str, Any]) -> None:
    product = {"sku": "NEW", "name": "New", "price": 100, "currency": "EUR", "stock": 1, **field}
    shop.refused(422, "POST", "/products", admin=True, json=product)


@pytest.mark.parametrize("delta", [2**64, -(2**64), 10**39, 1_000_000_001, 0.5])
def test_stock_deltas_beyond_range_are_422(shop: Shop, delta: Any) -> None:
    shop.refused(422, "PATCH", "/products/A", admin=True, json={"stock_delta": delta})


# -- text ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["bad\u0000", "tab\there", "new\nline", "\u007f", "\u0085next-line", "\u009b[31m", " ", ""],
    ids=repr,
)
def test_control_characters_in_names_are_422(shop: Shop, name: str) -> None:
    shop.refused(422, "PATCH", "/products/A", admin=True, json={"name": name})
    address = {**ADDRESS, "line1": name}
    shop.refused(422, "POST", "/orders", json=_order_body(shipping_address=address))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "\xff\xfe"}',
        b'{"name": "\xc0\xaf"}',  # overlong "/"
        b'{"name": "\xed\xa0\x80"}',  # an encoded surrogate
        b'{"name": "\\ud800"}',  # a lone surrogate, escaped
        b'{"name": "\\udfff tail"}',
    ],
    ids=["ff-fe", "overlong", "utf8-surrogate", "lone-high", "lone-low"],
)
def test_invalid_utf8_and_lone_surrogates_are_refused(shop: Shop, raw: bytes) -> None:
    shop.refused((400, 422), "PATCH", "/products/A", admin=True, content=raw, headers=JSON)


@pytest.mark.parametrize(
    "sku",
    [
        "\uff21",  # fullwidth A
        "A\u0301",  # A + combining acute
        "\u212a",  # Kelvin sign, which case-folds to k
        "\u0410",  # Cyrillic A
        "\u0661",  # Arabic-Indic one
        "a",
        "A ",
        " A",
        "A\u200b",  # zero-width space
        "-A",
        "A" * 65,
    ],
    ids=repr,
)
def test_lookalike_skus_are_refused_never_matched_to_a_real_product(shop: Shop, sku: str) -> None:
    shop.refused(422, "POST", "/orders", json=_order_body(items=[{"sku": sku, "quantity": 1}]))
    product = {"sku": sku, "name": "Fake", "price": 1, "currency": "EUR", "stock": 1}
    shop.refused(422, "POST", "/products", admin=True, json=product)
    shop.refused(404, "PATCH", f"/products/{sku}", admin=True, json={"stock_delta": -1})
    assert shop.api.call("GET", f"/products/{sku}").status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        "'; DROP TABLE orders; --",
        '" OR "1"="1',
        '{"$gt": ""}',
        "#stock = #stock + :delta",
        "attribute_not_exists(PK)",
        "${jndi:ldap://127.0.0.1/x}",
        "<script>alert(1)</script>",
        "../../etc/passwd",
        "\u202eevil\u202c",  # right-to-left override: printable, kept as is
    ],
)
def test_injection_looking_text_is_stored_verbatim_and_harmless(shop: Shop, name: str) -> None:
    renamed = shop.api.call("PATCH", "/products/B", user="staff", admin=True, json={"name": name})
    assert renamed.status_code == 200, renamed.text
    assert shop.api.call("GET", "/products/B").json()["name"] == name
    address = {**ADDRESS, "name": name, "line1": name, "city": name[:100]}
    placed = shop.api.call("POST", "/orders", json=_order_body(shipping_address=address))
    assert placed.status_code == 201, placed.text
    stored = shop.api.call("GET", f"/orders/{placed.json()['id']}").json()
    assert stored["shipping_address"]["line1"] == name
    assert shop.api.call("GET", "/products/A").json()["stock"] == 10 - 2 - 1  # only that order


def test_an_object_where_a_name_belongs_is_422(shop: Shop) -> None:
    shop.refused(422, "PATCH", "/products/A", admin=True, json={"name": {"$gt": ""}})
    address = {**ADDRESS, "name": {"$ne": None}}
    shop.refused(422, "POST", "/orders", json=_order_body(shipping_address=address))


# -- headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["a" * 129, "a" * 10_000, "alice\u00e9".encode(), "al ice", "*"])
def test_bad_dev_identities_are_401(shop: Shop, user: str) -> None:
    shop.refused(401, "POST", "/orders", user=None, headers={"X-Dev-User": user}, json=ORDER_OK)


@pytest.mark.parametrize(
    "key",
    ["k" * 10_000, "k" * 256, "caf\u00e9".encode(), "new\rline", " \x00"],
    ids=["10000", "256", "latin-1", "cr", "nul"],
)
def test_bad_idempotency_keys_are_refused_and_use_nothing_up(shop: Shop, key: str) -> None:
    shop.refused(422, "POST", "/orders", headers={"Idempotency-Key": key}, json=ORDER_OK)


def test_a_key_of_255_printable_characters_works_and_replays(shop: Shop) -> None:
    key = "".join(chr(32 + i % 95) for i in range(255))
    first = shop.api.call("POST", "/orders", headers={"Idempotency-Key": key}, json=ORDER_OK)
    assert first.status_code == 201, first.text
    again = shop.api.call("POST", "/orders", headers={"Idempotency-Key": key}, json=ORDER_OK)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


@pytest.mark.parametrize(
    "value",
    [
        'W/"1"',
        '"1", "2"',
        '"-1"',
        '"1.0"',
        '"1e0"',
        '"' + "9" * 19 + '"',
        '""',
        "1",
        '"1',
        '"\uff11"'.encode(),
        "x" * 10_000,
    ],
)
def test_if_match_garbage_is_422_and_changes_nothing(shop: Shop, value: str) -> None:
    order = f"/orders/{shop.order['id']}"
    headers = {"If-Match": value}
    shop.refused(422, "POST", f"{order}/cancel", headers=headers)
    shop.refused(422, "PATCH", order, headers=headers, json={"shipping_address": ADDRESS})
    shop.refused(422, "PATCH", "/products/A", admin=True, headers=headers, json={"price": 1})


def test_stale_or_future_if_match_is_412_and_changes_nothing(shop: Shop) -> None:
    order = f"/orders/{shop.order['id']}"
    product = shop.api.call("GET", "/products/A").json()["version"]
    for version in (0, 2, 10**17):
        headers = {"If-Match": f'"{version}"'}
        body = shop.refused(412, "POST", f"{order}/cancel", headers=headers)
        assert body["current_version"] == 1
        body = shop.refused(
            412, "PATCH", order, headers=headers, json={"shipping_address": ADDRESS}
        )
        assert body["current_version"] == 1
    for version in (0, product - 1, product + 1, 10**17):
        headers = {"If-Match": f'"{version}"'}
        body = shop.refused(
            412, "PATCH", "/products/A", admin=True, headers=headers, json={"price": 1}
        )
        assert body["current_version"] == product


# -- ids and paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order_id",
    [
        "..%2F..%2Fproducts%2FA",
        "%2e%2e",
        "..%5C..%5Cproducts",
        "01ARZ3NDEKTSV4RRFFQ69G5FAV%00",
        "01arz3ndektsv4rrffq69g5fav",  # a ULID in lower case is another id
        "01ARZ3NDEKTSV4RRFFQ69G5FA%E2%80%8B",
        "%7B%22%24gt%22%3A%22%22%7D",  # {"$gt":""}
        "*",
        "x" * 5000,
    ],
)
def test_path_traversal_and_odd_order_ids_are_404(shop: Shop, order_id: str) -> None:
    shop.refused(404, "GET", f"/orders/{order_id}")
    shop.refused(404, "POST", f"/orders/{order_id}/cancel")
    shop.refused(404, "PATCH", f"/orders/{order_id}", json={"shipping_address": ADDRESS})


def test_the_real_order_cannot_be_reached_by_another_customer_through_odd_paths(
    shop: Shop,
) -> None:
    order_id = shop.order["id"]
    for path in (f"/orders/{order_id}", f"/orders/{order_id.lower()}", f"/orders/{order_id}%20"):
        shop.refused(404, "GET", path, user="mallory")
        shop.refused(404, "POST", f"{path}/cancel", user="mallory")


@pytest.mark.parametrize("customer_id", ["alice#x", "alice\u0000", "a" * 257, ""])
def test_odd_customer_filters_are_422(shop: Shop, customer_id: str) -> None:
    shop.refused(
        422, "GET", "/orders", user="staff", admin=True, params={"customer_id": customer_id}
    )


# -- cursors ------------------------------------------------------------------------------------


def _pages(shop: Shop) -> str:
    for _ in range(4):
        assert shop.api.place([("B", 1)]).status_code == 201
    first = shop.api.call("GET", "/orders", params={"limit": 2})
    cursor: str = first.json()["next_cursor"]
    assert cursor
    return cursor


def test_altered_cursors_are_400(shop: Shop) -> None:
    cursor = _pages(shop)
    body, mac = cursor.split(".")
    flip = {"A": "B"}.get(body[5], "A")
    altered = [
        body[:5] + flip + body[6:] + "." + mac,  # one character of the payload
        body + "." + mac[:-2],  # truncated signature
        cursor[: len(cursor) // 2],  # truncated anywhere
        body + "." + mac + "." + mac,
        body,
        "." + mac,
        cursor.upper(),
        cursor + "=",  # decodes to the same bytes: still not the cursor that was issued
        body + "=." + mac,
        body[:3] + "!" + body[3:] + "." + mac,  # base64 decoding would skip the "!"
        body[:3] + "\n" + body[3:] + "." + mac,
        "%%%." + mac,
        "\u00e9" + cursor,
        body + "." + "A" * len(mac),
    ]
    for bad in altered:
        shop.refused((400, 422), "GET", "/orders", params={"limit": 2, "cursor": bad})
    shop.refused(422, "GET", "/orders", params={"cursor": "A" * 513})


def test_cursors_replayed_by_another_caller_or_for_another_query_are_400(shop: Shop) -> None:
    cursor = _pages(shop)
    shop.refused(400, "GET", "/orders", user="mallory", params={"limit": 2, "cursor": cursor})
    shop.refused(400, "GET", "/orders", user="Alice", params={"limit": 2, "cursor": cursor})
    # (alice as staff with no filter, or naming herself, asks the same query: the cursor works.)
    for query in ({"status": "PENDING"}, {"status": "CANCELLED"}):
        shop.refused(400, "GET", "/orders", params={"limit": 2, "cursor": cursor, **query})
    shop.refused(400, "GET", "/products", params={"limit": 2, "cursor": cursor})
    # The same cursor still works for its caller and query, as often as it is replayed.
    for _ in range(2):
        again = shop.api.call("GET", "/orders", params={"limit": 2, "cursor": cursor})
        assert again.status_code == 200 and len(again.json()["items"]) == 2


def test_a_catalog_cursor_is_not_an_order_cursor(shop: Shop) -> None:
    page = shop.api.call("GET", "/products", params={"limit": 1}).json()
    assert page["next_cursor"]
    shop.refused(400, "GET", "/orders", params={"cursor": page["next_cursor"]})
    shop.refused(400, "GET", "/products", user="mallory", params={"cursor": page["next_cursor"]})


# -- lines --------------------------------------------------------------------------------------


def test_fifty_one_lines_of_one_sku_merge_into_one_line(shop: Shop) -> None:
    shop.api.add_product("MANY", stock=100)
    placed = shop.api.place([("MANY", 1)] * 51 + [("A", 1)] * 7)
    assert placed.status_code == 201, placed.text
    lines = {line["sku"]: line["quantity"] for line in placed.json()["items"]}
    assert lines == {"MANY": 51, "A": 7}
    assert shop.api.call("GET", "/products/MANY").json()["stock"] == 49


def test_merged_lines_over_the_stock_or_the_limit_reserve_nothing(shop: Shop) -> None:
    shop.refused(409, "POST", "/orders", json=_order_body(items=[{"sku": "B", "quantity": 6}] * 2))
    lines = [{"sku": "B", "quantity": 1000}, {"sku": "B", "quantity": 1}]
    shop.refused(422, "POST", "/orders", json=_order_body(items=lines))
    mixed = [
        {"sku": "A", "quantity": 1},
        {"sku": "NOPE", "quantity": 1},
        {"sku": "B", "quantity": 1},
    ]
    body = shop.refused(422, "POST", "/orders", json=_order_body(items=mixed))
    assert "NOPE" in body["detail"]


def test_a_sku_listed_twice_with_one_bad_line_is_refused_whole(shop: Shop) -> None:
    lines = [{"sku": "A", "quantity": 1}, {"sku": "A", "quantity": 0}]
    shop.refused(422, "POST", "/orders", json=_order_body(items=lines))
