"""What routes get injected: the request's session (who calls, the services, how to call them)
and If-Match. One dependency rather than several: each costs FastAPI time per request and per
route registration (cold start)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from pydantic.json_schema import SkipJsonSchema
from starlette.concurrency import run_in_threadpool

from lambda_app.api.errors import Unauthenticated
from lambda_app.domain.errors import InvalidRequest
from lambda_app.domain.models import Caller
from lambda_app.service.orders import OrderService
from lambda_app.service.products import ProductService

T = TypeVar("T")

_DEV_USER = re.compile(r"^[A-Za-z0-9._@:-]{1,128}$")
_ETAG = re.compile(r'^\s*"(\d{1,18})"\s*$')


@dataclass(frozen=True)
class Services:
    """Built once per process by ``create_app`` and kept on ``app.state``."""

    products: ProductService
    orders: OrderService
    admin_group: str
    dev_auth: bool
    offload: bool


@dataclass(frozen=True, slots=True)
class Session:
    """One request's verified caller and the services it may use."""

    caller: Caller
    services: Services

    @property
    def orders(self) -> OrderService:
        return self.services.orders

    @property
    def products(self) -> ProductService:
        return self.services.products

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking service call: inline in Lambda (one request at a time, no threadpool
        hop), in the threadpool on a local server so concurrent requests don't wait on each
        other."""
        if self.services.offload:
            return await run_in_threadpool(functools.partial(function, *args, **kwargs))
        return function(*args, **kwargs)


def get_services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def parse_groups(raw: object) -> set[str]:
    """cognito:groups arrives as a list, or flattened by API Gateway to "[admin ops]"."""
    if isinstance(raw, list):
        return {str(group) for group in raw}
    if isinstance(raw, str):
        # Also a JSON-encoded list ('["admin","ops"]'), as some authorizers stringify claims.
        parts = re.split(r"[\s,]+", raw.strip().strip("[]"))
        return {group.strip("\"'") for group in parts if group.strip("\"'")}
    return set()


def _claims(request: Request) -> dict[str, Any] | None:
    event = request.scope.get("aws.event")
    if not isinstance(event, dict):
        return None
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    # HTTP API (2.0): authorizer.jwt.claims; REST API (1.0): authorizer.claims.
    claims = (authorizer.get("jwt") or {}).get("claims") or authorizer.get("claims")
    return claims if isinstance(claims, dict) else None


async def session(request: Request) -> Session:
    # async on purpose: FastAPI runs plain-def dependencies in a threadpool.
    found = _identify(request)
    request.state.customer_id = found.id  # for the request's log line (api/middleware.py)
    return Session(found, get_services(request))


def _identify(request: Request) -> Caller:
    svc = get_services(request)
    if svc.dev_auth:
        user = request.headers.get("x-dev-user")
        if not user or not _DEV_USER.match(user):
            raise Unauthenticated("Send X-Dev-User: <id> (local development mode)")
        groups = parse_groups(request.headers.get("x-dev-groups", ""))
        return Caller(id=user, is_admin=svc.admin_group in groups)
    claims = _claims(request)
    subject = claims.get("sub") if claims else None
    if not isinstance(subject, str) or not subject or len(subject) > 256:
        raise Unauthenticated("No verified identity came with this request")
    assert claims is not None
    return Caller(
        id=subject, is_admin=svc.admin_group in parse_groups(claims.get("cognito:groups"))
    )


async def if_match(
    value: Annotated[
        str | SkipJsonSchema[None],
        Header(
            alias="If-Match",
            description='The version the change is based on, as an entity tag: `"3"`',
            json_schema_extra={"pattern": r'^("[0-9]{1,18}"|\*)$'},
        ),
    ] = None,
) -> int | None:
    if value is None or value.strip() == "*":
        return None
    match = _ETAG.match(value)
    if not match:
        raise InvalidRequest(
            'If-Match must be one strong entity tag such as "3"',
            [("header.If-Match", "not an entity tag")],
        )
    return int(match.group(1))


SessionDep = Annotated[Session, Depends(session)]
IfMatchDep = Annotated[int | None, Depends(if_match)]
