"""Baseline: an empty FastAPI + Mangum app with one route and a boto3 client, the plain way."""

from __future__ import annotations

from typing import Any

import boto3
from fastapi import FastAPI
from mangum import Mangum

client = boto3.client("dynamodb")
app = FastAPI()


@app.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}


handler = Mangum(app, lifespan="off")
