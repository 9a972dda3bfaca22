"""The tuned session makes DynamoDB clients without botocore's census of every service, and any
other client (the credential chain's STS or SSO) exactly as botocore would."""

from __future__ import annotations

import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader

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
