from __future__ import annotations

from fastapi import APIRouter

from lambda_app.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness check (public)")
async def health() -> Health:
    return Health(status="ok")
