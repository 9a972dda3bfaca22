"""Every error becomes RFC 9457 problem+json here, and only here."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match, Route

from lambda_app.domain import errors as domain

PROBLEM_JSON = "application/problem+json"
INSUFFICIENT_STOCK = "urn:order-api:problem:insufficient-stock"
logger = logging.getLogger("lambda_app.api")


class Unauthenticated(Exception):
    """No verified identity came with the request."""


def problem_body(
    status: int, detail: str, *, slug: str | None = None, title: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        # Domain-specific problems get a stable type URN; plain HTTP ones are about:blank (RFC 9457).
        "type": f"urn:order-api:problem:{slug}" if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return body


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=body["status"],
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


# Domain error → (status, slug, title). Order matters: subclasses before their bases.
_DOMAIN: list[tuple[type[domain.DomainError], int, str, str]] = [
    (domain.NotFound, 404, "not-found", "Not found"),
    (domain.Forbidden, 403, "forbidden", "Forbidden"),
    (domain.IdempotencyKeyReused, 422, "idempotency-key-reused", "Idempotency-Key reused"),
    (domain.InvalidRequest, 422, "invalid-request", "Invalid request"),
    (domain.InsufficientStock, 409, "insufficient-stock", "Insufficient stock"),
    (domain.InvalidTransition, 409, "invalid-transition", "Invalid status transition"),
    (domain.AlreadyExists, 409, "already-exists", "Already exists"),
    (domain.ConcurrentUpdate, 409, "concurrent-update", "Concurrent update"),
    (domain.Conflict, 409, "conflict", "Conflict"),
    (domain.PreconditionFailed, 412, "precondition-failed", "Precondition failed"),
    (domain.InvalidCursor, 400, "invalid-cursor", "Invalid cursor"),
    (domain.StoreUnavailable, 503, "unavailable", "Service unavailable"),
]


def domain_problem(error: domain.DomainError) -> tuple[dict[str, Any], dict[str, str]]:
    status, slug, title = next(
        ((status, slug, title) for kind, status, slug, title in _DOMAIN if isinstance(error, kind)),
        (500, "internal", "Internal error"),
    )
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(error, domain.InvalidRequest) and error.errors:
        extra["errors"] = [{"field": f, "message": m} for f, m in error.errors]
    if isinstance(error, domain.InsufficientStock):
        extra["skus"] = error.skus
    if isinstance(error, domain.InvalidTransition):
        extra["current_status"] = error.current
    if isinstance(error, domain.PreconditionFailed):
        extra["current_version"] = error.current_version
        headers["ETag"] = f'"{error.current_version}"'
    if isinstance(error, domain.StoreUnavailable):
        headers["Retry-After"] = str(error.retry_after_seconds)
    if isinstance(error, domain.ConcurrentUpdate):
        headers["Retry-After"] = "1"
    return problem_body(status, error.detail, slug=slug, title=title, **extra), headers


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        where, rest = parts[0], parts[1:]
        return f"{where}." + ".".join(rest) if rest else where
    return ".".join(parts)


def allowed_methods(request: Request) -> str | None:
    """Every method the request's path supports, for a 405's ``Allow`` (RFC 9110, 15.5.6).
    Starlette answers a wrong method from the first route whose path matches, so its ``Allow``
    names that route's methods only (one route per method here: GET and POST on /orders are two
    routes); this looks at every route. Runs for 405s only."""
    methods = {
        method
        for route in request.app.router.routes
        if isinstance(route, Route) and route.methods
        if route.matches(request.scope)[0] is not Match.NONE
        for method in route.methods
    }
    return ", ".join(sorted(methods)) or None


def install(app: FastAPI) -> None:
    async def on_domain(request: Request, error: Exception) -> Response:
        assert isinstance(error, domain.DomainError)
        body, headers = domain_problem(error)
        request.state.problem = body["type"]  # for the request's metrics (api/middleware.py)
        if body["status"] >= 500:
            body["request_id"] = request_id(request)
            logger.warning(
                "dependency unavailable: %s",
                error.detail,
                exc_info=error.__cause__,
                extra={"correlation_id": body["request_id"]},
            )
        return problem_response(body, headers)

    async def on_validation(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        problems = list(error.errors())
        if any(p.get("type") == "json_invalid" for p in problems):
            return problem_response(
                problem_body(400, "The request body is not valid JSON", slug="malformed-json")
            )
        details = [
            {"field": _field(tuple(p.get("loc", ()))), "message": str(p.get("msg", "invalid"))}
            for p in problems
        ]
        return problem_response(
            problem_body(
                422,
                "The request is invalid: "
                + "; ".join(f"{d['field']}: {d['message']}" for d in details),
                slug="validation-failed",
                title="Validation failed",
                errors=details,
            )
        )

    async def on_http(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        status = error.status_code
        detail = {
            404: f"No route matches {request.url.path}",
            405: f"{request.method} is not allowed on {request.url.path}",
            400: "The request body could not be parsed",
        }.get(status, str(error.detail))
        headers = dict(error.headers or {})
        if status == 405 and (allow := allowed_methods(request)):
            headers["Allow"] = allow
        return problem_response(problem_body(status, detail), headers)

    async def on_unauthenticated(request: Request, error: Exception) -> Response:
        return problem_response(
            problem_body(401, str(error) or "Authentication required", slug="unauthenticated"),
            {"WWW-Authenticate": "Bearer"},
        )

    app.add_exception_handler(domain.DomainError, on_domain)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Unauthenticated, on_unauthenticated)
