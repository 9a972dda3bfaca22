"""The AttributeValue shortcut returns exactly what botocore's own parser returns."""

from __future__ import annotations

import base64
import json
from typing import Any

import botocore.session
import pytest
from botocore.parsers import JSONParser
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_app.repository.attribute_parser import ParserFactory

_MODEL = botocore.session.get_session().get_service_model("dynamodb")

text = st.text(max_size=8)
number = st.integers(-(10**12), 10**12).map(str)
binary = st.binary(max_size=8).map(lambda raw: base64.b64encode(raw).decode())
scalar = st.one_of(
    st.builds(lambda v: {"S": v}, text),
    st.builds(lambda v: {"N": v}, number),
    st.builds(lambda v: {"B": v}, binary),
    st.builds(lambda v: {"BOOL": v}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda v: {"SS": v}, st.lists(text, min_size=1, max_size=3, unique=True)),
    st.builds(lambda v: {"NS": v}, st.lists(number, min_size=1, max_size=3, unique=True)),
    st.builds(lambda v: {"BS": v}, st.lists(binary, min_size=1, max_size=3, unique=True)),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.builds(lambda v: {"M": v}, st.dictionaries(text, inner, max_size=3)),
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
    ),
    max_leaves=12,
)
item = st.dictionaries(text, value, max_size=6)


def _parse(parser: Any, operation: str, body: dict[str, Any]) -> Any:
    response = {
        "status_code": 200,
        "headers": {"x-amzn-requestid": "test"},
        "body": json.dumps(body).encode(),
    }
    return parser.parse(response, _MODEL.operation_model(operation).output_shape)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(item, max_size=4))
def test_query_pages_parse_as_botocore_parses_them(items: list[dict[str, Any]]) -> None:
    body = {"Items": items, "Count": len(items), "LastEvaluatedKey": items[0] if items else None}
    ours = _parse(ParserFactory().create_parser("json"), "Query", body)
    assert ours == _parse(JSONParser(), "Query", body)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(item)
def test_single_items_and_batches_parse_as_botocore_parses_them(found: dict[str, Any]) -> None:
    for operation, body in (
        ("GetItem", {"Item": found}),
        ("BatchGetItem", {"Responses": {"t": [found, found]}, "UnprocessedKeys": {}}),
    ):
        ours = _parse(ParserFactory().create_parser("json"), operation, body)
        assert ours == _parse(JSONParser(), operation, body)


def test_binary_values_are_decoded_like_botocore_decodes_them() -> None:
    body = {"Item": {"b": {"B": "aGk="}, "m": {"M": {"bs": {"BS": ["aGk="]}, "s": {"S": "x"}}}}}
    ours = _parse(ParserFactory().create_parser("json"), "GetItem", body)
    assert ours["Item"] == {"b": {"B": b"hi"}, "m": {"M": {"bs": {"BS": [b"hi"]}, "s": {"S": "x"}}}}


@pytest.mark.parametrize(
    "odd",
    [
        {"S": "a", "N": "1"},  # two members: the SDK decides what survives
        {"S": None},  # a null member is dropped by the SDK
        {"L": [None, {"S": "a"}]},  # sparse list
        {"X": "from a newer DynamoDB"},  # unknown member
    ],
)
def test_values_the_shortcut_does_not_know_go_to_botocore(odd: dict[str, Any]) -> None:
    body = {"Item": {"a": odd}}
    ours = _parse(ParserFactory().create_parser("json"), "GetItem", body)
    assert ours == _parse(JSONParser(), "GetItem", body)


def test_errors_parse_as_botocore_parses_them() -> None:
    """Cancellation reasons carry the item that failed a condition (ReturnValuesOnCondition...):
    botocore parses a modeled error with the error's own shape, so that is what is compared."""
    response = {
        "status_code": 400,
        "headers": {"x-amzn-requestid": "test"},
        "body": json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "message": "Transaction cancelled",
                "CancellationReasons": [
                    {"Code": "None"},
                    {
                        "Code": "ConditionalCheckFailed",
                        "Item": {"stock": {"N": "1"}, "tags": {"L": [{"S": "a"}]}},
                    },
                ],
            }
        ).encode(),
    }
    ours_parser = ParserFactory().create_parser("json")
    shape = _MODEL.operation_model("TransactWriteItems").output_shape
    ours = ours_parser.parse(response, shape)
    assert ours == JSONParser().parse(response, shape)
    assert ours["Error"]["Code"] == "TransactionCanceledException"

    error_shape = _MODEL.shape_for("TransactionCanceledException")
    modeled = ours_parser.parse(response, error_shape)
    assert modeled == JSONParser().parse(response, error_shape)
    assert modeled["CancellationReasons"][1]["Item"] == {
        "stock": {"N": "1"},
        "tags": {"L": [{"S": "a"}]},
    }
