from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status
from pydantic.json_schema import SkipJsonSchema
from starlette.responses import Response

from lambda_app.api import representations
from lambda_app.api.deps import (
    Cursor,
    IfMatch,
    Limit,
    SignedInRoute,
    expected_version,
    path_parameters,
    session_of,
)
from lambda_app.api.openapi import ETAG, ok, problems
from lambda_app.api.responses import json_response, resource_response
from lambda_app.api.schemas import OrderIn, OrderList, OrderOut, OrderPatch
from lambda_app.domain.models import Order, OrderStatus, PlaceOrder
from lambda_app.service.pages import DEFAULT_LIMIT

router = APIRouter(prefix="/orders", tags=["orders"], route_class=SignedInRoute)

IdempotencyKey = Annotated[
    str | SkipJsonSchema[None],
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7e]+$",
        description="1..255 printable ASCII characters; retries with the same key and body "
        "return the first response and create nothing",
    ),
]
ORDER_ID = path_parameters("order_id")
CustomerId = Annotated[str | None, Query(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f#]+$")]


def _represent(order: Order, status_code: int = 200, **headers: str) -> Response:
    return resource_response(representations.order(order), order.version, status_code, **headers)


@router.post(
    "",
    operation_id="placeOrder",
    status_code=status.HTTP_201_CREATED,
    summary="Place an order: prices and stock come from the catalog; stock is reserved atomically",
    responses={
        **problems(400, 409, 413, 415, 422),
        201: ok(
            OrderOut,
            "The order was placed (or, with `Idempotent-Replayed: true`, "
            "this is the first response to the same Idempotency-Key and body)",
            headers={
                "Location": {"schema": {"type": "string"}},
                "ETag": {"schema": {"type": "string"}},
                "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}},
            },
        ),
    },
)
async def place_order(
    body: OrderIn, request: Request, idempotency_key: IdempotencyKey = None
) -> Response:
    session = session_of(request)
    command = PlaceOrder(
        lines=tuple((line.sku, line.quantity) for line in body.items),
        shipping_address=body.shipping_address.to_domain(),
    )
    placed = await session.run(session.orders.place, session.caller, command, idempotency_key)
    order = placed.order
    headers = {"Location": f"/orders/{order.id}"}
    if placed.replayed:
        headers["Idempotent-Replayed"] = "true"
        request.state.outcome = "replayed"  # read by the request's metrics (api/middleware.py)
    else:
        request.state.outcome = "placed"
        request.state.order_value = (order.total, order.currency)
    return _represent(order, status.HTTP_201_CREATED, **headers)


@router.get(
    "/{order_id}",
    operation_id="getOrder",
    summary="One order (its customer, or staff)",
    responses={200: ok(OrderOut, headers=ETAG), **problems(404)},
    openapi_extra=ORDER_ID,
)
async def get_order(request: Request) -> Response:
    session, order_id = session_of(request), request.path_params["order_id"]
    return _represent(await session.run(session.orders.get, session.caller, order_id))


@router.get(
    "",
    operation_id="listOrders",
    summary="Orders, newest first: your own; staff may filter by customer_id and/or status",
    responses={200: ok(OrderList), **problems(400, 403, 422)},
)
async def list_orders(
    request: Request,
    status: OrderStatus | None = None,
    customer_id: CustomerId = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    session = session_of(request)
    page = await session.run(
        session.orders.list,
        session.caller,
        customer_id=customer_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return json_response(
        representations.page(map(representations.order, page.items), page.next_cursor)
    )


@router.post(
    "/{order_id}/cancel",
    operation_id="cancelOrder",
    summary="Cancel a PENDING or CONFIRMED order; its stock is returned in the same transaction",
    responses={200: ok(OrderOut, headers=ETAG), **problems(404, 409, 412, 413, 415, 422)},
    openapi_extra=ORDER_ID,
)
async def cancel_order(request: Request, if_match: IfMatch = None) -> Response:
    session, expected = session_of(request), expected_version(if_match)
    order_id = request.path_params["order_id"]
    order = await session.run(session.orders.cancel, session.caller, order_id, expected)
    request.state.outcome = "cancelled"
    return _represent(order)


@router.patch(
    "/{order_id}",
    operation_id="updateOrder",
    summary="Change the shipping address (customer, while PENDING) or move the status one step (staff)",
    responses={
        200: ok(OrderOut, headers=ETAG),
        **problems(400, 403, 404, 409, 412, 413, 415, 422),
    },
    openapi_extra=ORDER_ID,
)
async def update_order(body: OrderPatch, request: Request, if_match: IfMatch = None) -> Response:
    session, expected = session_of(request), expected_version(if_match)
    order_id = request.path_params["order_id"]
    if body.shipping_address is not None:
        order = await session.run(
            session.orders.change_address,
            session.caller,
            order_id,
            body.shipping_address.to_domain(),
            expected,
        )
    else:
        assert body.status is not None
        order = await session.run(
            session.orders.move, session.caller, order_id, body.status, expected
        )
    return _represent(order)
