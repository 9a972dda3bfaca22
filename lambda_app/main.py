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


def handler(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict) or not _is_http_event(event, context):
        # A warmer, a console test invoke or a wrong trigger: say so instead of crashing.
        return {
            "statusCode": 400,
            "headers": {"content-type": "application/problem+json"},
            "isBase64Encoded": False,
            "body": '{"type":"about:blank","title":"Bad Request","status":400,'
            '"detail":"This function only handles API Gateway HTTP events"}',
        }
    response: dict[str, Any] = _adapter(event, context)
    return response


def _is_http_event(event: dict[str, Any], context: Any) -> bool:
    try:
        # infer() only looks at a couple of top-level keys; building the scope reads the rest,
        # so a half-shaped event (a truncated console test event) is refused here too.
        _adapter.infer(event, context).scope  # noqa: B018
    except (RuntimeError, KeyError, TypeError, AttributeError):
        return False
    return True
