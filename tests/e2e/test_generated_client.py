"""A client generated from the live /openapi.json by a third-party generator (openapi-python-
client, from PyPI), driven through a storefront flow against a running `order-api serve`.

Its methods are named after the contract's operation ids (``place_order``, not FastAPI's
``place_order_orders_post``), and its authenticated client sends the dev identity because the
document declares it (X-Dev-User as an API-key header).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dev-server")]

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "order_api_client"
# operation id -> the generated module (tag folder) that holds it
METHODS = {
    "place_order": "orders",
    "get_order": "orders",
    "list_orders": "orders",
    "update_order": "orders",
    "cancel_order": "orders",
    "create_product": "products",
    "get_product": "products",
    "list_products": "products",
    "update_product": "products",
    "get_health": "health",
}
SHOPPER, STAFF = "generated-client-shopper", "generated-client-staff"
SKU = "GEN-CLIENT-TEE"


@pytest.fixture(scope="module")
def generated(dev_server: str, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    work = tmp_path_factory.mktemp("generated-client")
    (work / "openapi.json").write_text(httpx.get(f"{dev_server}/openapi.json").text)
    (work / "config.json").write_text(json.dumps({"post_hooks": []}))  # no formatter needed
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(work / "openapi.json"),
            "--config",
            str(work / "config.json"),
            "--meta",
            "none",
            "--output-path",
            str(work / PACKAGE),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    sys.path.insert(0, str(work))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work))


def method(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.api.{METHODS[name]}.{name}")


def test_methods_are_named_after_the_operation_ids(generated: ModuleType) -> None:
    api = Path(generated.__file__).parent / "api"
    modules = {path.stem for path in api.rglob("*.py") if path.stem != "__init__"}
    assert modules == set(METHODS)
    for name in METHODS:
        assert callable(method(generated, name).sync_detailed)


def test_a_storefront_flow_through_the_generated_client(
    generated: ModuleType, dev_server: str
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")

    def signed_in(user: str, groups: str | None = None) -> Any:
        # The document's API-key scheme, as the generated client takes it.
        headers = {"X-Dev-Groups": groups} if groups else {}
        return generated.AuthenticatedClient(
            base_url=dev_server,
            token=user,
            prefix="",
            auth_header_name="X-Dev-User",
            headers=headers,
        )

    staff, shopper = signed_in(STAFF, "admin"), signed_in(SHOPPER)
    created = method(generated, "create_product").sync_detailed(
        client=staff,
        body=models.ProductIn.from_dict(
            {"sku": SKU, "name": "Generated tee", "price": 1900, "currency": "EUR", "stock": 5}
        ),
    )
    assert created.status_code == 201, created.content

    product = method(generated, "get_product").sync(SKU, client=shopper)
    assert isinstance(product, models.ProductOut)
    assert (product.price, product.stock) == (1900, 5)

    placed = method(generated, "place_order").sync_detailed(
        client=shopper,
        body=models.OrderIn.from_dict(
            {
                "items": [{"sku": SKU, "quantity": 2}],
                "shipping_address": {
                    "name": "Gen Client",
                    "line1": "1 Main St",
                    "city": "Berlin",
                    "postal_code": "10115",
                    "country": "DE",
                },
            }
        ),
        idempotency_key="generated-client-1",
    )
    assert placed.status_code == 201, placed.content
    order = placed.parsed
    assert isinstance(order, models.OrderOut)
    assert order.total == 3800
    assert order.status == models.OrderStatus.PENDING

    mine = method(generated, "list_orders").sync(client=shopper)
    assert isinstance(mine, models.OrderList)
    assert [o.id for o in mine.items] == [order.id]

    cancelled = method(generated, "cancel_order").sync(
        order.id, client=shopper, if_match=f'"{order.version}"'
    )
    assert isinstance(cancelled, models.OrderOut)
    assert cancelled.status == models.OrderStatus.CANCELLED
    after = method(generated, "get_product").sync(SKU, client=shopper)
    assert after.stock == 5

    # Without the identity, the generated client gets the documented problem.
    anonymous = generated.Client(base_url=dev_server)
    refused = method(generated, "list_orders").sync_detailed(client=anonymous)
    assert refused.status_code == 401
    assert isinstance(refused.parsed, models.Problem)
