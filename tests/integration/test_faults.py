"""DynamoDB misbehaving, injected per HTTP attempt at botocore's ``before-send``.

The injector sits where the network would be: inside botocore's retry loop (standard mode, three
attempts), so the SDK's own retries run exactly as in AWS; only its back-off sleeps are recorded
instead of slept, to keep the suite fast. Attempts that are not faulted go on to moto (the
in-process ``dynamodb`` fixture) unchanged. Nothing of our own code is mocked.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ReadTimeoutError
from moto.core.models import botocore_stubber as moto_transport

from lambda_app.repository.client import make_client
from lambda_app.service.orders import MAX_ATTEMPTS
from tests.conftest import Api

# The client's standard retry mode: Config(retries={"max_attempts": 3}) counts retries, so
# botocore makes 4 attempts in all (total_max_attempts = max_attempts + 1).
SDK_ATTEMPTS = make_client("us-east-1").meta.config.retries["total_max_attempts"]
PROBLEM_JSON = "application/problem+json"
Fault = Callable[[AWSPreparedRequest], AWSResponse]


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def error_response(request: AWSPreparedRequest, code: str, **fields: Any) -> AWSResponse:
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code, **fields}
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "FAULT"}
    return AWSResponse(request.url, 400, headers, _Body(json.dumps(body).encode()))


def throttled(request: AWSPreparedRequest) -> AWSResponse:
    return error_response(request, "ProvisionedThroughputExceededException")


def cancelled(reason: str) -> Fault:
    """TransactionCanceledException with `reason` on every stock update of the transaction."""

    def respond(request: AWSPreparedRequest) -> AWSResponse:
        items = json.loads(request.body)["TransactItems"]
        reasons = [
            {"Code": reason, "Message": reason} if "Update" in item else {"Code": "None"}
            for item in items
        ]
        codes = ", ".join(r["Code"] for r in reasons)
        return error_response(
            request,
            "TransactionCanceledException",
            Message=f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
            CancellationReasons=reasons,
        )

    return respond


def timeout_after_write(request: AWSPreparedRequest) -> AWSResponse:
    """The request reaches DynamoDB and is applied; the answer never arrives."""
    moto_transport(event_name="before-send.dynamodb", request=request)
    raise ReadTimeoutError(endpoint_url=request.url)


class Faults:
    """Per-operation fault plans for one client, in front of moto's in-process transport."""

    def __init__(self, client: Any) -> None:
        self.attempts: Counter[str] = Counter()
        self._plans: dict[str, tuple[Fault, int | None]] = {}
        client.meta.events.unregister("before-send", moto_transport)
        client.meta.events.register("before-send.dynamodb", self._send)

    def inject(self, operation: str, fault: Fault, times: int | None = None) -> None:
        """Fault the next `times` attempts of `operation` (every attempt when None)."""
        self._plans[operation] = (fault, times)

    def clear(self) -> None:
        self._plans.clear()
        self.attempts.clear()

    def _send(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        self.attempts[operation] += 1
        plan = self._plans.get(operation)
        if plan is not None:
            fault, times = plan
            if times is None or times > 0:
                if times is not None:
                    self._plans[operation] = (fault, times - 1)
                return fault(request)
        response: AWSResponse | None = moto_transport(event_name=event_name, request=request)
        return response


@pytest.fixture
def faults(dynamodb: Any) -> Faults:
    return Faults(dynamodb)


@pytest.fixture(autouse=True)
def sdk_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's back-off between attempts, recorded rather than slept (up to 1 s, 2 s...)."""
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=slept.append))
    return slept


def assert_unavailable(response: Any) -> None:
    """503 problem+json that tells the client when to come back and which request failed."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert re.fullmatch(r"[1-9][0-9]*", response.headers["retry-after"])
    body = response.json()
    assert body["status"] == 503
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    assert "ProvisionedThroughput" not in body["detail"]


def stock(api: Api, sku: str) -> int:
    return int(api.call("GET", f"/products/{sku}").json()["stock"])


def order_ids(api: Api, user: str = "alice") -> list[str]:
    response = api.call("GET", "/orders", user=user)
    assert response.status_code == 200, response.text
    return [order["id"] for order in response.json()["items"]]


# -- throttling -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", "/products/MUG", "GetItem"),
        ("GET", "/orders", "Query"),
        ("GET", "/products", "Query"),
        ("POST", "/orders", "BatchGetItem"),
        ("POST", "/orders", "TransactWriteItems"),
    ],
)
def test_throttling_on_every_attempt_is_503_with_retry_after(
    api: Api, faults: Faults, sdk_sleeps: list[float], method: str, path: str, operation: str
) -> None:
    api.add_product("MUG", stock=5)
    faults.clear()
    faults.inject(operation, throttled)

    if method == "POST":
        response = api.place([("MUG", 2)], key="throttled-1")
    else:
        response = api.call(method, path)

    assert_unavailable(response)
    # The SDK retried before giving up: three attempts per call, with back-off between them.
    assert faults.attempts[operation] >= SDK_ATTEMPTS
    assert faults.attempts[operation] % SDK_ATTEMPTS == 0
    assert len(sdk_sleeps) == faults.attempts[operation] // SDK_ATTEMPTS * (SDK_ATTEMPTS - 1)
    faults.clear()
    assert stock(api, "MUG") == 5
    assert order_ids(api) == []
    if method == "POST":  # a 503 did not use up the key: the retry places the order
        retried = api.place([("MUG", 2)], key="throttled-1")
        assert retried.status_code == 201, retried.text
        assert "idempotent-replayed" not in retried.headers
        assert stock(api, "MUG") == 3


def test_throttled_transaction_reported_as_cancellation_is_503(api: Api, faults: Faults) -> None:
    api.add_product("MUG", stock=5)
    faults.inject("TransactWriteItems", cancelled("ThrottlingError"))

    assert_unavailable(api.place([("MUG", 1)]))

    faults.clear()
    assert stock(api, "MUG") == 5
    assert order_ids(api) == []


def test_throttling_on_the_first_attempt_only_is_absorbed_by_the_sdk(
    api: Api, faults: Faults, sdk_sleeps: list[float]
) -> None:
    api.add_product("MUG", stock=5)
    faults.clear()
    faults.inject("GetItem", throttled, times=1)
    faults.inject("BatchGetItem", throttled, times=1)
    faults.inject("TransactWriteItems", throttled, times=1)

    product = api.call("GET", "/products/MUG")
    placed = api.place([("MUG", 2)])

    assert product.status_code == 200, product.text
    assert product.json()["stock"] == 5
    assert placed.status_code == 201, placed.text
    assert faults.attempts == {"GetItem": 2, "BatchGetItem": 2, "TransactWriteItems": 2}
    assert len(sdk_sleeps) == 3
    faults.clear()
    assert order_ids(api) == [placed.json()["id"]]
    assert stock(api, "MUG") == 3


# -- transaction conflicts --------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "conflicted-1"])
def test_transaction_conflicts_are_retried_by_the_service(
    api: Api, faults: Faults, key: str | None
) -> None:
    api.add_product("MUG", stock=5)
    api.add_product("CAP", stock=5)
    faults.clear()
    faults.inject("TransactWriteItems", cancelled("TransactionConflict"), times=MAX_ATTEMPTS - 1)

    placed = api.place([("MUG", 2), ("CAP", 1)], key=key)

    assert placed.status_code == 201, placed.text
    assert "idempotent-replayed" not in placed.headers
    # Each service attempt re-read the catalog and tried one transaction; the SDK did not retry.
    assert faults.attempts == {"BatchGetItem": MAX_ATTEMPTS, "TransactWriteItems": MAX_ATTEMPTS}
    faults.clear()
    assert order_ids(api) == [placed.json()["id"]]
    assert (stock(api, "MUG"), stock(api, "CAP")) == (3, 4)
    assert api.call("GET", "/products/MUG").json()["version"] == 2  # reserved once
    if key is not None:
        replay = api.place([("MUG", 2), ("CAP", 1)], key=key)
        assert replay.status_code == 201
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json() == placed.json()


def test_persistent_transaction_conflict_is_409_not_500(api: Api, faults: Faults) -> None:
    api.add_product("MUG", stock=5)
    faults.clear()
    faults.inject("TransactWriteItems", cancelled("TransactionConflict"))

    response = api.place([("MUG", 1)], key="conflicted-2")

    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["status"] == 409
    assert body["type"] == "urn:order-api:problem:concurrent-update"
    assert faults.attempts["TransactWriteItems"] == MAX_ATTEMPTS
    faults.clear()
    assert stock(api, "MUG") == 5
    assert order_ids(api) == []
    retried = api.place([("MUG", 1)], key="conflicted-2")  # a 4xx leaves the key unused
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers


# -- lost answers -----------------------------------------------------------------------------


def test_timeout_after_the_write_is_503_and_the_keyed_retry_replays_the_order(
    api: Api, faults: Faults
) -> None:
    api.add_product("MUG", stock=5)
    faults.clear()
    faults.inject("TransactWriteItems", timeout_after_write)

    lost = api.place([("MUG", 2)], key="timeout-1")

    assert_unavailable(lost)
    assert faults.attempts["TransactWriteItems"] == SDK_ATTEMPTS
    faults.clear()
    # The write happened although nobody saw it succeed.
    written = order_ids(api)
    assert len(written) == 1
    assert stock(api, "MUG") == 3

    faults.clear()
    retried = api.place([("MUG", 2)], key="timeout-1")

    assert retried.status_code == 201, retried.text
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json()["id"] == written[0]
    assert retried.headers["location"] == f"/orders/{written[0]}"
    assert faults.attempts == {"BatchGetItem": 1}  # answered from the key's record alone
    assert order_ids(api) == written
    assert stock(api, "MUG") == 3
    assert api.call("GET", "/products/MUG").json()["version"] == 2


def test_a_lost_answer_retried_by_the_sdk_is_one_order_even_without_a_key(
    api: Api, faults: Faults
) -> None:
    api.add_product("MUG", stock=5)
    faults.clear()
    faults.inject("TransactWriteItems", timeout_after_write, times=1)

    placed = api.place([("MUG", 2)])

    # The SDK's second attempt finds its own order already written: that is success.
    assert placed.status_code == 201, placed.text
    assert faults.attempts["TransactWriteItems"] == 2
    assert order_ids(api) == [placed.json()["id"]]
    assert stock(api, "MUG") == 3


# -- single-item writes racing a transaction --------------------------------------------------


def conflicted(request: AWSPreparedRequest) -> AWSResponse:
    """What DynamoDB answers a PutItem/UpdateItem on an item an ongoing transaction holds."""
    return error_response(request, "TransactionConflictException")


def test_product_change_racing_a_transaction_is_409_not_500(api: Api, faults: Faults) -> None:
    api.add_product("MUG", stock=5)
    faults.clear()
    faults.inject("UpdateItem", conflicted)

    response = api.call("PATCH", "/products/MUG", user="s", admin=True, json={"stock_delta": 5})

    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"] == "urn:order-api:problem:concurrent-update"
    faults.clear()
    assert stock(api, "MUG") == 5


def test_order_change_racing_a_transaction_is_retried_by_the_service(
    api: Api, faults: Faults
) -> None:
    api.add_product("MUG", stock=5)
    order = api.place([("MUG", 1)]).json()
    faults.clear()
    faults.inject("UpdateItem", conflicted, times=1)
    address = {"shipping_address": {**order["shipping_address"], "name": "Ada King"}}

    changed = api.call("PATCH", f"/orders/{order['id']}", json=address)

    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    assert faults.attempts["UpdateItem"] == 2
    faults.inject("UpdateItem", conflicted)
    again = api.call("PATCH", f"/orders/{order['id']}", json=address)
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith(PROBLEM_JSON)


def test_transaction_still_in_progress_after_sdk_retries_is_503(api: Api, faults: Faults) -> None:
    """The SDK retried a transaction with its token while the first try was still running."""
    api.add_product("MUG", stock=5)
    faults.clear()
    faults.inject(
        "TransactWriteItems",
        lambda request: error_response(request, "TransactionInProgressException"),
    )

    assert_unavailable(api.place([("MUG", 1)], key="in-progress-1"))
    assert faults.attempts["TransactWriteItems"] == SDK_ATTEMPTS


# -- partial batch reads ----------------------------------------------------------------------


def unprocessed(request: AWSPreparedRequest) -> AWSResponse:
    """BatchGetItem under throttling: 200, nothing read, every key handed back."""
    body = {"Responses": {}, "UnprocessedKeys": json.loads(request.body)["RequestItems"]}
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse(request.url, 200, headers, _Body(json.dumps(body).encode()))


def test_unprocessed_keys_are_read_again(api: Api, faults: Faults) -> None:
    api.add_product("MUG", stock=5)
    faults.clear()
    faults.inject("BatchGetItem", unprocessed, times=2)

    placed = api.place([("MUG", 2)], key="partial-1")

    assert placed.status_code == 201, placed.text
    assert faults.attempts == {"BatchGetItem": 3, "TransactWriteItems": 1}
    faults.clear()
    assert stock(api, "MUG") == 3


def test_keys_that_stay_unprocessed_are_503(api: Api, faults: Faults) -> None:
    api.add_product("MUG", stock=5)
    faults.clear()
    faults.inject("BatchGetItem", unprocessed)

    assert_unavailable(api.place([("MUG", 2)], key="partial-2"))
    assert "TransactWriteItems" not in faults.attempts
    faults.clear()
    assert stock(api, "MUG") == 5
