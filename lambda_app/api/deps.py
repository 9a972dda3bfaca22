"""What routes get: the request's session (who calls, the services, how to call them), opened by
`SignedInRoute` before FastAPI reads the request, and the If-Match header."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Header, Query, Request
from fastapi.routing import APIRoute
from pydantic.json_schema import SkipJsonSchema
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from lambda_app.api.errors import Unauthenticated
from lambda_app.domain.errors import InvalidRequest
from lambda_app.domain.models import Caller
from lambda_app.service.orders import OrderService
from lambda_app.service.pages import MAX_LIMIT
from lambda_app.service.products import ProductService

T = TypeVar("T")

_DEV_USER = re.compile(r"^[A-Za-z0-9._@:-]{1,128}$")
_ETAG = re.compile(r'^\s*"(\d{1,18})"\s*$')
_SESSION = "order_api.session"


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
        parts = raw.strip().strip("[]").replace(",", " ").split()
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


class SignedInRoute(APIRoute):
    """A route for signed-in callers. The caller is identified before FastAPI reads parameters
    and body, so a stranger gets 401 rather than a validation error, and the endpoint reads its
    session with `session_of(request)`. Not a `Depends`: FastAPI's dependency resolution costs
    more per request (~50 µs of a ~600 µs GET, `make bench`) than this whole step."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        if not self.dependencies and _takes_only_the_request(self.endpoint):
            # Nothing for FastAPI to read, solve or serialize: call the endpoint itself. FastAPI's
            # handler would still parse the query string and cookies, set up its dependency and
            # telemetry bookkeeping and check the result, ~40 µs of a ~650 µs warm GET
            # (`make bench`).
            handle = self.endpoint

        async def signed_in(request: Request) -> Response:
            services = get_services(request)
            caller = _identify(request, services)
            request.state.customer_id = caller.id  # for the request's log line (api/middleware.py)
            request.scope[_SESSION] = Session(caller, services)
            return await handle(request)

        return signed_in


def _takes_only_the_request(endpoint: Callable[..., Any]) -> bool:
    """Whether ``endpoint`` is ``async def name(request: Request) -> Response``."""
    if not inspect.iscoroutinefunction(endpoint):
        return False
    signature = inspect.signature(endpoint, eval_str=True)
    parameters = list(signature.parameters.values())
    return (
        len(parameters) == 1
        and parameters[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        and parameters[0].annotation is Request
        and signature.return_annotation is Response
    )


def session_of(request: Request) -> Session:
    """The session `SignedInRoute` opened for this request."""
    found: Session = request.scope[_SESSION]
    return found


def _identify(request: Request, svc: Services) -> Caller:
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


def path_parameters(*names: str) -> dict[str, Any]:
    """``openapi_extra`` documenting path parameters that the endpoint reads from
    ``request.path_params`` instead of declaring them: a path segment can only be a string, yet
    FastAPI validates a declared one, at ~14 µs a request (3% of a warm GET, `make bench`).
    Each is documented as FastAPI documents a declared ``str`` (listed after the route's other
    parameters); a route with no other parameter no longer advertises FastAPI's default 422,
    which it could never answer."""
    return {
        "parameters": [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "title": name.replace("_", " ").title()},
            }
            for name in names
        ]
    }


# A list page's query parameters, the same on every list route.
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=512)]

IfMatch = Annotated[
    str | SkipJsonSchema[None],
    Header(
        alias="If-Match",
        description='The version the change is based on, as an entity tag: `"3"`',
        json_schema_extra={"pattern": r'^("[0-9]{1,18}"|\*)$'},
    ),
]


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names; None when absent or `*`."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match)
    if not match:
        raise InvalidRequest(
            'If-Match must be one strong entity tag such as "3"',
            [("header.If-Match", "not an entity tag")],
        )
    return int(match.group(1))
