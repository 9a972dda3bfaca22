"""Entry points: ``app`` (ASGI) and ``handler`` (AWS Lambda, API Gateway HTTP and REST APIs).

Everything here runs once per Lambda container (INIT) and is reused by warm invocations.
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from lambda_app.api.app import create_app
from lambda_app.settings import Settings

app = create_app(Settings())

# lifespan="off": Mangum would otherwise run the lifespan cycle on every invocation.
# problem+json must be listed, or Mangum base64-encodes it as an unknown (binary) type.
_adapter = Mangum(
    app,
    lifespan="off",
    text_mime_types=[
        "text/",
        "application/json",
        "application/problem+json",
        "application/vnd.oai.openapi",
    ],
)


_NOT_AN_HTTP_EVENT = {
    "statusCode": 400,
    "headers": {"content-type": "application/problem+json"},
    "isBase64Encoded": False,
    "body": '{"type":"about:blank","title":"Bad Request","status":400,'
    '"detail":"This function only handles API Gateway HTTP events"}',
}


def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        response: dict[str, Any] = _adapter(event, context)
    except (RuntimeError, KeyError, TypeError, AttributeError):
        # Only Mangum's reading of the event can raise here: errors inside the app become
        # problem+json responses. So this is a warmer, a console test invoke, a wrong trigger or
        # a half-shaped event: say so instead of crashing (a crash is a 502 at API Gateway).
        return dict(_NOT_AN_HTTP_EVENT)
    return response
