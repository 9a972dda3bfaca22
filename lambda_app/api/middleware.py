"""ASGI middleware (plain ASGI, no per-request task hop): request ids, body limits, last-resort 500."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lambda_app.api.errors import PROBLEM_JSON, problem_body

MAX_BODY_BYTES = 64 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]*\+)?json\s*(;.*)?$", re.IGNORECASE)
logger = logging.getLogger("lambda_app.api")


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


class RequestGuard:
    """Gives every request an id (echoed as X-Request-Id), enforces the body size limit and the
    JSON media type, and turns any exception that escaped the app into a problem+json 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            body = await self._read_body(scope, receive)
            if isinstance(body, dict):
                await _send_problem(send, body, request_id)
                return
            await self.app(scope, _replay(body, receive), send_with_id)
        except Exception:
            logger.exception("unhandled error", extra={"request_id": request_id})
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
