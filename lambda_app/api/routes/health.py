from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from lambda_app.api.openapi import ok
from lambda_app.api.responses import JSON
from lambda_app.api.schemas import Health

router = APIRouter(tags=["health"])
_OK = b'{"status":"ok"}'


@router.get(
    "/health",
    operation_id="getHealth",
    summary="Liveness check (public)",
    responses={200: ok(Health)},
)
async def health() -> Response:
    return Response(_OK, media_type=JSON)
