"""ASGI middleware (plain ASGI, no per-request task hop): request ids, body limits, last-resort 500,
and the one request log line and metrics per request."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from pydantic_core import to_json
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lambda_app.api.errors import INSUFFICIENT_STOCK, PROBLEM_JSON, problem_body
from lambda_app.observability.logs import info_line
from lambda_app.observability.metrics import NONE, Metrics, MetricSet

MAX_BODY_BYTES = 64 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]*\+)?json\s*(;.*)?$", re.IGNORECASE)
logger = logging.getLogger("lambda_app.api")


def _encode(line: dict[str, Any]) -> str:
    # pydantic-core's encoder, loaded for the responses anyway: the same JSON as the stdlib's
    # (UTF-8, compact, str() for anything else) in a third of the time, ~10 µs of a warm GET.
    return to_json(line, fallback=str).decode()


async def _send_problem(send: Send, body: dict[str, Any], request_id: str) -> None:
    payload = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": body["status"],
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _route_template(scope: Scope) -> str:
    """The matched route's template (``/orders/{order_id}``), never the raw path; ``unmatched``
    when no route matched (404) or the request was refused before routing (413, 415)."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestGuard:
    """Gives every request an id (echoed as X-Request-Id), enforces the body size limit and the
    JSON media type, turns any exception that escaped the app into a problem+json 500, and
    writes one JSON log line (the exception included, if any) and the request's metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics
        # One app per Lambda container: its first request is the one that paid the cold start.
        self._cold = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        cold, self._cold = self._cold, False
        request_id = self._request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = False
        status = 500
        error: Exception | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            body = await self._read_body(scope, receive)
            if isinstance(body, dict):
                status = body["status"]
                await _send_problem(send, body, request_id)
            else:
                await self.app(scope, _replay(body, receive), send_with_id)
        except Exception as exc:
            error = exc
            if not started:
                await _send_problem(
                    send,
                    problem_body(
                        500,
                        "The server failed to handle this request; it has been logged",
                        request_id=request_id,
                    ),
                    request_id,
                )
        try:
            self._observe(scope, request_id, status, began, cold, error)
        except Exception:  # the answer is out; a logging bug must not turn it into a failure
            logger.exception("could not log the request", extra={"correlation_id": request_id})

    def _observe(
        self,
        scope: Scope,
        request_id: str,
        status: int,
        began: float,
        cold: bool,
        error: Exception | None,
    ) -> None:
        """The request's one log line: its facts, the exception if any (logged here and nowhere
        else) and its metrics in Embedded Metric Format, which CloudWatch extracts from the same
        line. Customer id only: never the address or anything else personal."""
        state = scope["state"]
        method = scope["method"]
        route = _route_template(scope)
        fields: dict[str, Any] = {
            "request_id": getattr(scope.get("aws.context"), "aws_request_id", request_id),
            "correlation_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "latency_ms": round((time.perf_counter() - began) * 1000, 2),
            "customer_id": state.get("customer_id"),
            "cold_start": cold,
        }
        # Most requests are 2xx reads with nothing to count: no metric document for them.
        if self.metrics is not None and (status >= 400 or "outcome" in state):
            metrics = self._metrics(state, method, route, status)
            if metrics:
                fields = metrics.document(fields)
        if error is None and status < 500:
            info_line(logger, "request", fields, _encode)
        else:
            message = "unhandled error" if error is not None else "request"
            logger.error(message, exc_info=error, extra=fields)

    def _metrics(self, state: dict[str, Any], method: str, route: str, status: int) -> MetricSet:
        assert self.metrics is not None
        metrics = self.metrics.new()
        if status >= 400:
            metrics.add("Http5xx" if status >= 500 else "Http4xx", 1, Route=f"{method} {route}")
        if status == 409 and state.get("problem") == INSUFFICIENT_STOCK:
            metrics.add("StockOuts", 1)
        # Business outcomes, as the routes recorded them on the request's state.
        outcome = state.get("outcome")
        if outcome == "replayed":
            metrics.add("IdempotentReplays", 1)
        elif outcome == "placed":
            total, currency = state["order_value"]
            metrics.add("OrdersPlaced", 1)
            metrics.add("OrderValue", total, NONE, Currency=currency)
        elif outcome == "cancelled":
            metrics.add("OrdersCancelled", 1)
        return metrics

    @staticmethod
    def _request_id(scope: Scope) -> str:
        given = _header(scope, b"x-request-id")
        if given and _REQUEST_ID.match(given):
            return given
        context = scope.get("aws.context")
        lambda_id = getattr(context, "aws_request_id", None)
        return str(lambda_id) if lambda_id else uuid.uuid4().hex

    @staticmethod
    async def _read_body(scope: Scope, receive: Receive) -> bytes | dict[str, Any]:
        """The whole body (at most 64 KiB), or the problem to answer instead."""
        length = _header(scope, b"content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return problem_body(413, f"The request body exceeds {MAX_BODY_BYTES} bytes")
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return problem_body(413, f"The request body exceeds {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = _header(scope, b"content-type")
        if body and not (content_type and _JSON_TYPE.match(content_type)):
            return problem_body(415, "Request bodies must be application/json")
        return body


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
