"""The catalog: staff manage products; everyone may read them."""

from __future__ import annotations

import re

from lambda_app.domain.errors import Forbidden, NotFound
from lambda_app.domain.models import Caller, Product, ProductChange
from lambda_app.repository.dynamodb import DynamoRepository
from lambda_app.service.clock import utcnow
from lambda_app.service.cursors import CursorCodec
from lambda_app.service.pages import Page

SKU_PATTERN = r"^[A-Z0-9][A-Z0-9-]{0,63}$"
_SKU = re.compile(SKU_PATTERN)
_LIST_QUERY = "products"


class ProductService:
    def __init__(self, repository: DynamoRepository, cursors: CursorCodec) -> None:
        self._repository = repository
        self._cursors = cursors

    def create(
        self, caller: Caller, *, sku: str, name: str, price: int, currency: str, stock: int
    ) -> Product:
        _require_staff(caller)
        now = utcnow()
        product = Product(sku, name, price, currency, stock, 1, now, now)
        self._repository.create_product(product)
        return product

    def get(self, sku: str) -> Product:
        product = self._repository.get_product(sku) if _SKU.match(sku) else None
        if product is None:
            raise NotFound(f"No product {sku}")
        return product

    def update(
        self, caller: Caller, sku: str, change: ProductChange, if_match: int | None
    ) -> Product:
        _require_staff(caller)
        if not _SKU.match(sku):
            raise NotFound(f"No product {sku}")
        return self._repository.update_product(sku, change, if_match, utcnow())

    def list(self, caller: Caller, cursor: str | None, limit: int) -> Page[Product]:
        after = self._cursors.decode(cursor, caller.id, _LIST_QUERY) if cursor else None
        found = self._repository.list_products(after, limit)
        next_cursor = (
            self._cursors.encode(caller.id, _LIST_QUERY, found.items[-1].sku)
            if found.has_more
            else None
        )
        return Page(found.items, next_cursor)


def _require_staff(caller: Caller) -> None:
    if not caller.is_admin:
        raise Forbidden("Only staff can manage the catalog")
