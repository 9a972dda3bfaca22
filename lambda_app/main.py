"""Entry points: ``app`` (ASGI) and ``handler`` (AWS Lambda, API Gateway HTTP and REST APIs).

Everything here runs once per Lambda container (INIT) and is reused by warm invocations.
"""

from __future__ import annotations

import gc

# INIT allocates ~130k long-lived objects (modules, classes, schemas, the SDK's models) and
# frees almost none: the collector's passes over them during import are wasted work, and so is
# every later pass. So: no collection while starting, then freeze what INIT built out of the
# collector's sight. Measured with `make bench`: about 8% of the cold start.
gc.disable()

import os  # noqa: E402 - after gc.disable(), on purpose

# We use no pydantic plugins; unless told so, pydantic looks for them in the entry points of
# every installed distribution (the runtime's included) when it builds its first model: ~2 ms.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from typing import Any  # noqa: E402

from lambda_app.api.app import create_app  # noqa: E402
from lambda_app.api.gateway import LambdaAdapter  # noqa: E402
from lambda_app.settings import Settings  # noqa: E402

app = create_app(Settings())

# problem+json must be listed, or Mangum base64-encodes it as an unknown (binary) type.
_adapter = LambdaAdapter(
    app,
    text_mime_types=[
        "text/",
        "application/json",
        "application/problem+json",
        "application/vnd.oai.openapi",
    ],
)
gc.freeze()
gc.enable()


def handler(event: Any, context: Any) -> dict[str, Any]:
    return _adapter(event, context)
