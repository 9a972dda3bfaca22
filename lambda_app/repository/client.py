"""The DynamoDB client: created once per process (per Lambda container) and reused."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, cast

import botocore.session
from botocore.config import Config
from botocore.loaders import Loader

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


class _DynamoDBLoader(Loader):
    """botocore's model loader, minus its census of the SDK's ~450 service directories, which it
    takes (twice) only to confirm that "dynamodb" is among them: ~12 ms of INIT. Loading the
    model still fails loudly if it is missing."""

    def list_available_services(self, type_name: str) -> list[str]:
        return ["dynamodb"]


def dynamodb_session() -> botocore.session.Session:
    """A botocore session tuned for DynamoDB clients (see the two components below)."""
    session = botocore.session.get_session()
    paths = session.get_config_variable("data_path")  # AWS_DATA_PATH, as botocore honours it
    session.register_component(
        "data_loader", _DynamoDBLoader(extra_search_paths=paths.split(os.pathsep) if paths else [])
    )
    session.register_component("response_parser_factory", ParserFactory())
    return session


def make_client(
    region: str, endpoint_url: str | None = None, session: botocore.session.Session | None = None
) -> DynamoDBClient:
    # boto3's low-level client, made through botocore's session directly: `import boto3` also
    # imports its resource layer and s3transfer (~80 ms of INIT) that a low-level client never uses.
    # A shared session (tests) reuses its parsed service model; Lambda makes one client anyway.
    client = (session or dynamodb_session()).create_client(
        "dynamodb", region_name=region, endpoint_url=endpoint_url, config=CLIENT_CONFIG
    )
    return cast("DynamoDBClient", client)
