"""What the API sends is byte for byte what its documented response models would send, built
independently from the same domain object (pydantic reading its attributes)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from lambda_app.api import representations
from lambda_app.api.schemas import OrderList, OrderOut, ProductList, ProductOut
from lambda_app.domain.models import (
    Address,
    CancellationReason,
    Order,
    OrderLine,
    OrderStatus,
    Product,
)

text = st.text(min_size=1, max_size=12)
amount = st.integers(0, 10**8)
instant = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))
addresses = st.builds(
    Address,
    name=text,
    line1=text,
    city=text,
    postal_code=text,
    country=st.sampled_from(["GB", "DE", "US"]),
    line2=st.none() | text,
)
lines = st.builds(OrderLine, sku=text, name=text, quantity=st.integers(1, 1000), unit_price=amount)
orders = st.builds(
    Order,
    id=text,
    customer_id=text,
    status=st.sampled_from(OrderStatus),
    currency=st.sampled_from(["EUR", "USD", "JPY"]),
    items=st.lists(lines, min_size=1, max_size=4).map(tuple),
    shipping_address=addresses,
    created_at=instant,
    updated_at=instant,
    version=st.integers(1, 10**6),
    expires_at=st.none() | instant,
    cancellation_reason=st.none() | st.sampled_from(CancellationReason),
)
products = st.builds(
    Product,
    sku=text,
    name=text,
    price=amount,
    currency=st.sampled_from(["EUR", "USD", "JPY"]),
    stock=st.integers(0, 10**9),
    version=st.integers(1, 10**6),
    created_at=instant,
    updated_at=instant,
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(orders)
def test_an_order_is_sent_exactly_as_its_model_documents_it(order: Order) -> None:
    expected = OrderOut.model_validate(order, from_attributes=True).model_dump_json()
    assert to_json(representations.order(order)) == expected.encode()


@settings(max_examples=200, deadline=None, derandomize=True)
@given(products)
def test_a_product_is_sent_exactly_as_its_model_documents_it(product: Product) -> None:
    expected = ProductOut.model_validate(product, from_attributes=True).model_dump_json()
    assert to_json(representations.product(product)) == expected.encode()


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.lists(orders, max_size=3), st.lists(products, max_size=3), st.none() | text)
def test_pages_are_sent_exactly_as_their_models_document_them(
    some_orders: list[Order], some_products: list[Product], cursor: str | None
) -> None:
    orders_page = OrderList.model_validate(
        {"items": some_orders, "next_cursor": cursor}, from_attributes=True
    )
    body = representations.page(map(representations.order, some_orders), cursor)
    assert to_json(body) == orders_page.model_dump_json().encode()
    products_page = ProductList.model_validate(
        {"items": some_products, "next_cursor": cursor}, from_attributes=True
    )
    body = representations.page(map(representations.product, some_products), cursor)
    assert to_json(body) == products_page.model_dump_json().encode()


def test_a_wrong_value_or_an_undocumented_field_would_be_caught() -> None:
    order = Order(
        id="01JD3A6R8Q4X5Y7Z9B2C4D6E8F",
        customer_id="c",
        status=OrderStatus.PENDING,
        currency="EUR",
        items=(OrderLine("A", "a", 1, 100),),
        shipping_address=Address("n", "l", "c", "p", "GB"),
        created_at=datetime(2026, 11, 25, tzinfo=UTC),
        updated_at=datetime(2026, 11, 26, tzinfo=UTC),
    )
    expected = OrderOut.model_validate(order, from_attributes=True).model_dump_json().encode()
    body = representations.order(order)
    assert to_json(body) == expected
    assert to_json({**body, "internal": "x"}) != expected
    assert to_json({**body, "created_at": body["updated_at"], "total": 0}) != expected
