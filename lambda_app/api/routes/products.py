from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from lambda_app.api.deps import CallerDep, IfMatchDep, ServicesDep, call
from lambda_app.api.openapi import problems
from lambda_app.api.schemas import ListOut, ProductIn, ProductOut, ProductPatch
from lambda_app.domain.models import ProductChange
from lambda_app.service.pages import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(prefix="/products", tags=["products"])

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=512)]


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Add a product to the catalog (staff)",
    responses=problems(400, 403, 409, 413, 415, 422),
)
async def create_product(
    body: ProductIn, caller: CallerDep, svc: ServicesDep, response: Response
) -> ProductOut:
    product = await call(
        svc,
        svc.products.create,
        caller,
        sku=body.sku,
        name=body.name,
        price=body.price,
        currency=body.currency,
        stock=body.stock,
    )
    response.headers["Location"] = f"/products/{product.sku}"
    _etag(response, product.version)
    return ProductOut.of(product)


@router.get("/{sku}", summary="One product", responses=problems(404))
async def get_product(
    sku: str, caller: CallerDep, svc: ServicesDep, response: Response
) -> ProductOut:
    product = await call(svc, svc.products.get, sku)
    _etag(response, product.version)
    return ProductOut.of(product)


@router.get("", summary="The catalog, by sku", responses=problems(400, 422))
async def list_products(
    caller: CallerDep, svc: ServicesDep, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> ListOut[ProductOut]:
    page = await call(svc, svc.products.list, caller, cursor, limit)
    return ListOut[ProductOut](
        items=[ProductOut.of(p) for p in page.items], next_cursor=page.next_cursor
    )


@router.patch(
    "/{sku}",
    summary="Change name, price or stock (staff); stock never goes below 0",
    responses=problems(400, 403, 404, 409, 412, 413, 415, 422),
)
async def update_product(
    sku: str,
    body: ProductPatch,
    caller: CallerDep,
    svc: ServicesDep,
    expected: IfMatchDep,
    response: Response,
) -> ProductOut:
    change = ProductChange(name=body.name, price=body.price, stock_delta=body.stock_delta)
    product = await call(svc, svc.products.update, caller, sku, change, expected)
    _etag(response, product.version)
    return ProductOut.of(product)
