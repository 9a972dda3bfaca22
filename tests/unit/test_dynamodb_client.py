"""The client ``make_client`` builds parses responses with the AttributeValue shortcut, and
answers exactly what a plain botocore client answers (tests/unit/test_attribute_parser.py holds
the shortcut itself to botocore's parser on generated items)."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse

from lambda_app.repository.attribute_parser import ParserFactory
from lambda_app.repository.client import dynamodb_session, make_client

REGION = "us-east-1"
ITEM = {
    "PK": {"S": "ORDER#1"},
    "total": {"N": "7996"},
    "tags": {"SS": ["a", "b"]},
    "blob": {"B": "aGVsbG8="},
    "lines": {"L": [{"M": {"sku": {"S": "SKU-1"}, "quantity": {"N": "2"}}}]},
}


class _Body:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def stream(self, **_: Any) -> Any:
        yield self.raw


def _answering(client: Any, status: int, body: dict[str, Any]) -> list[str]:
    """DynamoDB answered at the transport, every time; returns the operations sent."""
    sent: list[str] = []

    def send(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.headers["X-Amz-Target"].decode())
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "r"}
        return AWSResponse(request.url, status, headers, _Body(json.dumps(body).encode()))

    client.meta.events.register_first("before-send.dynamodb", send)
    return sent


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_responses_are_parsed_by_the_shortcut_as_botocore_parses_them() -> None:
    session = dynamodb_session()
    assert isinstance(session.get_component("response_parser_factory"), ParserFactory)
    ours = make_client(REGION, session=session)
    plain = botocore.session.get_session().create_client("dynamodb", region_name=REGION)
    for client in (ours, plain):
        _answering(client, 200, {"Item": ITEM})
    key: Any = {"PK": {"S": "ORDER#1"}}
    got = ours.get_item(TableName="t", Key=key)
    expected = plain.get_item(TableName="t", Key=key)
    assert got["Item"] == expected["Item"]
    assert got["Item"]["blob"] == {"B": b"hello"}  # binary values decoded, as botocore does
