"""Builds the FastAPI application from settings: routes, error mapping, services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from lambda_app.api import errors, openapi
from lambda_app.api.deps import Services
from lambda_app.api.middleware import RequestGuard
from lambda_app.api.routes import health, orders, products
from lambda_app.api.schemas import Health, OrderList, OrderOut, ProductList, ProductOut
from lambda_app.observability.logs import configure_logging
from lambda_app.observability.metrics import Metrics
from lambda_app.repository.client import make_client
from lambda_app.repository.dynamodb import DynamoRepository
from lambda_app.service.cursors import CursorCodec
from lambda_app.service.orders import OrderService
from lambda_app.service.products import ProductService
from lambda_app.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

DESCRIPTION = """\
Orders and the product catalog of a shop. Money is integer minor units with an ISO 4217 code;
every error is `application/problem+json` (RFC 9457). Authenticate with a JWT (API Gateway's
authorizer); locally, `order-api serve` accepts `X-Dev-User` and `X-Dev-Groups` instead.
"""


def create_app(settings: Settings, client: DynamoDBClient | None = None) -> FastAPI:
    configure_logging(settings.log_level)
    repository = DynamoRepository(
        client or make_client(settings.region, settings.dynamodb_endpoint_url),
        settings.table_name,
    )
    cursors = CursorCodec(settings.cursor_secret.get_secret_value().encode())
    app = FastAPI(
        title="Order API",
        version="1.0.0",
        description=DESCRIPTION,
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.services = Services(
        products=ProductService(repository, cursors),
        orders=OrderService(
            repository, cursors, settings.idempotency_ttl_seconds, settings.reservation
        ),
        admin_group=settings.admin_group,
        dev_auth=settings.dev_auth,
        offload=settings.offload_blocking_calls,
    )
    for module in (health, products, orders):
        # Onto the app's own router: FastAPI resolves an included router at request time, a
        # second matching pass on every request. Ours have no include-time options to apply;
        # note that routes added this way do not see `app.dependency_overrides` (we use none).
        app.router.routes.extend(module.router.routes)
    errors.install(app)
    openapi.install(app, documented=[Health, OrderOut, OrderList, ProductOut, ProductList])
    app.add_middleware(RequestGuard, metrics=Metrics(settings.metrics_namespace, "order-api"))
    return app
