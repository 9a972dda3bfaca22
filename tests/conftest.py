"""Shared fixtures: DynamoDB (moto in-process by default, or DynamoDB Local: tests/engines.py),
the real app, and callers with identities."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from moto import mock_aws

from lambda_app.api.app import create_app
from lambda_app.repository.client import dynamodb_session, make_client
from lambda_app.repository.tables import ensure_table
from lambda_app.settings import Settings
from tests import engines

TABLE = "orders-test"
REGION = "us-east-1"

# Never talk to a real AWS account from the tests, whatever the developer's shell has.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION=REGION,
    AWS_REGION=REGION,
    TABLE_NAME=TABLE,
    CURSOR_SECRET="test-cursor-secret",
)

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "TABLE_NAME": TABLE,
        "ORDER_API_DEV_AUTH": True,
        "ORDER_API_OFFLOAD": False,
        "CURSOR_SECRET": "test-cursor-secret",
    }
    values.update(overrides)
    return Settings(**values)


def pytest_configure(config: pytest.Config) -> None:
    engines.start_for_run(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    engines.stop_for_run()


@pytest.fixture(scope="session")
def botocore_session() -> botocore.session.Session:
    """One session for the run: clients made from it skip re-parsing DynamoDB's service model."""
    return dynamodb_session()


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """Which DynamoDB: "moto" unless the module runs on both (``pytestmark = [BOTH_ENGINES]``)."""
    return str(getattr(request, "param", "moto"))


@pytest.fixture
def table_name(engine: str) -> str:
    # moto is fresh per test; DynamoDB Local is shared by the run, so each test has its own table.
    return TABLE if engine == "moto" else engines.unique_table()


@pytest.fixture
def dynamodb(
    engine: str, table_name: str, botocore_session: botocore.session.Session
) -> Iterator[Any]:
    """A fresh DynamoDB (and a fresh client) with the table from the schema."""
    if engine == "moto":
        with mock_aws():
            client = make_client(REGION, session=botocore_session)
            ensure_table(client, table_name)
            yield client
        return
    client = make_client(REGION, engines.local_endpoint(), session=botocore_session)
    ensure_table(client, table_name)
    yield client
    client.delete_table(TableName=table_name)


@pytest.fixture
def app(dynamodb: Any, table_name: str) -> FastAPI:
    return create_app(make_settings(TABLE_NAME=table_name), dynamodb)


class Api:
    """A test client that speaks as a given local-dev identity."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        *,
        user: str | None = "alice",
        admin: bool = False,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        sent = dict(headers or {})
        if user is not None:
            sent["X-Dev-User"] = user
        if admin:
            sent["X-Dev-Groups"] = "admin"
        return self.client.request(method, path, headers=sent, **kwargs)

    def add_product(
        self, sku: str, stock: int = 10, price: int = 1000, currency: str = "EUR", name: str = ""
    ) -> dict[str, Any]:
        response = self.call(
            "POST",
            "/products",
            user="staff",
            admin=True,
            json={
                "sku": sku,
                "name": name or f"Product {sku}",
                "price": price,
                "currency": currency,
                "stock": stock,
            },
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def place(
        self, items: list[tuple[str, int]], *, user: str = "alice", key: str | None = None
    ) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        return self.call(
            "POST",
            "/orders",
            user=user,
            headers=headers,
            json={
                "items": [{"sku": s, "quantity": q} for s, q in items],
                "shipping_address": ADDRESS,
            },
        )


@pytest.fixture
def api(app: FastAPI) -> Iterator[Api]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client)
