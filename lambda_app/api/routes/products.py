from __future__ import annotations

from fastapi import APIRouter, Request, status
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
from lambda_app.api.schemas import ProductIn, ProductList, ProductOut, ProductPatch
from lambda_app.domain.models import Product, ProductChange
from lambda_app.service.pages import DEFAULT_LIMIT

router = APIRouter(prefix="/products", tags=["products"], route_class=SignedInRoute)
SKU = path_parameters("sku")


def _represent(product: Product, status_code: int = 200, **headers: str) -> Response:
    return resource_response(
        representations.product(product), product.version, status_code, **headers
    )


@router.post(
    "",
    operation_id="createProduct",
    status_code=status.HTTP_201_CREATED,
    summary="Add a product to the catalog (staff)",
    responses={
        201: ok(
            ProductOut, "Created", headers={**ETAG, "Location": {"schema": {"type": "string"}}}
        ),
        **problems(400, 403, 409, 413, 415, 422),
    },
)
async def create_product(body: ProductIn, request: Request) -> Response:
    session = session_of(request)
    product = await session.run(
        session.products.create,
        session.caller,
        sku=body.sku,
        name=body.name,
        price=body.price,
        currency=body.currency,
        stock=body.stock,
    )
    return _represent(product, status.HTTP_201_CREATED, Location=f"/products/{product.sku}")


@router.get(
    "/{sku}",
    operation_id="getProduct",
    summary="One product",
    responses={200: ok(ProductOut, headers=ETAG), **problems(404)},
    openapi_extra=SKU,
)
async def get_product(request: Request) -> Response:
    session, sku = session_of(request), request.path_params["sku"]
    return _represent(await session.run(session.products.get, sku))


@router.get(
    "",
    operation_id="listProducts",
    summary="The catalog, by sku",
    responses={200: ok(ProductList), **problems(400, 422)},
)
async def list_products(
    request: Request, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Response:
    session = session_of(request)
    page = await session.run(session.products.list, session.caller, cursor, limit)
    return json_response(
        representations.page(map(representations.product, page.items), page.next_cursor)
    )


@router.patch(
    "/{sku}",
    operation_id="updateProduct",
    summary="Change name, price or stock (staff); stock never goes below 0",
    responses={
        200: ok(ProductOut, headers=ETAG),
        **problems(400, 403, 404, 409, 412, 413, 415, 422),
    },
    openapi_extra=SKU,
)
async def update_product(
    body: ProductPatch, request: Request, if_match: IfMatch = None
) -> Response:
    session, expected = session_of(request), expected_version(if_match)
    sku = request.path_params["sku"]
    change = ProductChange(name=body.name, price=body.price, stock_delta=body.stock_delta)
    return _represent(
        await session.run(session.products.update, session.caller, sku, change, expected)
    )
