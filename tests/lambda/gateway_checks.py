"""What `lambda_app.api.gateway` promises, as plain checks: each builds a small app, sends it
API Gateway events through a `LambdaAdapter` and raises AssertionError if the answer is wrong.

Plain functions (stdlib, Starlette, FastAPI), not pytest tests, so that two interpreters run
them: the development one, through `test_gateway.py` (Python 3.11: no eager tasks, every
request turns the loop), and the Lambda asset's own (3.13+, where a request that does not wait
must never turn it), through `tests/infra/test_infra_asset.py`. `main()` runs them all.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import selectors
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse, StreamingResponse

from lambda_app.api.gateway import InvocationLoop, LambdaAdapter

from .events import FakeLambdaContext, http_v2

EAGER = sys.version_info >= (3, 13)
_seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen")
_closed: list[bool] = []
_ticks: list[bool] = []
_background: set[asyncio.Task[None]] = set()
_timers: list[asyncio.TimerHandle] = []
_received: list[bytes] = []
_sockets: list[socket.socket] = []


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
        if not loop.is_closed():  # finish what requests left behind (an async generator's close)
            loop.run_until_complete(loop.shutdown_asyncgens())
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

    @app.get("/abandons")
    async def abandons() -> JSONResponse:
        async def numbers() -> AsyncIterator[int]:
            try:
                yield 1
                yield 2
            finally:  # a clean-up that awaits: only the loop's async generator hooks run it
                await asyncio.sleep(0)
                _closed.append(True)

        async for _ in numbers():
            break
        return JSONResponse({})

    @app.get("/spawns")
    async def spawns() -> JSONResponse:
        async def tick() -> None:
            await asyncio.sleep(0.001)
            _ticks.append(True)

        _background.add(asyncio.get_running_loop().create_task(tick()))
        return JSONResponse({})

    @app.get("/cancels")
    async def cancels() -> JSONResponse:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # and answer anyway, without waiting on anything after it
        asyncio.get_running_loop().call_soon(lambda: None)  # something for the loop to do
        return JSONResponse({"cancelled": True})

    @app.get("/sets-a-timer")
    async def sets_a_timer() -> JSONResponse:
        _timers.append(asyncio.get_running_loop().call_later(3600, lambda: None))
        return JSONResponse({})

    @app.get("/listens")
    async def listens() -> JSONResponse:
        async def read(sock: socket.socket) -> None:
            _received.append(await asyncio.get_running_loop().sock_recv(sock, 16))

        _background.add(asyncio.get_running_loop().create_task(read(_sockets[0])))
        return JSONResponse({})

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


def check_a_request_that_does_not_wait_after_one_that_did_does_not_turn_the_loop() -> None:
    with _adapter(_app()) as (adapter, selector):
        assert _get(adapter, "/sleeps")["statusCode"] == 200
        turns = selector.turns
        assert _get(adapter, "/plain")["statusCode"] == 200
        assert selector.turns == turns if EAGER else selector.turns > turns


def check_an_abandoned_async_generator_is_closed() -> None:
    _closed.clear()
    with _adapter(_app()) as (adapter, _):
        for _ in range(3):
            assert _get(adapter, "/abandons")["statusCode"] == 200
    assert _closed, "the generator's clean-up never ran"


def check_a_task_the_app_spawned_goes_on_in_later_invocations() -> None:
    # As under Mangum's cycle, which turns the loop on every invocation: a background task
    # waiting on a timer is not forgotten because later requests need no turn themselves.
    _ticks.clear()
    with _adapter(_app()) as (adapter, _):
        assert _get(adapter, "/spawns")["statusCode"] == 200
        time.sleep(0.01)
        assert _get(adapter, "/plain")["statusCode"] == 200
        assert _ticks == [True]


def check_a_timer_set_for_later_costs_later_requests_no_turn() -> None:
    with _adapter(_app()) as (adapter, selector):
        assert _get(adapter, "/sets-a-timer")["statusCode"] == 200
        turns = selector.turns
        for _ in range(3):
            assert _get(adapter, "/plain")["statusCode"] == 200
        assert selector.turns == turns if EAGER else selector.turns > turns
        for timer in _timers:
            timer.cancel()


def check_a_task_the_app_spawned_to_wait_for_io_gets_its_data_in_a_later_invocation() -> None:
    _received.clear()
    mine, theirs = socket.socketpair()
    mine.setblocking(False)
    _sockets[:] = [mine]
    try:
        with _adapter(_app()) as (adapter, _):
            assert _get(adapter, "/listens")["statusCode"] == 200
            theirs.send(b"hello")
            assert _get(adapter, "/plain")["statusCode"] == 200
            assert _received == [b"hello"]
    finally:
        mine.close()
        theirs.close()


def check_a_task_factory_is_used() -> None:
    made: list[object] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        made.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    with _adapter(_app()) as (adapter, _):
        adapter.loop.set_task_factory(factory)
        assert _get(adapter, "/plain")["statusCode"] == 200
        assert made, "the loop's task factory was bypassed"


def check_a_request_cancelled_after_answering_keeps_its_answer() -> None:
    with _adapter(_app()) as (adapter, _):
        response = _get(adapter, "/cancels")
        assert (response["statusCode"], json.loads(response["body"])) == (200, {"cancelled": True})


def check_a_closed_loop_is_refused() -> None:
    with _adapter(_app()) as (adapter, _):
        adapter.loop.close()
        try:
            _get(adapter, "/plain")
        except RuntimeError:
            return
        raise AssertionError("a closed loop served a request")


def check_a_call_from_inside_a_running_loop_is_refused_and_leaves_that_loop_running() -> None:
    async def outer(adapter: LambdaAdapter) -> bool:
        try:
            _get(adapter, "/plain")
        except RuntimeError:
            asyncio.get_running_loop()  # raises if the adapter took that loop's place
            await asyncio.sleep(0)
            return True
        return False

    with _adapter(_app()) as (adapter, _):
        assert asyncio.run(outer(adapter)), "served inside another running loop"


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
        if fail_after == len(messages):
            raise RuntimeError("the app failed after answering")

    return app


def check_an_app_that_fails_gets_a_500() -> None:
    for fail_after in (0, 1, 2):
        with _adapter(_raw_app(fail_after)) as (adapter, _):
            response = _get(adapter, "/")
            assert response["statusCode"] == 500, (fail_after, response)
            assert response["body"] == "Internal Server Error", (fail_after, response)
    # Once the whole response is out, a failure is logged but the answer stands (as Mangum).
    for fail_after in (None, 3):
        with _adapter(_raw_app(fail_after)) as (adapter, _):
            response = _get(adapter, "/")
            assert (response["statusCode"], response["body"]) == (200, "ok"), response


def check_every_listener_hears_the_disconnect() -> None:
    heard: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # the body
        listeners = [asyncio.ensure_future(receive()) for _ in range(2)]
        await asyncio.sleep(0)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        done, _ = await asyncio.wait(listeners, timeout=1)
        heard.append(len(done))

    with _adapter(app) as (adapter, _):
        assert _get(adapter, "/")["statusCode"] == 200
    assert heard == [2]


def check_an_event_that_is_not_http_gets_a_400_of_its_own() -> None:
    broken = http_v2("POST", "/plain", body="not base64!", is_base64=True)
    broken["body"] = "not base64!"
    with _adapter(_app()) as (adapter, _):
        for event in ({}, {"warmer": True}, broken):
            response = adapter(event, FakeLambdaContext())
            assert response["statusCode"] == 400, (event, response)
            response["headers"]["x-changed"] = "by a caller"
        assert "x-changed" not in adapter({}, FakeLambdaContext())["headers"]


def check_an_app_that_never_answers_gets_a_500() -> None:
    with _adapter(_raw_app(None, answer=False)) as (adapter, _):
        assert _get(adapter, "/")["statusCode"] == 500


CHECKS: list[Callable[[], None]] = [
    check
    for name, check in sorted(globals().items())
    if name.startswith("check_") and callable(check)
]


def main() -> None:
    """Run every check (the first failure raises); print which ran, and whether eagerly."""
    for check in CHECKS:
        check()
    print(json.dumps({"passed": [check.__name__ for check in CHECKS], "eager": EAGER}))
