"""What `lambda_app.api.gateway` promises, as plain checks: each builds a small app, sends it
API Gateway events through a `LambdaAdapter` and raises AssertionError if the answer is wrong.

Plain functions (stdlib, Starlette, FastAPI), not pytest tests, so that two interpreters run
them: the development one, through `test_gateway.py` (Python 3.11: no eager tasks, every
request turns the loop), and the Lambda asset's own (3.12+, where a request that does not wait
must never turn it), through `tests/infra/test_infra_asset.py`. `main()` runs them all.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import selectors
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse, StreamingResponse

from lambda_app.api.gateway import InvocationLoop, LambdaAdapter

from .events import FakeLambdaContext, http_v2

EAGER = sys.version_info >= (3, 12)
_seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen")


class _CountingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """Counts the loop's turns: each one asks the selector for I/O once."""

    turns = 0

    def select(self, timeout: float | None = None) -> list[Any]:
        self.turns += 1
        found: list[Any] = super().select(timeout)
        return found


@contextmanager
def _adapter(app: Any) -> Iterator[tuple[LambdaAdapter, _CountingSelector]]:
    selector = _CountingSelector()
    loop = InvocationLoop(selector)
    try:
        yield LambdaAdapter(app, ["application/json", "text/"], loop=loop), selector
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _get(adapter: LambdaAdapter, path: str) -> dict[str, Any]:
    response: dict[str, Any] = adapter(http_v2("GET", path), FakeLambdaContext())
    return response


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/plain")
    async def plain() -> JSONResponse:
        return JSONResponse({"task": asyncio.current_task() is not None})

    @app.get("/sleeps")
    async def sleeps() -> JSONResponse:
        await asyncio.sleep(0.002)
        return JSONResponse({"slept": True})

    @app.get("/threadpool")
    def threadpool() -> JSONResponse:
        return JSONResponse({"main_thread": threading.current_thread() is threading.main_thread()})

    @app.get("/streams")
    async def streams() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for part in (b"one ", b"two ", b"three"):
                await asyncio.sleep(0)
                yield part

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/context")
    async def context() -> JSONResponse:
        before = _seen.get("unset")
        _seen.set("set by a request")
        return JSONResponse({"before": before})

    return app


def check_a_request_that_does_not_wait_runs_without_turning_the_loop() -> None:
    with _adapter(_app()) as (adapter, selector):
        response = _get(adapter, "/plain")
        assert response["statusCode"] == 200, response
        assert json.loads(response["body"]) == {"task": True}, "the request runs in an asyncio task"
        if EAGER:
            assert selector.turns == 0, f"the loop turned {selector.turns} times"
        else:
            assert selector.turns >= 1


def check_a_request_that_waits_is_finished_by_the_loop() -> None:
    with _adapter(_app()) as (adapter, selector):
        response = _get(adapter, "/sleeps")
        assert (response["statusCode"], json.loads(response["body"])) == (200, {"slept": True})
        assert selector.turns >= 1


def check_sync_routes_run_in_the_threadpool() -> None:
    with _adapter(_app()) as (adapter, _):
        response = _get(adapter, "/threadpool")
        assert response["statusCode"] == 200, response
        assert json.loads(response["body"]) == {"main_thread": False}


def check_a_streamed_response_is_answered_whole() -> None:
    # Starlette streams while listening for a disconnect: `receive` must wait for the end of
    # the response, then report the disconnect.
    with _adapter(_app()) as (adapter, _):
        response = _get(adapter, "/streams")
        assert (response["statusCode"], response["body"]) == (200, "one two three"), response


def check_context_variables_do_not_leak_between_requests() -> None:
    with _adapter(_app()) as (adapter, _):
        for _ in range(2):
            response = _get(adapter, "/context")
            assert json.loads(response["body"]) == {"before": "unset"}
    assert _seen.get("unset") == "unset"


def _raw_app(fail_after: int | None, answer: bool = True) -> Any:
    """A bare ASGI app: answers "ok" in two body parts, or raises after `fail_after` messages."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        messages: list[dict[str, Any]] = [
            {"type": "http.response.start", "status": 200, "headers": []},
            {"type": "http.response.body", "body": b"o", "more_body": True},
            {"type": "http.response.body", "body": b"k"},
        ]
        for sent, message in enumerate(messages if answer else []):
            if sent == fail_after:
                raise RuntimeError("the app failed")
            await send(message)

    return app


def check_an_app_that_fails_gets_a_500() -> None:
    for fail_after in (0, 1, 2):
        with _adapter(_raw_app(fail_after)) as (adapter, _):
            response = _get(adapter, "/")
            assert response["statusCode"] == 500, (fail_after, response)
            assert response["body"] == "Internal Server Error", (fail_after, response)
    with _adapter(_raw_app(None)) as (adapter, _):
        assert (_get(adapter, "/")["statusCode"], _get(adapter, "/")["body"]) == (200, "ok")


def check_an_app_that_never_answers_gets_a_500() -> None:
    with _adapter(_raw_app(None, answer=False)) as (adapter, _):
        assert _get(adapter, "/")["statusCode"] == 500


CHECKS: list[Callable[[], None]] = [
    check
    for name, check in sorted(globals().items())
    if name.startswith("check_") and callable(check)
]


def main() -> None:
    """Run every check; print how many passed, as JSON; exit 1 on the first failure."""
    for check in CHECKS:
        check()
    print(json.dumps({"passed": len(CHECKS), "eager": EAGER}))
