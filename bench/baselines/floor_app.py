"""Baseline for warm requests: the raw handler's own work, served through FastAPI + Mangum.

One plain route per benchmarked request (the path parameter declared as ours is), each handing
the event to the raw handler and returning its answer: the same DynamoDB calls, the same JSON,
nothing of ours. Its ratio to the raw handler is what FastAPI and Mangum cost by themselves.
"""

from __future__ import annotations

from typing import Any

import raw_handler
from fastapi import FastAPI, Request
from mangum import Mangum
from starlette.responses import Response

# The one setting ours uses that changes per-request work: FastAPI's unconfigured OpenTelemetry.
app = FastAPI(
    telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
)


def _answer(request: Request) -> Response:
    result: dict[str, Any] = raw_handler.handler(
        request.scope["aws.event"], request.scope["aws.context"]
    )
    return Response(result["body"], result["statusCode"], media_type="application/json")


@app.post("/orders")
async def place_order(request: Request) -> Response:
    return _answer(request)


@app.get("/orders/{order_id}")
async def get_order(order_id: str, request: Request) -> Response:
    return _answer(request)


@app.get("/orders")
async def list_orders(request: Request) -> Response:
    return _answer(request)


handler = Mangum(app, lifespan="off")
