"""Reads DynamoDB's AttributeValues off the wire without walking the SDK's shape model.

botocore parses every attribute of every item by visiting all ten members of the AttributeValue
shape (S, N, B, SS, NS, BS, M, L, NULL, BOOL) through a chain of method calls: for a page of
20 orders that walk is about half of the whole request's CPU (`make bench`). Yet on the wire an
AttributeValue is already the dict the SDK returns, except for binary values, which the SDK
decodes from base64. So values made of S, N, SS, NS, NULL, BOOL, M and L are taken as they
arrived; anything else (binary, or a shape the SDK would treat differently) goes through
botocore's own parser, unchanged. tests/unit/test_attribute_parser.py holds the two equal.
"""

from __future__ import annotations

from typing import Any

from botocore.parsers import JSONParser, ResponseParserFactory

_AS_SENT = frozenset({"S", "N", "SS", "NS", "NULL", "BOOL"})


def _as_sent(node: dict[str, Any]) -> dict[str, Any] | None:
    """The value as botocore would return it, or None where botocore must decide."""
    if len(node) != 1:
        return None
    ((tag, raw),) = node.items()
    if raw is None:
        return None
    if tag in _AS_SENT:
        return node
    if tag == "M":
        members: dict[str, Any] = {}
        for name, value in raw.items():
            parsed = _as_sent(value) if type(value) is dict else None
            if parsed is None:
                return None
            members[name] = parsed
        return {"M": members}
    if tag == "L":
        elements: list[Any] = []
        for value in raw:
            parsed = _as_sent(value) if type(value) is dict else None
            if parsed is None:
                return None
            elements.append(parsed)
        return {"L": elements}
    return None


class _Parser(JSONParser):
    # botocore's own hook for every shape it parses (private, stable since 2015; the type stubs
    # leave it out). The asset ships the locked botocore, the one tests/unit/test_attribute_parser
    # holds this output to: a botocore upgrade is a lock-file change those tests run on.
    def _parse_shape(self, shape: Any, node: Any, *args: Any, **kwargs: Any) -> Any:
        if shape.name == "AttributeValue" and type(node) is dict:
            parsed = _as_sent(node)
            if parsed is not None:
                return parsed
        return super()._parse_shape(shape, node, *args, **kwargs)  # type: ignore[misc]


class ParserFactory(ResponseParserFactory):
    """botocore's parser factory, with the AttributeValue shortcut for JSON protocols."""

    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name == "json":
            return _Parser(**self._defaults)  # type: ignore[attr-defined]
        return super().create_parser(protocol_name)
