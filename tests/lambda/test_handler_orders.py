"""The shop through the Lambda handler, for HTTP API (2.0) and REST API (1.0) events: staff
build the catalog, a customer orders, reads, lists and cancels, identity from the authorizer."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Gateway, new_sku, new_user

STAFF_GROUPS = [["admin"], ["ops", "admin"], "[admin ops]", "[admin]", "admin", '["ops","admin"]']


def _product(sku: str, stock: int = 5) -> dict[str, Any]:
    return {"sku": sku, "name": f"Mug {sku}", "price": 1250, "currency": "EUR", "stock": stock}


@pytest.mark.parametrize(
    "groups", STAFF_GROUPS, ids=["list", "list-2", "flat-2", "flat-1", "plain", "json-string"]
)
def test_staff_create_a_product_whatever_form_groups_arrive_in(
    gateway: Gateway, groups: Any
) -> None:
    sku = new_sku()
    result = gateway.call("POST", "/products", user="staff-1", groups=groups, body=_product(sku))
    assert result.status == 201, result.raw
    assert result.headers["location"] == f"/products/{sku}"
    assert result.headers["etag"] == '"1"'
    assert result.json()["sku"] == sku

    fetched = gateway.call("GET", f"/products/{sku}", user="someone")
    assert fetched.status == 200
    assert fetched.json()["stock"] == 5


@pytest.mark.parametrize(
    "groups",
    [None, [], ["customers"], "[customers ops]", "[administrators]", ["Admin"]],
    ids=["no-groups", "empty", "customers", "flat-others", "prefix-lookalike", "wrong-case"],
)
def test_non_staff_cannot_create_a_product(gateway: Gateway, groups: Any) -> None:
    sku = new_sku()
    body = gateway.call("POST", "/products", user="bob", groups=groups, body=_product(sku)).problem(
        403
    )
    assert body["type"] == "urn:order-api:problem:forbidden"
    gateway.call("GET", f"/products/{sku}").problem(404)


@pytest.mark.parametrize("is_base64", [False, True], ids=["plain-body", "base64-body"])
def test_customer_order_flow(gateway: Gateway, is_base64: bool) -> None:
    sku = new_sku()
    gateway.add_product(sku, stock=5)
    customer = new_user()

    placed = gateway.call(
        "POST",
        "/orders",
        user=customer,
        groups=["customers"],
        body=gateway.order_body(sku, 2),
        is_base64=is_base64,
    )
    assert placed.status == 201, placed.raw
    order = placed.json()
    assert order["customer_id"] == customer
    assert order["status"] == "PENDING"
    assert order["total"] == 2500
    assert order["items"] == [
        {"sku": sku, "name": f"Mug {sku}", "quantity": 2, "unit_price": 1250, "line_total": 2500}
    ]
    assert placed.headers["location"] == f"/orders/{order['id']}"
    assert placed.headers["etag"] == '"1"'
    assert gateway.call("GET", f"/products/{sku}").json()["stock"] == 3

    got = gateway.call("GET", f"/orders/{order['id']}", user=customer)
    assert got.status == 200
    assert got.headers["etag"] == f'"{got.json()["version"]}"'
    assert got.json() == order

    listed = gateway.call("GET", "/orders", user=customer, query={"status": "PENDING"})
    assert listed.status == 200
    assert [o["id"] for o in listed.json()["items"]] == [order["id"]]
    assert listed.json()["next_cursor"] is None

    cancelled = gateway.call(
        "POST", f"/orders/{order['id']}/cancel", user=customer, headers={"If-Match": '"1"'}
    )
    assert cancelled.status == 200, cancelled.raw
    assert cancelled.json()["status"] == "CANCELLED"
    assert cancelled.headers["etag"] == f'"{cancelled.json()["version"]}"'
    assert gateway.call("GET", f"/products/{sku}").json()["stock"] == 5


def test_orders_are_private_to_their_customer(gateway: Gateway) -> None:
    sku = new_sku()
    gateway.add_product(sku)
    owner, other = new_user(), new_user()
    order = gateway.call("POST", "/orders", user=owner, body=gateway.order_body(sku)).json()

    gateway.call("GET", f"/orders/{order['id']}", user=other).problem(404)
    gateway.call("POST", f"/orders/{order['id']}/cancel", user=other).problem(404)
    assert gateway.call("GET", "/orders", user=other).json()["items"] == []
    # The dev header naming the owner changes nothing.
    gateway.call(
        "GET", f"/orders/{order['id']}", user=other, headers={"X-Dev-User": owner}
    ).problem(404)


@pytest.mark.parametrize("groups", [["admin"], "[admin ops]"], ids=["list", "flat"])
def test_staff_order_flow(gateway: Gateway, groups: Any) -> None:
    sku = new_sku()
    gateway.add_product(sku, stock=4)
    customer = new_user()
    order = gateway.call("POST", "/orders", user=customer, body=gateway.order_body(sku, 1)).json()

    got = gateway.call("GET", f"/orders/{order['id']}", user="staff-2", groups=groups)
    assert got.status == 200
    assert got.json()["customer_id"] == customer

    listed = gateway.call(
        "GET",
        "/orders",
        user="staff-2",
        groups=groups,
        query={"customer_id": customer, "limit": "10"},
    )
    assert listed.status == 200
    assert [o["id"] for o in listed.json()["items"]] == [order["id"]]

    confirmed = gateway.call(
        "PATCH",
        f"/orders/{order['id']}",
        user="staff-2",
        groups=groups,
        body={"status": "CONFIRMED"},
        headers={"If-Match": '"1"'},
    )
    assert confirmed.status == 200, confirmed.raw
    assert confirmed.json()["status"] == "CONFIRMED"
    version = confirmed.json()["version"]

    stale = gateway.call(
        "POST",
        f"/orders/{order['id']}/cancel",
        user="staff-2",
        groups=groups,
        headers={"If-Match": '"1"'},
    )
    assert stale.problem(412)["current_version"] == version
    assert stale.headers["etag"] == f'"{version}"'

    cancelled = gateway.call(
        "POST",
        f"/orders/{order['id']}/cancel",
        user="staff-2",
        groups=groups,
        headers={"If-Match": f'"{version}"'},
    )
    assert cancelled.status == 200
    assert cancelled.json()["status"] == "CANCELLED"
    assert gateway.call("GET", f"/products/{sku}").json()["stock"] == 4


def test_a_customer_cannot_use_staff_filters(gateway: Gateway) -> None:
    result = gateway.call("GET", "/orders", user=new_user(), query={"customer_id": "someone"})
    result.problem(403)


def test_list_pages_through_query_parameters(gateway: Gateway) -> None:
    sku = new_sku()
    gateway.add_product(sku, stock=10)
    customer = new_user()
    ids = [
        gateway.call("POST", "/orders", user=customer, body=gateway.order_body(sku)).json()["id"]
        for _ in range(3)
    ]
    first = gateway.call("GET", "/orders", user=customer, query={"limit": "2"}).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = gateway.call(
        "GET", "/orders", user=customer, query={"limit": "2", "cursor": first["next_cursor"]}
    ).json()
    seen = [o["id"] for o in first["items"] + second["items"]]
    assert seen == sorted(ids, reverse=True)
    # Someone else's cursor is refused.
    gateway.call("GET", "/orders", user=new_user(), query={"cursor": first["next_cursor"]}).problem(
        400
    )


def test_validation_failure_is_422_with_errors(gateway: Gateway) -> None:
    body = gateway.call("POST", "/orders", body={"items": [], "shipping_address": {}}).problem(422)
    assert body["errors"]
    assert all({"field", "message"} <= e.keys() for e in body["errors"])


def test_short_stock_is_409_naming_the_sku(gateway: Gateway) -> None:
    sku = new_sku()
    gateway.add_product(sku, stock=1)
    body = gateway.call("POST", "/orders", body=gateway.order_body(sku, 2)).problem(409)
    assert body["skus"] == [sku]


@pytest.mark.parametrize("is_base64", [False, True], ids=["plain-body", "base64-body"])
def test_idempotency_key_replay_through_the_handler(gateway: Gateway, is_base64: bool) -> None:
    sku = new_sku()
    gateway.add_product(sku, stock=5)
    customer = new_user()
    key = f"checkout-{new_user()}"

    def place(quantity: int = 1) -> Any:
        return gateway.call(
            "POST",
            "/orders",
            user=customer,
            headers={"Idempotency-Key": key},
            body=gateway.order_body(sku, quantity),
            is_base64=is_base64,
        )

    first = place()
    assert first.status == 201
    assert "idempotent-replayed" not in first.headers

    again = place()
    assert again.status == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.body == first.body
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]

    assert gateway.call("GET", f"/products/{sku}").json()["stock"] == 4
    assert len(gateway.call("GET", "/orders", user=customer).json()["items"]) == 1

    assert place(quantity=2).problem(422)["type"] == (
        "urn:order-api:problem:idempotency-key-reused"
    )
    # The key is the caller's: another customer with the same key places their own order.
    other = gateway.call(
        "POST",
        "/orders",
        user=new_user(),
        headers={"Idempotency-Key": key},
        body=gateway.order_body(sku),
    )
    assert other.status == 201
    assert "idempotent-replayed" not in other.headers
    assert other.json()["id"] != first.json()["id"]


def test_same_order_in_both_payload_versions_is_one_service(gateway: Gateway) -> None:
    # The REST and HTTP APIs front one table: an order placed through one is readable
    # through the other, for the same verified subject.
    sku = new_sku()
    gateway.add_product(sku)
    customer = new_user()
    order = gateway.call("POST", "/orders", user=customer, body=gateway.order_body(sku)).json()
    other_version = Gateway(gateway.main, "1.0" if gateway.version == "2.0" else "2.0")
    got = other_version.call("GET", f"/orders/{order['id']}", user=customer)
    assert got.status == 200
    assert got.json()["id"] == order["id"]
