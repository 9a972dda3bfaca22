"""One load worker (a process of its own): a realistic mix of calls for a bounded time.

Every call is timed per route template. Orders always carry an Idempotency-Key, and a 503 or a
409 "concurrent-update" is retried with the same key and body (as a careful client does), so an
outcome the server could not report never turns into a second order. The worker reports, for the
checks made at the end: which order ids each key produced, the keys whose outcome stayed unknown,
and every concurrent If-Match round (the version before, how many edits won, how many 412s).
"""

from __future__ import annotations

import random
import socket
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

ADDRESS = {
    "name": "Load Tester",
    "line1": "1 Main St",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}
NEXT_STATUS = {"PENDING": "CONFIRMED", "CONFIRMED": "SHIPPED", "SHIPPED": "DELIVERED"}
RETRIES = 8  # attempts per request on 503 / 409 concurrent-update
STAFF = {"X-Dev-User": "load-staff", "X-Dev-Groups": "admin"}
# (action, weight): browsing dominates, as in a shop.
MIX = [
    ("browse", 30),
    ("place", 22),
    ("read", 14),
    ("list", 10),
    ("cancel", 5),
    ("move", 8),
    ("replay", 4),
    ("duplicates", 2),
    ("edits", 3),
    ("restock", 2),
]


@dataclass
class Report:
    worker: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    keys: dict[str, list[str]] = field(default_factory=dict)  # key → order ids seen in 201s
    unknown_keys: list[str] = field(default_factory=list)  # gave up without an answer
    edit_rounds: list[dict[str, Any]] = field(default_factory=list)
    restocked: Counter[str] = field(default_factory=Counter)  # sku → units added (200s only)
    violations: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # 5xx other than 503, bad bodies

    def as_dict(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "latencies": dict(self.latencies),
            "statuses": {route: dict(c) for route, c in self.statuses.items()},
            "keys": self.keys,
            "unknown_keys": self.unknown_keys,
            "edit_rounds": self.edit_rounds,
            "restocked": dict(self.restocked),
            "violations": self.violations,
            "unexpected": self.unexpected,
        }


class Worker:
    def __init__(self, index: int, base_url: str, seed: int) -> None:
        self.index = index
        self.random = random.Random(seed * 1000 + index)  # noqa: S311 - not for security
        self.http = httpx.Client(
            base_url=base_url,
            timeout=30,
            # No Nagle: httpx writes headers and body separately, and a delayed ACK would add
            # ~40 ms to every request on loopback.
            transport=httpx.HTTPTransport(
                limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            ),
        )
        self.report = Report(index)
        self.customers = [f"w{index}-c{i}" for i in range(4)]
        self.orders: dict[str, str] = {}  # order id → customer
        self.skus: list[str] = []

    # -- plumbing ---------------------------------------------------------------------------

    def call(
        self, route: str, method: str, path: str, headers: dict[str, str], **kw: Any
    ) -> httpx.Response:
        started = time.perf_counter()
        response = self.http.request(method, path, headers=headers, **kw)
        self.report.latencies[route].append(time.perf_counter() - started)
        self.report.statuses[route][response.status_code] += 1
        if response.status_code >= 500 and response.status_code != 503:
            self.report.unexpected.append(f"{route} {response.status_code} {response.text[:300]}")
        if response.status_code >= 400 and not response.headers.get("content-type", "").startswith(
            "application/problem+json"
        ):
            self.report.unexpected.append(f"{route} {response.status_code} not problem+json")
        return response

    def retried(
        self, route: str, method: str, path: str, headers: dict[str, str], **kw: Any
    ) -> httpx.Response | None:
        """The request, retried on 503 and on 409 concurrent-update; None if it never got an
        answer other than those (its outcome is unknown)."""
        for attempt in range(RETRIES):
            response = self.call(route, method, path, headers, **kw)
            retry = response.status_code == 503 or (
                response.status_code == 409
                and response.json().get("type", "").endswith("concurrent-update")
            )
            if not retry:
                return response
            if response.status_code == 503 and "retry-after" not in response.headers:
                self.report.violations.append(f"{route} 503 without Retry-After")
            time.sleep(min(0.2, 0.01 * 2**attempt) * self.random.random())
        return None

    @staticmethod
    def who(customer: str) -> dict[str, str]:
        return {"X-Dev-User": customer}

    def mine(self) -> tuple[str, str] | None:
        if not self.orders:
            return None
        order_id = self.random.choice(list(self.orders))
        return order_id, self.orders[order_id]

    # -- actions ----------------------------------------------------------------------------

    def browse(self) -> None:
        customer = self.random.choice(self.customers)
        page = self.call(
            "GET /products", "GET", "/products", self.who(customer), params={"limit": 3}
        )
        if page.status_code == 200:
            body = page.json()
            self.skus = sorted({p["sku"] for p in body["items"]} | set(self.skus))
            if body["next_cursor"]:
                self.call(
                    "GET /products",
                    "GET",
                    "/products",
                    self.who(customer),
                    params={"limit": 3, "cursor": body["next_cursor"]},
                )
        if self.skus:
            sku = self.random.choice(self.skus)
            self.call("GET /products/{sku}", "GET", f"/products/{sku}", self.who(customer))

    def _keyed_order(self) -> tuple[str, str, dict[str, str], dict[str, Any]]:
        """A random customer, a fresh Idempotency-Key, their headers and an order body."""
        customer = self.random.choice(self.customers)
        key = f"load-{uuid.uuid4()}"
        return customer, key, {**self.who(customer), "Idempotency-Key": key}, self._order_body()

    def _order_body(self) -> dict[str, Any]:
        skus = self.random.sample(self.skus, k=min(len(self.skus), self.random.randint(1, 3)))
        lines = [{"sku": sku, "quantity": self.random.randint(1, 3)} for sku in skus]
        return {"items": lines, "shipping_address": ADDRESS}

    def _placed(self, key: str, customer: str, response: httpx.Response | None) -> None:
        if response is None:
            self.report.unknown_keys.append(key)
            return
        if response.status_code == 201:
            order_id = response.json()["id"]
            self.report.keys.setdefault(key, [])
            if order_id not in self.report.keys[key]:
                self.report.keys[key].append(order_id)
            self.orders[order_id] = customer
        else:
            self.report.keys.setdefault(key, [])

    def place(self) -> None:
        if not self.skus:
            return self.browse()
        customer, key, headers, body = self._keyed_order()
        self._placed(
            key, customer, self.retried("POST /orders", "POST", "/orders", headers, json=body)
        )
        return None

    def replay(self) -> None:
        """Place, then send the same key and body again: the first response comes back."""
        if not self.skus:
            return self.browse()
        customer, key, headers, body = self._keyed_order()
        first = self.retried("POST /orders", "POST", "/orders", headers, json=body)
        self._placed(key, customer, first)
        if first is None or first.status_code != 201:
            return None
        again = self.retried("POST /orders", "POST", "/orders", headers, json=body)
        self._placed(key, customer, again)
        if again is not None and again.status_code == 201:
            if again.headers.get("idempotent-replayed") != "true":
                self.report.violations.append(f"replay of {key} not marked Idempotent-Replayed")
            if again.json()["id"] != first.json()["id"]:
                self.report.violations.append(f"replay of {key} returned another order")
        return None

    def duplicates(self) -> None:
        """Three identical requests with one key at once: exactly one order, three 201s."""
        if not self.skus:
            return self.browse()
        customer, key, headers, body = self._keyed_order()
        with ThreadPoolExecutor(max_workers=3) as pool:
            responses = list(
                pool.map(
                    lambda _: self.retried("POST /orders", "POST", "/orders", headers, json=body),
                    range(3),
                )
            )
        for response in responses:
            self._placed(key, customer, response)
        return None

    def read(self) -> None:
        found = self.mine()
        if found:
            order_id, customer = found
            self.call("GET /orders/{id}", "GET", f"/orders/{order_id}", self.who(customer))

    def list(self) -> None:
        customer = self.random.choice(self.customers)
        params: dict[str, Any] = {"limit": 5}
        if self.random.random() < 0.3:
            params["status"] = "PENDING"
        for _ in range(3):
            page = self.call("GET /orders", "GET", "/orders", self.who(customer), params=params)
            if page.status_code != 200 or not page.json()["next_cursor"]:
                break
            params["cursor"] = page.json()["next_cursor"]

    def cancel(self) -> None:
        found = self.mine()
        if found:
            order_id, customer = found
            self.retried(
                "POST /orders/{id}/cancel", "POST", f"/orders/{order_id}/cancel", self.who(customer)
            )

    def move(self) -> None:
        found = self.mine()
        if not found:
            return
        order_id = found[0]
        current = self.call("GET /orders/{id}", "GET", f"/orders/{order_id}", STAFF)
        if current.status_code != 200:
            return
        order = current.json()
        target = NEXT_STATUS.get(order["status"])
        if target:
            headers = {**STAFF, "If-Match": current.headers["etag"]}
            self.retried(
                "PATCH /orders/{id}",
                "PATCH",
                f"/orders/{order_id}",
                headers,
                json={"status": target},
            )

    def edits(self) -> None:
        """Three customers' tabs change one PENDING order's address with the same If-Match."""
        found = self.mine()
        if not found:
            return
        order_id, customer = found
        current = self.call("GET /orders/{id}", "GET", f"/orders/{order_id}", self.who(customer))
        if current.status_code != 200 or current.json()["status"] != "PENDING":
            return
        version = current.json()["version"]
        headers = {**self.who(customer), "If-Match": current.headers["etag"]}

        def edit(n: int) -> httpx.Response:
            address = {**ADDRESS, "line2": f"tab {n} of worker {self.index}"}
            return self.call(
                "PATCH /orders/{id}",
                "PATCH",
                f"/orders/{order_id}",
                headers,
                json={"shipping_address": address},
            )

        with ThreadPoolExecutor(max_workers=3) as pool:
            responses = list(pool.map(edit, range(3)))
        after = self.call("GET /orders/{id}", "GET", f"/orders/{order_id}", self.who(customer))
        codes = Counter(r.status_code for r in responses)
        self.report.edit_rounds.append(
            {
                "order": order_id,
                "before": version,
                "after": after.json()["version"] if after.status_code == 200 else None,
                "won": codes[200],
                "stale": codes[412],
                "unknown": codes[503],
                "current_versions_in_412": [
                    r.json().get("current_version") for r in responses if r.status_code == 412
                ],
            }
        )

    def restock(self) -> None:
        if not self.skus:
            return
        sku = self.random.choice(self.skus)
        units = self.random.randint(5, 40)
        response = self.retried(
            "PATCH /products/{sku}", "PATCH", f"/products/{sku}", STAFF, json={"stock_delta": units}
        )
        if response is not None and response.status_code == 200:
            self.report.restocked[sku] += units

    def run(self, deadline: float) -> Report:
        actions, weights = zip(*MIX, strict=True)
        self.browse()
        while time.monotonic() < deadline:
            action = self.random.choices(actions, weights)[0]
            getattr(self, action)()
        self.http.close()
        return self.report


def run_worker(args: tuple[int, str, float, int]) -> dict[str, Any]:
    """Entry point of a worker process: runs until `duration` seconds have passed."""
    index, base_url, duration, seed = args
    deadline = time.monotonic() + duration
    return Worker(index, base_url, seed).run(deadline).as_dict()
