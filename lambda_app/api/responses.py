"""JSON responses serialized once, by pydantic-core, straight to bytes.

Routes document their success bodies by reference to the response models (api/openapi.py) and
return these: FastAPI then skips its own validate-and-serialize pass over a body we built from
trusted domain objects (api/representations.py).
"""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json
from starlette.responses import Response

JSON = "application/json"


def json_response(
    body: dict[str, Any], status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(to_json(body), status_code, headers, JSON)


def resource_response(
    body: dict[str, Any], version: int, status_code: int = 200, **headers: str
) -> Response:
    """One resource, with its version as a strong entity tag (what If-Match names)."""
    return json_response(body, status_code, {"ETag": f'"{version}"', **headers})
