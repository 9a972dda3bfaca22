"""A small demo catalog for `order-api serve`."""

from __future__ import annotations

from lambda_app.domain.errors import AlreadyExists
from lambda_app.domain.models import Caller
from lambda_app.service.products import ProductService

DEMO_CATALOG = [
    ("TSHIRT-BLK-M", "T-shirt, black, M", 1999, 120),
    ("TSHIRT-WHT-L", "T-shirt, white, L", 1999, 80),
    ("HOODIE-GRY-M", "Hoodie, grey, M", 4999, 40),
    ("MUG-LOGO", "Mug with logo", 1299, 200),
    ("STICKER-PACK", "Sticker pack", 499, 1000),
    ("CAP-NAVY", "Cap, navy", 2499, 5),
]


def seed_catalog(products: ProductService, currency: str = "EUR") -> int:
    staff = Caller(id="seed", is_admin=True)
    created = 0
    for sku, name, price, stock in DEMO_CATALOG:
        try:
            products.create(staff, sku=sku, name=name, price=price, currency=currency, stock=stock)
            created += 1
        except AlreadyExists:
            pass
    return created
