"""Faults injected at botocore's level inside the server process, on the app's DynamoDB client.

Before a request is sent (it never reaches DynamoDB): throttling and InternalServerError answers,
read and connect timeouts, and for TransactWriteItems a TransactionCanceledException with a
TransactionConflict reason. After a TransactWriteItems succeeded: a read timeout, so the caller
sees a failure although the write happened (the outcome is unknown: the case Idempotency-Key
exists for). botocore's own retries see the "before" faults like real ones.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

BEFORE = ("throttling", "internal-error", "read-timeout", "connect-timeout", "txn-conflict")


class _Raw:
    """The smallest urllib3-like body botocore's AWSResponse can read."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any, **__: Any) -> bytes:
        body, self._body = self._body, b""
        return body


def _response(url: str, status: int, code: str, message: str, **extra: Any) -> AWSResponse:
    body = json.dumps(
        {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message, **extra}
    ).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault"}
    return AWSResponse(url, status, headers, _Raw(body))


class FaultInjector:
    """Injects a fault into `rate` of the DynamoDB calls (and after-send timeouts into `rate`
    of the successful transactions). Thread-safe; counts what it injected."""

    def __init__(self, rate: float, seed: int = 7) -> None:
        self.rate = rate
        self.enabled = True
        self.injected: Counter[str] = Counter()
        self._random = random.Random(seed)  # noqa: S311 - not for security
        self._lock = threading.Lock()

    def install(self, client: Any) -> FaultInjector:
        events = client.meta.events
        events.register("before-send.dynamodb.*", self._before_send)
        events.register("after-call.dynamodb.TransactWriteItems", self._after_call)
        return self

    def _draw(self) -> float:
        with self._lock:
            return self._random.random()

    def _count(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def _before_send(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        if not self.enabled or self._draw() >= self.rate:
            return None
        operation = str(kwargs.get("event_name", "")).rsplit(".", 1)[-1]
        kinds = [k for k in BEFORE if k != "txn-conflict" or operation == "TransactWriteItems"]
        kind = kinds[int(self._draw() * len(kinds))]
        self._count(kind)
        url = request.url
        if kind == "throttling":
            return _response(url, 400, "ThrottlingException", "Rate of requests exceeds the limit")
        if kind == "internal-error":
            return _response(url, 500, "InternalServerError", "Internal server error")
        if kind == "read-timeout":
            raise ReadTimeoutError(endpoint_url=url)
        if kind == "connect-timeout":
            raise ConnectTimeoutError(endpoint_url=url)
        items = json.loads(request.body or b"{}").get("TransactItems", [])
        reasons = [{"Code": "None"} for _ in items]
        if reasons:
            reasons[-1] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing"}
        return _response(
            url,
            400,
            "TransactionCanceledException",
            "Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{', '.join(r['Code'] for r in reasons)}]",
            CancellationReasons=reasons,
        )

    def _after_call(self, http_response: Any, parsed: Any, **kwargs: Any) -> None:
        if not self.enabled or http_response.status_code != 200 or self._draw() >= self.rate:
            return
        self._count("timeout-after-write")
        raise ReadTimeoutError(endpoint_url=str(getattr(http_response, "url", "dynamodb")))
