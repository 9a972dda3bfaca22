"""OpenAPI details FastAPI cannot infer: problem+json error responses and the Problem schema,
links between operations, and how to authenticate (security schemes and requirements).

All of it is added when the document is first built (the first GET /openapi.json), never on
the request path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from lambda_app.api.deps import SignedInRoute
from lambda_app.api.errors import PROBLEM_JSON
from lambda_app.api.schemas import Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_HEADERS: dict[int, dict[str, Any]] = {
    503: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    409: {
        "Retry-After": {
            "description": "Seconds to wait (concurrent updates)",
            "schema": {"type": "integer"},
        }
    },
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
}
_REASONS = {
    400: "Malformed JSON, or an invalid cursor",
    401: "No verified identity",
    403: "Not allowed for this caller",
    404: "No such resource (or not visible to this caller)",
    409: "Conflicts with the current state",
    412: "If-Match names a stale version",
    413: "Body larger than 64 KiB",
    415: "Body is not application/json",
    422: "Validation failed",
    500: "Unexpected error (carries request_id)",
    503: "Database throttled or unavailable; retry after Retry-After",
}
# Errors any route can give: missing identity, server-side trouble.
COMMON = (401, 500, 503)


ETAG = {"ETag": {"description": 'The version, as `"<version>"`', "schema": {"type": "string"}}}


def ok(model: type[BaseModel], description: str = "OK", **more: Any) -> dict[str, Any]:
    """A success response documented by reference to ``model``'s schema. Routes return ready
    Responses, so a ``response_model`` would only make FastAPI build a validator per route at
    import (cold start) that never runs; ``install`` puts the schema in the document instead."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _ref(model)}}},
        **more,
    }


def _ref(model: type[BaseModel]) -> str:
    return f"#/components/schemas/{model.__name__}"


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, *COMMON}):
        response: dict[str, Any] = {
            "description": _REASONS.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
        }
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]
        responses[status] = response
    return responses


# OpenAPI links: which values of a response feed which next call. An order or product just placed,
# read or changed can be read, changed or cancelled, with If-Match set to the ETag it came with.
_ORDER = "/orders/{order_id}"
_PRODUCT = "/products/{sku}"
_BY_ID = {"order_id": "$response.body#/id"}
_BY_ID_AT_VERSION = {**_BY_ID, "header.If-Match": "$response.header.ETag"}
_BY_SKU = {"sku": "$response.body#/sku"}
_BY_SKU_AT_VERSION = {**_BY_SKU, "header.If-Match": "$response.header.ETag"}
_GET_ORDER = ("GetOrder", "get", _ORDER, _BY_ID)
_CHANGE_ORDER = ("ChangeOrder", "patch", _ORDER, _BY_ID_AT_VERSION)
_CANCEL_ORDER = ("CancelOrder", "post", _ORDER + "/cancel", _BY_ID_AT_VERSION)
_GET_PRODUCT = ("GetProduct", "get", _PRODUCT, _BY_SKU)
_CHANGE_PRODUCT = ("ChangeProduct", "patch", _PRODUCT, _BY_SKU_AT_VERSION)
_LINKS: dict[tuple[str, str, str], list[tuple[str, str, str, dict[str, str]]]] = {
    ("post", "/orders", "201"): [_GET_ORDER, _CHANGE_ORDER, _CANCEL_ORDER],
    ("get", _ORDER, "200"): [_CHANGE_ORDER, _CANCEL_ORDER],
    ("patch", _ORDER, "200"): [_GET_ORDER, _CHANGE_ORDER, _CANCEL_ORDER],
    ("post", "/products", "201"): [_GET_PRODUCT, _CHANGE_PRODUCT],
    ("get", _PRODUCT, "200"): [_CHANGE_PRODUCT],
    ("patch", _PRODUCT, "200"): [_GET_PRODUCT, _CHANGE_PRODUCT],
}


def _add_links(schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})
    for (method, path, status), links in _LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        response["links"] = {
            name: {"operationId": paths[target][verb]["operationId"], "parameters": parameters}
            for name, verb, target, parameters in links
            if "operationId" in paths.get(target, {}).get(verb, {})
        }


# --- how to authenticate ------------------------------------------------------------------------
# Scheme names, as generated clients and Swagger UI's Authorize dialog show them.
BEARER = "bearerAuth"
HOSTED_LOGIN = "hostedLogin"
DEV_USER = "devUser"
DEV_GROUPS = "devGroups"
Requirement = dict[str, list[str]]
# How Swagger UI's Authorize dialog describes the scopes a login may ask for.
_SCOPES = {"openid": "Sign in (OpenID Connect)", "email": "Your email address"}


@dataclass(frozen=True)
class OAuthLogin:
    """An OAuth 2.0 authorization server's sign-in (authorization code with PKCE): Cognito's
    hosted login in the stack."""

    client_id: str
    authorization_url: str
    token_url: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Security:
    """The schemes this process honours, and the requirement every signed-in operation carries
    (alternatives: any one of them will do)."""

    schemes: dict[str, dict[str, Any]]
    requirements: list[Requirement]


def security(*, dev_auth: bool, login: OAuthLogin | None) -> Security:
    """What the document offers. Never a scheme this process would ignore: with the dev
    identity on (``order-api serve``) the caller is whoever X-Dev-User says and tokens mean
    nothing; otherwise (Lambda) API Gateway's JWT authorizer verifies a bearer token and the
    dev headers mean nothing."""
    if dev_auth:
        return Security(
            schemes={
                DEV_USER: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Dev-User",
                    "description": "Local development only: you are whoever this says "
                    "(letters, digits and `._@:-`, up to 128), e.g. `alice`",
                },
                DEV_GROUPS: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Dev-Groups",
                    "description": "Local development only, optional, together with X-Dev-User: "
                    "comma-separated groups; `admin` makes you staff",
                },
            },
            requirements=[{DEV_USER: []}, {DEV_USER: [], DEV_GROUPS: []}],
        )
    schemes: dict[str, dict[str, Any]] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token of the API's identity provider (the stack's Cognito "
            "user pool, or the issuer it was deployed with), verified by API Gateway",
        }
    }
    requirements: list[Requirement] = [{BEARER: []}]
    if login is not None:
        schemes[HOSTED_LOGIN] = {
            "type": "oauth2",
            "description": "Sign in through the user pool's hosted login (authorization code "
            "with PKCE; no client secret)",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": login.authorization_url,
                    "tokenUrl": login.token_url,
                    "scopes": {scope: _SCOPES.get(scope, scope) for scope in login.scopes},
                }
            },
        }
        # No scope is required: the JWT authorizer accepts any token of the app client.
        requirements.append({HOSTED_LOGIN: []})
    return Security(schemes, requirements)


def _add_security(schema: dict[str, Any], app: FastAPI, security: Security) -> None:
    schema.setdefault("components", {})["securitySchemes"] = security.schemes
    paths = schema.get("paths", {})
    for route in app.routes:
        if isinstance(route, SignedInRoute) and route.include_in_schema:
            for method in route.methods or ():
                operation = paths.get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    operation["security"] = security.requirements


def install(app: FastAPI, documented: Sequence[type[BaseModel]], security: Security) -> None:
    """Serve our OpenAPI document: FastAPI's, plus the schemas of the ``documented`` response
    models (see ``ok``) and of Problem, the links between operations, and ``security`` on every
    signed-in operation (the public ones carry none)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            models: list[type[BaseModel]] = [*documented, Problem]
            _, definitions = models_json_schema(
                [(model, "serialization") for model in models],
                ref_template="#/components/schemas/{model}",
            )
            components.update(definitions.get("$defs", {}))
            _add_links(schema)
            _add_security(schema, app, security)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
