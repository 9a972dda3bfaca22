"""Builds the FastAPI application from settings: routes, error mapping, services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from lambda_app.api import docs, errors, openapi
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
every error is `application/problem+json` (RFC 9457). Every operation but the health check
needs a signed-in caller: **Authorize** lists the ways this server accepts.
"""


OPENAPI_URL = "/openapi.json"


def _login(settings: Settings) -> openapi.OAuthLogin | None:
    """The hosted login /docs offers: none while the dev identity is on, which ignores tokens."""
    if settings.dev_auth or not settings.docs_oauth:
        return None
    # Settings holds the three together or none of them.
    return openapi.OAuthLogin(
        client_id=str(settings.docs_oauth_client_id),
        authorization_url=str(settings.docs_oauth_authorization_url),
        token_url=str(settings.docs_oauth_token_url),
        scopes=tuple(settings.docs_oauth_scopes.split()),
    )


def _init_oauth(login: openapi.OAuthLogin | None) -> dict[str, Any] | None:
    """Swagger UI's ``initOAuth``: a public client (no secret) signing in with PKCE."""
    if login is None:
        return None
    return {
        "clientId": login.client_id,
        "usePkceWithAuthorizationCodeGrant": True,
        "scopes": " ".join(login.scopes),
    }


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
        # Our own pages (api/docs.py): pinned or offline scripts, sign-in configured.
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
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
    login = _login(settings)
    docs.install(
        app,
        offline=settings.docs_offline,
        init_oauth=_init_oauth(login),
        openapi_url=OPENAPI_URL,
    )
    errors.install(app)
    openapi.install(
        app,
        documented=[Health, OrderOut, OrderList, ProductOut, ProductList],
        security=openapi.security(dev_auth=settings.dev_auth, login=login),
    )
    app.add_middleware(RequestGuard, metrics=Metrics(settings.metrics_namespace, "order-api"))
    return app
