"""The tuned session makes DynamoDB clients without botocore's census of every service, and any
other client (the credential chain's STS or SSO) exactly as botocore would; its DynamoDB
clients build each request's User-Agent once."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader
from botocore.useragent import UserAgentString
from moto import mock_aws

from lambda_app.repository.client import dynamodb_session, make_client

REGION = "us-east-1"


def test_a_dynamodb_client_needs_no_census_of_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    def census(self: Loader, type_name: str) -> list[str]:
        raise AssertionError(f"listed every service for {type_name}")

    monkeypatch.setattr(Loader, "list_available_services", census)
    client = make_client(REGION)
    assert client.meta.service_model.service_name == "dynamodb"


def test_other_services_are_found_as_botocore_finds_them() -> None:
    # An assume-role, SSO or web-identity profile makes an STS/SSO client from this session.
    session = dynamodb_session()
    assert session.create_client("sts", region_name=REGION).meta.service_model.service_name == "sts"
    with pytest.raises(UnknownServiceError):
        session.create_client("no-such-service", region_name=REGION)


def _user_agents_built(client: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """How many times one request's User-Agent is built, and the header it is sent with."""
    built = 0
    sent: list[str] = []
    to_string = UserAgentString.to_string

    def counting(self: UserAgentString) -> str:
        nonlocal built
        built += 1
        return to_string(self)

    def capture(request: Any, **_: Any) -> None:
        sent.append(request.headers["User-Agent"].decode())

    monkeypatch.setattr(UserAgentString, "to_string", counting)
    client.meta.events.register_first("before-send.dynamodb.ListTables", capture)
    with mock_aws():
        client.list_tables()
    return built, sent[0]


def test_a_request_builds_its_user_agent_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    built, header = _user_agents_built(make_client(REGION), monkeypatch)
    assert built == 1
    assert header.startswith("Botocore/") and "cfg/retry-mode#standard" in header
    # A client made the plain way builds it twice: what make_client saves.
    plain = botocore.session.get_session().create_client("dynamodb", region_name=REGION)
    assert _user_agents_built(plain, monkeypatch)[0] == 2
