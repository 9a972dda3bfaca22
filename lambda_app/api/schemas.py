"""Request and response bodies: the API's edge, validated strictly (no floats for integers)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from lambda_app.domain.countries import ASSIGNED_COUNTRY_CODES
from lambda_app.domain.currencies import ACTIVE_CURRENCY_CODES
from lambda_app.domain.models import MAX_QUANTITY, Address, CancellationReason, OrderStatus
from lambda_app.domain.timestamps import rfc3339
from lambda_app.service.products import SKU_PATTERN

# Printable text: no control characters (C0, DEL, C1) and not blank.
_TEXT = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
MAX_STOCK = 1_000_000_000
MAX_PRICE = 100_000_000


def _known(codes: frozenset[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if value not in codes:
            raise ValueError(f"not an assigned {what} code")
        return value

    return AfterValidator(check)


Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_TEXT)]
City = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_TEXT)]
PostalCode = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=_TEXT)]
Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    _known(ACTIVE_CURRENCY_CODES, "ISO 4217 currency"),
    WithJsonSchema({"type": "string", "enum": sorted(ACTIVE_CURRENCY_CODES)}),
]
Country = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    _known(ASSIGNED_COUNTRY_CODES, "ISO 3166-1 alpha-2 country"),
    WithJsonSchema({"type": "string", "enum": sorted(ASSIGNED_COUNTRY_CODES)}),
]
Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Price = Annotated[StrictInt, Field(ge=0, le=MAX_PRICE, description="Minor units (cents)")]


class _Out(BaseModel):
    """Responses: the documented shape of what api/representations.py builds. Never parsed from
    a client, and instantiated only by the tests that hold the two together, so their validators
    are built on first use rather than at import, which keeps them out of the cold start."""

    model_config = ConfigDict(defer_build=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _PatchIn(_In):
    # Documented as the validators below enforce: at least one field, none of them null.
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _not_empty_nor_null(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("at least one field must be given")
        nulls = [name for name in self.model_fields_set if getattr(self, name) is None]
        if nulls:
            raise ValueError("fields cannot be null: " + ", ".join(sorted(nulls)))
        return self


# -- products ---------------------------------------------------------------------------------


class ProductIn(_In):
    sku: Sku
    name: Name
    price: Price
    currency: Currency
    stock: Annotated[StrictInt, Field(ge=0, le=MAX_STOCK)]


class ProductPatch(_PatchIn):
    name: Name | SkipJsonSchema[None] = None
    price: Price | SkipJsonSchema[None] = None
    stock_delta: Annotated[StrictInt, Field(ge=-MAX_STOCK, le=MAX_STOCK)] | SkipJsonSchema[None] = (
        None
    )


class ProductOut(_Out):
    sku: str
    name: str
    price: int
    currency: str
    stock: int
    version: int
    created_at: Timestamp
    updated_at: Timestamp


# -- orders -----------------------------------------------------------------------------------


class AddressIn(_In):
    name: Name
    line1: Name
    line2: Name | None = None
    city: City
    postal_code: PostalCode
    country: Country

    def to_domain(self) -> Address:
        return Address(
            name=self.name,
            line1=self.line1,
            line2=self.line2,
            city=self.city,
            postal_code=self.postal_code,
            country=self.country,
        )


class LineIn(_In):
    sku: Sku
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)]


class OrderIn(_In):
    # Up to 50 distinct lines after merging duplicate skus (checked by the domain).
    items: Annotated[list[LineIn], Field(min_length=1, max_length=500)]
    shipping_address: AddressIn


class OrderPatch(_PatchIn):
    """Either a new shipping address (the customer) or the next status (staff), not both."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    shipping_address: AddressIn | SkipJsonSchema[None] = None
    status: OrderStatus | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if len(self.model_fields_set) != 1:
            raise ValueError("give either shipping_address or status, not both")
        return self


class AddressOut(_Out):
    name: str
    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    country: str


class LineOut(_Out):
    sku: str
    name: str
    quantity: int
    unit_price: int
    line_total: int


class OrderOut(_Out):
    id: str
    customer_id: str
    status: OrderStatus
    currency: str
    items: list[LineOut]
    total: int
    shipping_address: AddressOut
    created_at: Timestamp
    updated_at: Timestamp
    version: int
    expires_at: Timestamp | None = Field(
        description="While PENDING: when the order's stock reservation runs out (placed + "
        "RESERVATION_MINUTES); unless confirmed or cancelled by then, the service cancels it "
        "(within 2 minutes) with cancellation_reason `expired`. Null in every other status."
    )
    cancellation_reason: CancellationReason | None = Field(
        description="Who cancelled a CANCELLED order: `customer`, `staff`, or `expired` (its "
        "reservation ran out). Null in every other status."
    )


# -- shared -----------------------------------------------------------------------------------

T = TypeVar("T")


class ListOut(_Out, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Opaque; null on the last page")


class OrderList(ListOut[OrderOut]):
    pass


class ProductList(ListOut[ProductOut]):
    pass


class Health(_Out):
    status: str


class ProblemError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None
    request_id: str | None = None
