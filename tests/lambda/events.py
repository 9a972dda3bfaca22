"""API Gateway events shaped like AWS's published samples, and a fake Lambda context.

``events/http_api_v2.json`` is an HTTP API event (payload format 2.0, ``$default`` route and
stage, JWT authorizer) and ``events/rest_api_v1.json`` a REST API proxy event (payload format
1.0, ``/{proxy+}`` resource, stage ``prod``, Cognito user pool authorizer). The builders below
copy a sample and fill in only what a real client and API Gateway would change: method, path,
query, headers, body and the verified claims.
"""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

EVENTS = Path(__file__).parent / "events"


class _NoAuthorizer:
    """API Gateway sent no authorizer section at all (no authorizer on the route)."""

    def __repr__(self) -> str:
        return "NO_AUTHORIZER"


NO_AUTHORIZER: Any = _NoAuthorizer()

Query = dict[str, str | list[str]]
Headers = dict[str, str | list[str]]


@cache
def _sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def sample_http_v2() -> dict[str, Any]:
    return copy.deepcopy(_sample("http_api_v2.json"))


def sample_rest_v1() -> dict[str, Any]:
    return copy.deepcopy(_sample("rest_api_v1.json"))


def cognito_claims(sub: str, groups: list[str] | str | None = None) -> dict[str, Any]:
    """Claims as a Cognito user pool token carries them; ``groups`` exactly as delivered
    (a list, or a string such as ``"[admin ops]"`` when API Gateway flattens it)."""
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE",
        "client_id": "exampleclientid1234567890",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": "1710000000",
        "exp": "1710003600",
        "iat": "1710000000",
        "username": sub,
    }
    if groups is not None:
        claims["cognito:groups"] = groups
    return claims


def _encode_body(
    body: bytes | str | dict[str, Any] | list[Any] | None, is_base64: bool
) -> tuple[str | None, int]:
    if body is None:
        return None, 0
    if isinstance(body, dict | list):
        raw = json.dumps(body).encode()
    elif isinstance(body, str):
        raw = body.encode()
    else:
        raw = body
    text = base64.b64encode(raw).decode() if is_base64 else raw.decode()
    return text, len(raw)


def _request_headers(given: Headers | None, body: Any, length: int) -> dict[str, list[str]]:
    """Request headers as name -> values; adds content-type/content-length like a client would."""
    headers: dict[str, list[str]] = {}
    for name, value in (given or {}).items():
        headers[name] = list(value) if isinstance(value, list) else [value]
    lowered = {name.lower() for name in headers}
    if body is not None:
        if "content-type" not in lowered:
            headers["Content-Type"] = ["application/json"]
        if "content-length" not in lowered:
            headers["Content-Length"] = [str(length)]
    return headers


def http_v2(
    method: str,
    path: str,
    *,
    query: Query | None = None,
    headers: Headers | None = None,
    body: bytes | str | dict[str, Any] | list[Any] | None = None,
    claims: dict[str, Any] | None = NO_AUTHORIZER,
    is_base64: bool = False,
    cookies: list[str] | None = None,
) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) event for ``method path``.

    ``claims``: the JWT authorizer's verified claims; ``NO_AUTHORIZER`` drops the authorizer
    section, ``None`` keeps ``jwt`` with ``claims: null``."""
    event = sample_http_v2()
    text, length = _encode_body(body, is_base64)
    sent = _request_headers(headers, body, length)
    # HTTP API lowercases header names and joins repeated values with commas.
    event_headers = {k: v for k, v in event["headers"].items() if k != "content-length"}
    for name, values in sent.items():
        event_headers[name.lower()] = ",".join(values)
    event["headers"] = event_headers

    pairs = [
        (name, value)
        for name, values in (query or {}).items()
        for value in (values if isinstance(values, list) else [values])
    ]
    event["rawQueryString"] = urlencode(pairs)
    if pairs:
        grouped: dict[str, list[str]] = {}
        for name, value in pairs:
            grouped.setdefault(name, []).append(value)
        event["queryStringParameters"] = {k: ",".join(v) for k, v in grouped.items()}
    else:
        event.pop("queryStringParameters", None)

    if cookies:
        event["cookies"] = cookies
    else:
        event.pop("cookies", None)

    event["rawPath"] = path
    context = event["requestContext"]
    context["http"]["method"] = method
    context["http"]["path"] = path
    context["requestId"] = uuid.uuid4().hex[:16] + "="
    if claims is NO_AUTHORIZER:
        context.pop("authorizer", None)
    else:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}

    if text is None:
        event.pop("body", None)
    else:
        event["body"] = text
    event["isBase64Encoded"] = is_base64
    return event


def rest_v1(
    method: str,
    path: str,
    *,
    query: Query | None = None,
    headers: Headers | None = None,
    body: bytes | str | dict[str, Any] | list[Any] | None = None,
    claims: dict[str, Any] | None = NO_AUTHORIZER,
    is_base64: bool = False,
) -> dict[str, Any]:
    """A REST API proxy (payload format 1.0) event for ``method path`` on stage ``prod``.

    ``headers`` values may be lists (repeated headers); API Gateway puts every value in
    ``multiValueHeaders`` and the last one in ``headers``. ``claims``: the Cognito authorizer's
    claims; ``NO_AUTHORIZER`` drops the authorizer section, ``None`` sends ``claims: null``."""
    event = sample_rest_v1()
    text, length = _encode_body(body, is_base64)
    sent = _request_headers(headers, body, length)
    multi: dict[str, list[str]] = dict(event["multiValueHeaders"])
    for name, values in sent.items():
        for existing in [k for k in multi if k.lower() == name.lower()]:
            del multi[existing]
        multi[name] = values
    event["multiValueHeaders"] = multi
    event["headers"] = {name: values[-1] for name, values in multi.items()}

    multi_query: dict[str, list[str]] = {}
    for name, values in (query or {}).items():
        multi_query[name] = list(values) if isinstance(values, list) else [values]
    event["multiValueQueryStringParameters"] = multi_query or None
    event["queryStringParameters"] = (
        {k: v[-1] for k, v in multi_query.items()} if multi_query else None
    )

    event["path"] = path
    event["httpMethod"] = method
    event["pathParameters"] = {"proxy": path.lstrip("/")} if path != "/" else None
    context = event["requestContext"]
    context["httpMethod"] = method
    context["path"] = f"/{context['stage']}{path}"
    context["requestId"] = str(uuid.uuid4())
    if claims is NO_AUTHORIZER:
        context.pop("authorizer", None)
    else:
        context["authorizer"] = {"claims": claims}

    event["body"] = text
    event["isBase64Encoded"] = is_base64
    return event


@dataclass
class FakeLambdaContext:
    """The attributes and method of the Python runtime's LambdaContext that code may read."""

    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_name: str = "order-api-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:order-api-test"
    log_group_name: str = "/aws/lambda/order-api-test"
    log_stream_name: str = "2024/03/12/[$LATEST]0123456789abcdef0123456789abcdef"
    timeout_seconds: float = 29.0
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def eventbridge_scheduled() -> dict[str, Any]:
    """An EventBridge (CloudWatch Events) scheduled-rule event."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2024-03-12T19:05:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/order-api-warmer"],
        "detail": {},
    }


def sqs_message() -> dict[str, Any]:
    """An SQS trigger event with one record."""
    return {
        "Records": [
            {
                "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                "body": "test",
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1545082649183",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1545082649185",
                },
                "messageAttributes": {},
                "md5OfBody": "098f6bcd4621d373cade4e832627b4f6",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:my-queue",
                "awsRegion": "us-east-1",
            }
        ]
    }
