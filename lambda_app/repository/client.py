"""The DynamoDB client: created once per process (per Lambda container) and reused."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Standard retry mode backs off with jitter and retries throttling and transient errors. Timeouts
# are short because an API Gateway request must finish within 30 s and a healthy DynamoDB call
# takes milliseconds: failing fast and letting the SDK retry beats waiting on a dead connection.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
    max_pool_connections=16,
)


def make_client(region: str, endpoint_url: str | None = None) -> DynamoDBClient:
    return boto3.client(
        "dynamodb", region_name=region, endpoint_url=endpoint_url, config=CLIENT_CONFIG
    )
