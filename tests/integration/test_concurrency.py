"""Concurrency over real HTTP: uvicorn serving the app, a DynamoDB behind it, and many client
threads released at once by a barrier.

Two engines (tests/engines.py): moto's threaded server, made transaction-safe by the one lock of
``lambda_app/local/dynamodb_server.py``; and DynamoDB Local, AWS's own engine, with no lock of
ours: it serializes what DynamoDB serializes and answers contention as DynamoDB does (a
``TransactionConflict`` cancellation reason), which the service must absorb.

What a user relies on (contract, "Orders"): stock never goes below zero and no order is
half-written; one Idempotency-Key creates one order and every concurrent caller gets its 201;
a cancel returns stock exactly once; If-Match lets exactly one of several editors win.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from lambda_app.api.app import create_app
from lambda_app.local.dynamodb_server import EmbeddedDynamoDB
from lambda_app.repository.client import make_client
from lambda_app.repository.tables import ensure_table
from tests import engines
from tests.conftest import ADDRESS, REGION, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("concurrency")]

PROBLEM_JSON = "application/problem+json"


@dataclass
class Service:
    base_url: str
    http: httpx.Client

    def call(
        self,
        method: str,
        path: str,
        *,
        user: str = "alice",
        admin: bool = False,
        headers: dict[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        sent = {"X-Dev-User": user, **(headers or {})}
        if admin:
            sent["X-Dev-Groups"] = "admin"
        return self.http.request(method, path, headers=sent, json=json)

    def add_product(self, sku: str, stock: int) -> None:
        response = self.call(
            "POST",
            "/products",
            user="staff",
            admin=True,
            json={"sku": sku, "name": sku, "price": 250, "currency": "EUR", "stock": stock},
        )
        assert response.status_code == 201, response.text

    def place(
        self, sku: str, quantity: int = 1, *, user: str = "alice", key: str | None = None
    ) -> httpx.Response:
        return self.call(
            "POST",
            "/orders",
            user=user,
            headers={"Idempotency-Key": key} if key else None,
            json={"items": [{"sku": sku, "quantity": quantity}], "shipping_address": ADDRESS},
        )

    def product(self, sku: str) -> dict[str, Any]:
        response = self.call("GET", f"/products/{sku}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def orders_of(self, user: str) -> list[dict[str, Any]]:
        response = self.call("GET", "/orders?limit=100", user=user)
        assert response.status_code == 200, response.text
        return list(response.json()["items"])


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit it: without it, Nagle + delayed ACK add ~40 ms per response.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def dynamodb_endpoint(engine: str) -> Iterator[str]:
    if engine == "moto":
        with EmbeddedDynamoDB(host="127.0.0.1") as moto_server:
            yield moto_server.endpoint_url
    else:
        yield engines.local_endpoint()


@pytest.fixture(scope="module", params=engines.ENGINES)
def service(request: pytest.FixtureRequest) -> Iterator[Service]:
    """A DynamoDB and a uvicorn server on 127.0.0.1, a table of its own, stopped afterwards."""
    with dynamodb_endpoint(request.param) as endpoint:
        table = engines.unique_table("concurrency")
        client = make_client(REGION, endpoint)
        ensure_table(client, table)
        settings = make_settings(
            TABLE_NAME=table, AWS_ENDPOINT_URL_DYNAMODB=endpoint, ORDER_API_OFFLOAD=True
        )
        app = create_app(settings, client)
        sock = _free_socket()
        server = uvicorn.Server(
            uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
        )
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
        )
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not server.started:
                assert thread.is_alive(), "uvicorn failed to start"
                assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
                time.sleep(0.01)
            host, port = sock.getsockname()
            base_url = f"http://{host}:{port}"
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            with httpx.Client(base_url=base_url, timeout=30, limits=limits) as http:
                yield Service(base_url, http)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
            client.delete_table(TableName=table)
            assert not thread.is_alive(), "uvicorn did not stop"


def all_at_once(count: int, request: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """Run `request(i)` for i in range(count) on `count` threads released together."""
    barrier = threading.Barrier(count)

    def run(index: int) -> httpx.Response:
        barrier.wait(timeout=10)
        return request(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def _is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_forty_buyers_of_fifteen_units_get_exactly_fifteen_orders(service: Service) -> None:
    sku = "RACE-15"
    service.add_product(sku, stock=15)

    responses = all_at_once(40, lambda i: service.place(sku, user=f"buyer-{i}"))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 15, 409: 25}, [r.text for r in responses if r.status_code >= 500]
    for response in responses:
        if response.status_code == 409:
            problem = _is_problem(response, 409)
            assert problem["skus"] == [sku]
            assert sku in problem["detail"]

    product = service.product(sku)
    assert product["stock"] == 0
    assert product["version"] == 1 + 15  # every reservation is a change of the product

    placed = {r.json()["id"]: i for i, r in enumerate(responses) if r.status_code == 201}
    assert len(placed) == 15
    pending = service.call("GET", "/orders?status=PENDING&limit=100", user="staff", admin=True)
    assert pending.status_code == 200, pending.text
    stored = [o for o in pending.json()["items"] if o["items"][0]["sku"] == sku]
    assert {o["id"] for o in stored} == set(placed)
    assert all(o["items"] == [{**o["items"][0], "quantity": 1}] for o in stored)
    for index, response in enumerate(responses):
        mine = service.orders_of(f"buyer-{index}")
        assert len(mine) == (1 if response.status_code == 201 else 0)


def test_one_idempotency_key_sent_twenty_times_at_once_creates_one_order(
    service: Service,
) -> None:
    sku = "RACE-IDEM"
    service.add_product(sku, stock=100)

    responses = all_at_once(20, lambda _: service.place(sku, 3, user="carol", key="checkout-77"))

    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1, "every caller gets the identical body"
    assert len({(r.headers["location"], r.headers["etag"]) for r in responses}) == 1
    replayed = Counter(r.headers.get("idempotent-replayed") for r in responses)
    assert replayed == {None: 1, "true": 19}

    order = responses[0].json()
    assert [o["id"] for o in service.orders_of("carol")] == [order["id"]]
    assert service.product(sku)["stock"] == 100 - 3


def test_concurrent_cancels_of_one_order_return_its_stock_once(service: Service) -> None:
    sku = "RACE-CANCEL"
    service.add_product(sku, stock=10)
    placed = service.place(sku, 4, user="dave")
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    assert service.product(sku)["stock"] == 6

    responses = all_at_once(
        12, lambda i: service.call("POST", f"/orders/{order_id}/cancel", user="dave")
    )

    assert Counter(r.status_code for r in responses) == {200: 1, 409: 11}
    winner = next(r for r in responses if r.status_code == 200)
    assert winner.json()["status"] == "CANCELLED"
    assert winner.json()["version"] == 2
    for response in responses:
        if response.status_code == 409:
            assert _is_problem(response, 409)["current_status"] == "CANCELLED"
    product = service.product(sku)
    assert product["stock"] == 10  # returned once, not 12 times
    assert product["version"] == 3  # created, reserved, returned
    stored = service.call("GET", f"/orders/{order_id}", user="dave").json()
    assert (stored["status"], stored["version"]) == ("CANCELLED", 2)


def test_concurrent_if_match_edits_let_exactly_one_win(service: Service) -> None:
    sku = "RACE-EDIT"
    service.add_product(sku, stock=5)
    placed = service.place(sku, user="erin")
    assert placed.status_code == 201, placed.text
    order_id, etag = placed.json()["id"], placed.headers["etag"]
    assert etag == '"1"'

    def edit(index: int) -> httpx.Response:
        address = {**ADDRESS, "name": f"Editor {index}"}
        return service.call(
            "PATCH",
            f"/orders/{order_id}",
            user="erin",
            headers={"If-Match": etag},
            json={"shipping_address": address},
        )

    responses = all_at_once(12, edit)

    assert Counter(r.status_code for r in responses) == {200: 1, 412: 11}
    winner = next(r for r in responses if r.status_code == 200)
    assert winner.json()["version"] == 2
    assert winner.headers["etag"] == '"2"'
    for response in responses:
        if response.status_code == 412:
            assert _is_problem(response, 412)["current_version"] == 2
    stored = service.call("GET", f"/orders/{order_id}", user="erin")
    assert stored.json()["version"] == 2
    assert stored.json()["shipping_address"] == winner.json()["shipping_address"]
    assert stored.headers["etag"] == '"2"'
