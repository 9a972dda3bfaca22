"""The DynamoDB client: created once per process (per Lambda container) and reused."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast, overload

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


class _ServiceNames(Sequence[str]):
    """The services a loader knows, as botocore's census finds them, except that "dynamodb" is
    known without one: the census walks the SDK's ~450 service directories (twice: models and
    endpoint rules) just to confirm it, ~12 ms of INIT. Any other service (the STS or SSO client
    the credential chain may build from the same session) still gets the full census."""

    def __init__(self, census: Callable[[], list[str]]) -> None:
        self._census = census
        self._names: list[str] | None = None

    def _all(self) -> list[str]:
        if self._names is None:
            self._names = self._census()
        return self._names

    def __contains__(self, name: object) -> bool:
        return name == "dynamodb" or name in self._all()

    def __len__(self) -> int:
        return len(self._all())

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._all()[index]


class _Loader(Loader):
    def list_available_services(self, type_name: str) -> list[str]:
        # A lazy sequence where botocore's stubs say list: botocore tests membership in it and
        # joins it into an error message, both of which it supports.
        names = _ServiceNames(functools.partial(super().list_available_services, type_name))
        return cast("list[str]", names)


def dynamodb_session() -> botocore.session.Session:
    """A botocore session tuned for DynamoDB clients: its model loader skips a census of the
    SDK (above), and its responses are parsed with the AttributeValue shortcut."""
    session = botocore.session.get_session()
    # AWS_DATA_PATH, read as botocore's own loader reads it.
    paths = session.get_config_variable("data_path")
    extra = (
        [os.path.expanduser(os.path.expandvars(p)) for p in paths.split(os.pathsep)]
        if paths
        else []
    )
    session.register_component("data_loader", _Loader(extra_search_paths=extra))
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
    _user_agent_once(client)
    return cast("DynamoDBClient", client)


def _user_agent_once(client: Any) -> None:
    """botocore builds a request's User-Agent header twice: with the request, then again once
    the request exists, to list SDK features used on the way (metadata for AWS's statistics of
    SDK use). The first build is kept: ~10 µs of a warm GET (2%, `make bench`). A botocore that
    does not have this handler, or calls it otherwise, is left as it is."""
    creator = getattr(client, "_user_agent_creator", None)
    rebuild = getattr(creator, "rebuild_and_replace_user_agent_handler", None)
    if rebuild is not None:
        service_id = client.meta.service_model.service_id.hyphenize()
        client.meta.events.unregister(f"request-created.{service_id}", rebuild)
