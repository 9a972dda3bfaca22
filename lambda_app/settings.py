"""All configuration in typed objects read from the environment once per process: ``Settings``
for the API (and ``order-api serve``), ``JobSettings`` for the scheduled expiry job, which
shares their common part and needs none of the API's secrets.

A pydantic model that reads ``os.environ`` itself rather than pydantic-settings: we use none of
its sources (dotenv, secrets directories, CLI), and importing it costs ~11 ms of every Lambda
cold start (3% of INIT; measured with `make bench`'s asset on Python 3.13). Same contract:
``Settings()`` reads the environment, keyword arguments (by variable name) override it.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from lambda_app.domain.models import reservation_window

_LOOPBACK_HTTP = (
    "http://127.0.0.1:",
    "http://127.0.0.1/",
    "http://localhost:",
    "http://localhost/",
)


def running_in_lambda() -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


class _FromEnvironment(BaseModel):
    """What every process of the service reads: its table, where DynamoDB is, logs, metrics."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**os.environ, **values})

    table_name: str = Field(default="orders", validation_alias="TABLE_NAME")
    region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    # boto3 reads this variable by itself too; kept here so `serve --endpoint-url` can set it.
    dynamodb_endpoint_url: str | None = Field(
        default=None, validation_alias="AWS_ENDPOINT_URL_DYNAMODB"
    )
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    # CloudWatch namespace of the metrics written as EMF log lines (observability/metrics.py).
    metrics_namespace: str = Field(default="OrderService", validation_alias="METRICS_NAMESPACE")


class JobSettings(_FromEnvironment):
    """The scheduled expiry job's settings: no secrets, and no reservation window either (each
    order carries its own deadline, set when it was placed)."""


class Settings(_FromEnvironment):
    """The API's settings."""

    admin_group: str = Field(default="admin", validation_alias="ADMIN_GROUP")
    # HMAC key for list cursors. The stack provides it in Lambda; locally a per-process random
    # key is fine (cursors only need to outlive one listing session).
    cursor_secret: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(32)),
        validation_alias="CURSOR_SECRET",
    )
    # X-Dev-User/X-Dev-Groups identity; only `order-api serve` turns it on.
    dev_auth: bool = Field(default=False, validation_alias="ORDER_API_DEV_AUTH")
    # Swagger UI's and ReDoc's scripts served by this process from the `fastapi-offline`
    # package (the local extra) rather than from a CDN; `order-api serve` turns it on.
    docs_offline: bool = Field(default=False, validation_alias="ORDER_API_DOCS_OFFLINE")
    # Sign-in on /docs (OAuth 2.0 authorization code with PKCE), documented in the OpenAPI
    # document and configured in Swagger UI; the stack sets these from its Cognito hosted login.
    # Documentation only: tokens are verified by API Gateway's JWT authorizer, never here.
    docs_oauth_client_id: str | None = Field(default=None, validation_alias="DOCS_OAUTH_CLIENT_ID")
    docs_oauth_authorization_url: str | None = Field(
        default=None, validation_alias="DOCS_OAUTH_AUTHORIZATION_URL"
    )
    docs_oauth_token_url: str | None = Field(default=None, validation_alias="DOCS_OAUTH_TOKEN_URL")
    # Space-separated, as OAuth 2.0 writes them.
    docs_oauth_scopes: str = Field(default="openid", validation_alias="DOCS_OAUTH_SCOPES")
    idempotency_ttl_seconds: int = Field(
        default=24 * 3600, ge=24 * 3600, validation_alias="IDEMPOTENCY_TTL_SECONDS"
    )
    # How long a new order holds its stock while PENDING (the contract: 1..1440, default 30).
    reservation_minutes: int = Field(default=30, validation_alias="RESERVATION_MINUTES")
    # In Lambda one request runs at a time, so blocking DynamoDB calls run inline (no threadpool
    # hop); a local server offloads them so concurrent requests are served concurrently.
    offload_blocking_calls: bool = Field(
        default_factory=lambda: not running_in_lambda(), validation_alias="ORDER_API_OFFLOAD"
    )

    @field_validator("reservation_minutes", mode="before")
    @classmethod
    def _whole_minutes_in_range(cls, value: Any) -> int:
        return reservation_window(value) // timedelta(minutes=1)

    @property
    def reservation(self) -> timedelta:
        return reservation_window(self.reservation_minutes)

    @model_validator(mode="after")
    def _oauth_all_or_nothing(self) -> Settings:
        given = [
            self.docs_oauth_client_id,
            self.docs_oauth_authorization_url,
            self.docs_oauth_token_url,
        ]
        if any(given) and not all(given):
            raise ValueError(
                "DOCS_OAUTH_CLIENT_ID, DOCS_OAUTH_AUTHORIZATION_URL and DOCS_OAUTH_TOKEN_URL "
                "go together: set all three or none"
            )
        for url in given[1:]:
            # Plain http only on this machine (a local authorization server), as Cognito allows
            # for callback URLs.
            if url and not url.startswith(("https://", *_LOOPBACK_HTTP)):
                raise ValueError(
                    f"OAuth endpoints must be https:// URLs (or on loopback), got {url!r}"
                )
        return self

    @property
    def docs_oauth(self) -> bool:
        """Whether /docs offers sign-in through the OAuth 2.0 authorization server."""
        return bool(self.docs_oauth_client_id)

    @model_validator(mode="after")
    def _guard_lambda(self) -> Settings:
        if running_in_lambda():
            if self.dev_auth:
                raise ValueError("Dev identity headers cannot be enabled inside AWS Lambda")
            if "CURSOR_SECRET" not in os.environ:
                raise ValueError("CURSOR_SECRET must be provided by the stack in AWS Lambda")
        return self
