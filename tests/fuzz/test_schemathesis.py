"""Contract fuzzing: schemathesis drives the real app in-process against moto.

Every generated request must get a documented status, a documented content type and headers, a
body matching the documented schema, and never a 5xx; invalid data must be rejected. Stateless
(each operation on its own) and stateful (chains through the OpenAPI links: a created order is
read, listed, re-addressed, moved and cancelled; a created product is read and changed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from moto import mock_aws
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from lambda_app.api.app import create_app
from lambda_app.repository.client import make_client
from lambda_app.repository.tables import ensure_table
from tests.conftest import REGION, make_settings

pytestmark = pytest.mark.xdist_group("fuzz")
# Its own table: moto's backends are process-global.
TABLE = "orders-fuzz"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Invalid data (negative mode) must be refused with a 4xx; a method the path does not have, with
# a 405 whose Allow names every method it has (ST205).
STATELESS_CHECKS = [*CHECKS, negative_data_rejection, unsupported_method, allow_header_conformance]
STAFF = {"X-Dev-User": "staff", "X-Dev-Groups": "admin"}
CUSTOMER = {"X-Dev-User": "alice"}
# A few products in stock (and one out of stock) so generated orders can succeed.
SEED = [("A", 10_000, "EUR"), ("B-2", 10_000, "EUR"), ("C", 0, "EUR"), ("USD-1", 10_000, "USD")]

SETTINGS = dict(
    derandomize=True,  # the same examples on every run: failures are repeatable
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


def _seeded_app(dynamodb: Any, table: str) -> FastAPI:
    ensure_table(dynamodb, table)
    app = create_app(make_settings(TABLE_NAME=table), dynamodb)
    with TestClient(app) as client:
        for sku, stock, currency in SEED:
            body = {"sku": sku, "name": f"Seed {sku}", "price": 250, "currency": currency}
            response = client.post("/products", headers=STAFF, json={**body, "stock": stock})
            assert response.status_code == 201, response.text
    return app


@pytest.fixture(scope="module")
def moto_client() -> Iterator[Any]:
    """One in-process moto for the module (starting one costs about half a second)."""
    with mock_aws():
        yield make_client(REGION)


@pytest.fixture(scope="module")
def seeded_app(moto_client: Any) -> FastAPI:
    """One seeded app for the stateless tests: what one operation's examples create is there
    for the next operation's."""
    return _seeded_app(moto_client, TABLE)


# The document only: loading it touches no database. Each test sends its requests to a fresh,
# seeded app over in-process moto (`app=` on every call).
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(make_settings(), make_client(REGION))
)
# Each test sends its identity itself (STAFF, CUSTOMER): cases carry no generated X-Dev-User, or
# a negative case "without X-Dev-User" would be sent with it and counted as accepted bad data.
schema.config.generation.update(with_security_parameters=False)
FUZZ = hypothesis.settings(max_examples=20, **SETTINGS)


@schema.parametrize()
@FUZZ
def test_every_operation_conforms_for_staff(case: schemathesis.Case, seeded_app: FastAPI) -> None:
    case.call_and_validate(app=seeded_app, headers=STAFF, checks=STATELESS_CHECKS)


@schema.parametrize()
@FUZZ
def test_every_operation_conforms_for_a_customer(
    case: schemathesis.Case, seeded_app: FastAPI
) -> None:
    case.call_and_validate(app=seeded_app, headers=CUSTOMER, checks=STATELESS_CHECKS)


# Stateful: positive data only (the stateless tests cover invalid data), so chains get deep.
stateful_schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(make_settings(), make_client(REGION))
)
# Each test sends its identity itself (STAFF, CUSTOMER): cases carry no generated X-Dev-User, or
# a negative case "without X-Dev-User" would be sent with it and counted as accepted bad data.
schema.config.generation.update(with_security_parameters=False)
stateful_schema.config.generation.update(
    modes=[GenerationMode.POSITIVE], with_security_parameters=False
)
ORDERABLE = [sku for sku, stock, currency in SEED if stock and currency == "EUR"]


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


REACHED: Counter[tuple[str, str, int]] = Counter()


class Stateful(stateful_schema.as_state_machine()):  # type: ignore[misc]
    client: Any
    scenarios = 0

    def setup(self) -> None:
        # Every scenario starts from the same seeded state (its own table, ~5 ms), so a replayed
        # scenario behaves exactly like the first run (Hypothesis insists on that).
        Stateful.scenarios += 1
        self.app = _seeded_app(self.client, f"{TABLE}-{Stateful.scenarios}")
        self.calls = 0

    def before_call(self, case: schemathesis.Case) -> None:
        # JSON Schema's "integer" admits 3.0, which this API refuses on purpose (no floats for
        # integers; the stateless tests see those 422s): send 3 so chains get past creation.
        case.body = _integral(case.body)
        # Random skus are unknown (422): order seeded products instead, so orders get placed.
        if case.method == "POST" and case.path == "/orders" and isinstance(case.body, dict):
            lines = [line for line in case.body.get("items") or [] if isinstance(line, dict)]
            case.body["items"] = [
                {**line, "sku": sku} for sku, line in zip(ORDERABLE, lines, strict=False)
            ]

    def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
        self.calls += 1
        staff_only = case.path.startswith("/products") and case.method != "GET"
        staff_only |= isinstance(case.body, dict) and "status" in case.body
        # The customer places and handles their orders; staff now and then reads or cancels them.
        headers = STAFF if staff_only or self.calls % 4 == 0 else CUSTOMER
        return {"app": self.app, "headers": headers}

    def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
        REACHED[(case.method, case.path, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)


def test_stateful_links(moto_client: Any) -> None:
    Stateful.client = moto_client
    Stateful.run(settings=hypothesis.settings(max_examples=25, stateful_step_count=8, **SETTINGS))
    # The links were followed: orders were placed, then read, changed and cancelled through them.
    for reached in [
        ("POST", "/orders", 201),
        ("GET", "/orders/{order_id}", 200),
        ("POST", "/orders/{order_id}/cancel", 200),
        ("PATCH", "/products/{sku}", 200),
    ]:
        assert REACHED[reached], (reached, dict(REACHED))
