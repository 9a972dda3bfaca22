"""JSON responses serialized once, by pydantic, straight to bytes.

Routes declare their ``response_model`` for the OpenAPI document and return these: FastAPI then
skips its own validate-and-serialize pass over a body we built from trusted domain objects.
"""

from __future__ import annotations

from pydantic import BaseModel
from starlette.responses import Response

JSON = "application/json"


def json_response(
    body: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(body.model_dump_json(), status_code, headers, JSON)


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}
