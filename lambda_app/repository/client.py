"""The DynamoDB client: created once per process (per Lambda container) and reused."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import botocore.session
from botocore.config import Config

from lambda_app.repository.attribute_parser import ParserFactory

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Standard retry mode backs off with jitter and retries throttling and transient errors. Timeouts
# are short because an API Gateway request must finish within 30 s and a healthy DynamoDB call
# takes milliseconds: failing fast and letting the SDK retry beats waiting on a dead connection.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
    # Our requests are built by code, and DynamoDB validates them anyway: botocore's client-side
    # walk over every parameter is ~20% of a warm request's CPU.
    parameter_validation=False,
    max_pool_connections=16,
)


def dynamodb_session() -> botocore.session.Session:
    """A botocore session whose responses are parsed with the AttributeValue shortcut
    (attribute_parser.py). The asset ships this botocore, the version the tests run."""
    session = botocore.session.get_session()
    session.register_component("response_parser_factory", ParserFactory())
    return session


def make_client(
    region: str, endpoint_url: str | None = None, session: botocore.session.Session | None = None
) -> DynamoDBClient:
    # A low-level client made through botocore's session: the asset ships botocore, not boto3,
    # whose import adds a resource layer and s3transfer (~80 ms of INIT) that we never use.
    # A shared session (tests) reuses its parsed service model; Lambda makes one client anyway.
    client = (session or dynamodb_session()).create_client(
        "dynamodb", region_name=region, endpoint_url=endpoint_url, config=CLIENT_CONFIG
    )
    return cast("DynamoDBClient", client)
