"""The Lambda entry point under test: ``lambda_app.main.handler`` fed API Gateway events.

Each test module gets ``lambda_app.main`` imported (or reloaded) inside its own moto mock, with
the environment a deployed function has: ``AWS_LAMBDA_FUNCTION_NAME`` set, no dev identity.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from moto import mock_aws

from lambda_app.repository.client import make_client
from lambda_app.repository.tables import ensure_table
from tests.conftest import ADDRESS, REGION, TABLE

from .events import (
    NO_AUTHORIZER,
    FakeLambdaContext,
    Headers,
    Query,
    cognito_claims,
    http_v2,
    rest_v1,
)

VERSIONS = ("2.0", "1.0")


@pytest.fixture(scope="module")
def lambda_main() -> Iterator[ModuleType]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TABLE_NAME", TABLE)
        env.setenv("CURSOR_SECRET", "lambda-test-cursor-secret")
        env.setenv("AWS_LAMBDA_FUNCTION_NAME", "order-api-test")
        for name in ("ORDER_API_DEV_AUTH", "ORDER_API_OFFLOAD", "AWS_ENDPOINT_URL_DYNAMODB"):
            env.delenv(name, raising=False)
        with mock_aws():
            ensure_table(make_client(REGION), TABLE)
            if "lambda_app.main" in sys.modules:
                module = importlib.reload(sys.modules["lambda_app.main"])
            else:
                module = importlib.import_module("lambda_app.main")
            try:
                yield module
            finally:  # the adapter's own event loop, made current by the import
                asyncio.set_event_loop(None)
                module._adapter.loop.close()


@dataclass
class Result:
    """What the handler returned, with the headers merged as API Gateway would send them."""

    raw: dict[str, Any]

    @property
    def status(self) -> int:
        status: int = self.raw["statusCode"]
        return status

    @property
    def headers(self) -> dict[str, str]:
        merged = {k.lower(): v for k, v in (self.raw.get("headers") or {}).items()}
        for name, values in (self.raw.get("multiValueHeaders") or {}).items():
            merged[name.lower()] = ", ".join(values)
        return merged

    @property
    def body(self) -> str:
        body: str = self.raw.get("body", "")
        return body

    def json(self) -> Any:
        assert self.raw["isBase64Encoded"] is False, self.raw
        return json.loads(self.body)

    def problem(self, status: int) -> dict[str, Any]:
        """The RFC 9457 body of an error response with ``status``, checked for shape."""
        assert self.status == status, self.raw
        assert self.headers["content-type"] == "application/problem+json", self.raw
        assert self.raw["isBase64Encoded"] is False, self.raw
        body: dict[str, Any] = self.json()
        assert {"type", "title", "status", "detail"} <= body.keys(), body
        assert body["status"] == status
        assert isinstance(body["title"], str) and body["title"]
        assert isinstance(body["detail"], str) and body["detail"]
        assert "Traceback" not in self.body
        return body


class Gateway:
    """Builds events of one payload version for a caller and invokes the real handler."""

    def __init__(self, main: ModuleType, version: str) -> None:
        self.main = main
        self.version = version

    def event(
        self,
        method: str,
        path: str,
        *,
        user: str | None = "alice",
        groups: list[str] | str | None = None,
        claims: dict[str, Any] | None = None,
        body: Any = None,
        headers: Headers | None = None,
        query: Query | None = None,
        is_base64: bool = False,
    ) -> dict[str, Any]:
        if claims is None:
            claims = cognito_claims(user, groups) if user is not None else NO_AUTHORIZER
        build = http_v2 if self.version == "2.0" else rest_v1
        return build(
            method,
            path,
            query=query,
            headers=headers,
            body=body,
            claims=claims,
            is_base64=is_base64,
        )

    def invoke(self, event: Any, context: FakeLambdaContext | None = None) -> Result:
        raw = self.main.handler(event, context or FakeLambdaContext())
        assert isinstance(raw, dict), raw
        # Everything this API answers is JSON text: never base64 for API Gateway to decode.
        assert raw.get("isBase64Encoded") is False, raw
        assert isinstance(raw.get("body", ""), str)
        return Result(raw)

    def call(
        self, method: str, path: str, *, context: FakeLambdaContext | None = None, **kw: Any
    ) -> Result:
        return self.invoke(self.event(method, path, **kw), context)

    # -- the shop, through the handler -----------------------------------------------------

    def add_product(self, sku: str, *, stock: int = 10, price: int = 1250) -> dict[str, Any]:
        result = self.call(
            "POST",
            "/products",
            user="staff-1",
            groups=["admin"],
            body={
                "sku": sku,
                "name": f"Mug {sku}",
                "price": price,
                "currency": "EUR",
                "stock": stock,
            },
        )
        assert result.status == 201, result.raw
        product: dict[str, Any] = result.json()
        return product

    def order_body(self, sku: str, quantity: int = 1) -> dict[str, Any]:
        return {"items": [{"sku": sku, "quantity": quantity}], "shipping_address": ADDRESS}


@pytest.fixture(params=VERSIONS, ids=lambda v: f"payload-{v}")
def gateway(request: pytest.FixtureRequest, lambda_main: ModuleType) -> Gateway:
    return Gateway(lambda_main, request.param)


def new_sku() -> str:
    return f"SKU-{uuid.uuid4().hex[:10].upper()}"


def new_user() -> str:
    return str(uuid.uuid4())
