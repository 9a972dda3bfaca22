"""The contract's main rows, through the deployed stack: API Gateway, the JWT authorizer with
Cognito's own tokens, the function, its table. Each test brings its own skus and customers."""

from __future__ import annotations

import pytest

from tests.conftest import ADDRESS

from .conftest import Caller, Stack

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]

PROBLEM = "application/problem+json"


def stock(caller: Caller, sku: str) -> int:
    response = caller.call("GET", f"products/{sku}")
    assert response.status_code == 200, response.text
    return int(response.json()["stock"])


def test_health_is_public_and_the_apis_own(stack: Stack) -> None:
    response = stack.http.get("health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "x-request-id" in response.headers  # the function answered, not the emulator


def test_catalog_as_staff(stack: Stack, bob: Caller, alice: Caller) -> None:
    sku = stack.new_product(bob, stock=5, price=1250)
    product = alice.call("GET", f"products/{sku}")
    assert product.status_code == 200
    assert product.json()["price"] == 1250 and product.json()["version"] == 1
    assert product.headers["etag"] == '"1"'

    again = bob.call(
        "POST",
        "products",
        json={"sku": sku, "name": "Again", "price": 1, "currency": "EUR", "stock": 1},
    )
    assert again.status_code == 409

    patched = bob.call(
        "PATCH", f"products/{sku}", json={"stock_delta": 3}, headers={"If-Match": '"1"'}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["stock"] == 8 and patched.json()["version"] == 2
    stale = bob.call("PATCH", f"products/{sku}", json={"name": "x"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    below_zero = bob.call("PATCH", f"products/{sku}", json={"stock_delta": -9})
    assert below_zero.status_code == 409
    listed = alice.call("GET", "products", params={"limit": 100})
    assert listed.status_code == 200
    assert "items" in listed.json() and "next_cursor" in listed.json()


def test_a_customer_is_refused_staff_calls(stack: Stack, bob: Caller) -> None:
    customer = stack.new_user()
    sku = stack.new_product(bob)
    create = customer.call(
        "POST",
        "products",
        json={"sku": "NOPE-1", "name": "x", "price": 1, "currency": "EUR", "stock": 1},
    )
    assert create.status_code == 403
    assert create.headers["content-type"] == PROBLEM
    assert customer.call("PATCH", f"products/{sku}", json={"stock_delta": 1}).status_code == 403
    others = customer.call("GET", "orders", params={"customer_id": "someone-else"})
    assert others.status_code == 403


def test_place_with_and_without_an_idempotency_key_and_replay(stack: Stack, bob: Caller) -> None:
    customer = stack.new_user()
    sku = stack.new_product(bob, stock=10, price=700)

    plain = customer.place([(sku, 1)])
    assert plain.status_code == 201, plain.text
    order = plain.json()
    assert order["status"] == "PENDING" and order["total"] == 700
    assert order["customer_id"] == customer.sub  # the verified token's sub, nothing else
    assert plain.headers["location"].endswith(f"/orders/{order['id']}")
    assert plain.headers["etag"] == '"1"'

    first = customer.place([(sku, 2)], key="stack-key-1")
    assert first.status_code == 201
    replay = customer.place([(sku, 2)], key="stack-key-1")
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    other_body = customer.place([(sku, 3)], key="stack-key-1")
    assert other_body.status_code == 422
    assert stock(bob, sku) == 10 - 1 - 2  # the replay reserved nothing

    fetched = customer.call("GET", f"orders/{order['id']}")
    assert fetched.status_code == 200
    assert fetched.headers["etag"] == '"1"'
    assert fetched.json() == order


def test_list_with_cursor_newest_first(stack: Stack, bob: Caller) -> None:
    customer = stack.new_user()
    sku = stack.new_product(bob, stock=10)
    placed = [customer.place([(sku, 1)]).json()["id"] for _ in range(3)]

    first = customer.call("GET", "orders", params={"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert page["next_cursor"]
    second = customer.call("GET", "orders", params={"limit": 2, "cursor": page["next_cursor"]})
    assert second.status_code == 200
    ids = [o["id"] for o in page["items"]] + [o["id"] for o in second.json()["items"]]
    assert ids == list(reversed(placed))
    assert second.json()["next_cursor"] is None

    foreign = stack.new_user().call("GET", "orders", params={"cursor": page["next_cursor"]})
    assert foreign.status_code == 400


def test_cancel_returns_the_stock(stack: Stack, bob: Caller) -> None:
    customer = stack.new_user()
    sku = stack.new_product(bob, stock=4)
    order = customer.place([(sku, 3)]).json()
    assert stock(bob, sku) == 1
    stale = customer.call("POST", f"orders/{order['id']}/cancel", headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    cancelled = customer.call("POST", f"orders/{order['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "CANCELLED"
    assert stock(bob, sku) == 4
    again = customer.call("POST", f"orders/{order['id']}/cancel")
    assert again.status_code == 409


def test_address_change_then_status_moves(stack: Stack, bob: Caller) -> None:
    customer = stack.new_user()
    sku = stack.new_product(bob)
    order = customer.place([(sku, 1)]).json()
    path = f"orders/{order['id']}"

    moved = customer.call("PATCH", path, json={"shipping_address": {**ADDRESS, "city": "Bath"}})
    assert moved.status_code == 200, moved.text
    assert moved.json()["shipping_address"]["city"] == "Bath"
    assert moved.json()["version"] == 2

    assert customer.call("PATCH", path, json={"status": "CONFIRMED"}).status_code == 403
    for status in ("CONFIRMED", "SHIPPED"):
        step = bob.call("PATCH", path, json={"status": status})
        assert step.status_code == 200, step.text
        assert step.json()["status"] == status
    skip = bob.call("PATCH", path, json={"status": "PENDING"})
    assert skip.status_code == 409
    assert "SHIPPED" in skip.json()["detail"]
    late = customer.call("PATCH", path, json={"shipping_address": ADDRESS})
    assert late.status_code == 409


def test_isolation_between_customers(stack: Stack, bob: Caller) -> None:
    owner, other = stack.new_user(), stack.new_user()
    sku = stack.new_product(bob)
    order = owner.place([(sku, 1)]).json()
    path = f"orders/{order['id']}"

    assert other.call("GET", path).status_code == 404
    assert other.call("POST", f"{path}/cancel").status_code == 404
    assert other.call("PATCH", path, json={"shipping_address": ADDRESS}).status_code == 404
    assert other.call("GET", "orders").json()["items"] == []

    assert bob.call("GET", path).status_code == 200  # staff see every order
    theirs = bob.call("GET", "orders", params={"customer_id": owner.sub})
    assert [o["id"] for o in theirs.json()["items"]] == [order["id"]]
    assert owner.call("GET", path).json()["version"] == 1
