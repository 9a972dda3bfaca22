"""DynamoDB faked at botocore's ``before-send``: botocore still serializes, signs and parses.

Installed among botocore's built-in handlers before the handler is imported, so the handler's
own client (created at import) carries it, exactly as it would carry the real transport.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from typing import Any

CUSTOMER = "bench-customer"
SKUS = ("SKU-1", "SKU-2", "SKU-3")
ORDER_ID = "01JD3A6R8Q4X5Y7Z9B2C4D6E8F"
NOW = "2026-11-25T07:00:00.000Z"
DEADLINE = "2026-11-25T07:30:00.000Z"
calls: Counter[str] = Counter()


def _product(sku: str) -> dict[str, Any]:
    return {
        "PK": {"S": f"PRODUCT#{sku}"},
        "SK": {"S": "PRODUCT"},
        "GSI1PK": {"S": "CATALOG#0"},
        "GSI1SK": {"S": sku},
        "type": {"S": "PRODUCT"},
        "sku": {"S": sku},
        "name": {"S": f"Product {sku}"},
        "price": {"N": "1999"},
        "currency": {"S": "EUR"},
        "stock": {"N": "1000000"},
        "version": {"N": "7"},
        "created_at": {"S": NOW},
        "updated_at": {"S": NOW},
    }


def _order(order_id: str) -> dict[str, Any]:
    """A PENDING order as the service writes it: its list and reservation index keys, and the
    reservation deadline."""
    shard = zlib.crc32(order_id.encode()) % 4
    return {
        "PK": {"S": f"ORDER#{order_id}"},
        "SK": {"S": "ORDER"},
        "GSI1PK": {"S": f"CUSTOMER#{CUSTOMER}"},
        "GSI1SK": {"S": order_id},
        "GSI2PK": {"S": f"CUSTOMER#{CUSTOMER}#PENDING"},
        "GSI2SK": {"S": order_id},
        "GSI3PK": {"S": f"STATUS#PENDING#{shard}"},
        "GSI3SK": {"S": order_id},
        "GSI4PK": {"S": f"RESERVATION#{shard}"},
        "GSI4SK": {"S": DEADLINE},
        "type": {"S": "ORDER"},
        "id": {"S": order_id},
        "customer_id": {"S": CUSTOMER},
        "status": {"S": "PENDING"},
        "currency": {"S": "EUR"},
        "items": {
            "L": [
                {
                    "M": {
                        "sku": {"S": sku},
                        "name": {"S": f"Product {sku}"},
                        "quantity": {"N": "2"},
                        "unit_price": {"N": "1999"},
                    }
                }
                for sku in SKUS[:2]
            ]
        },
        "total": {"N": "7996"},
        "shipping_address": {
            "M": {
                "name": {"S": "Ada Lovelace"},
                "line1": {"S": "12 St James's Square"},
                "city": {"S": "London"},
                "postal_code": {"S": "SW1Y 4JH"},
                "country": {"S": "GB"},
            }
        },
        "created_at": {"S": NOW},
        "updated_at": {"S": NOW},
        "version": {"N": "1"},
        "reserved_until": {"S": DEADLINE},
    }


def _answer(operation: str, request: dict[str, Any]) -> dict[str, Any]:
    if operation == "BatchGetItem":
        table, spec = next(iter(request["RequestItems"].items()))
        found = [
            _product(key["PK"]["S"].split("#", 1)[1])
            for key in spec["Keys"]
            if key["PK"]["S"].startswith("PRODUCT#")
        ]
        return {"Responses": {table: found}, "UnprocessedKeys": {}}
    if operation == "TransactWriteItems":
        return {}
    if operation == "GetItem":
        return {"Item": _order(ORDER_ID)}
    if operation == "Query":
        limit = int(request.get("Limit", 21))
        ids = [f"01JD3A6R8Q4X5Y7Z9B2C4D6E{n:02d}" for n in range(99, 99 - limit, -1)]
        return {"Items": [_order(i) for i in ids], "Count": limit}
    raise AssertionError(f"unexpected DynamoDB call {operation}")


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def before_send(request: Any, **_: Any) -> Any:
    from botocore.awsrequest import AWSResponse

    operation = request.headers["X-Amz-Target"].decode().split(".")[-1]
    calls[operation] += 1
    body = json.dumps(_answer(operation, json.loads(request.body))).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "bench"}
    return AWSResponse(request.url, 200, headers, _Raw(body))


def install() -> None:
    """Every botocore session made from now on (boto3's included) carries the fake."""
    from botocore.handlers import BUILTIN_HANDLERS

    BUILTIN_HANDLERS.append(("before-send.dynamodb", before_send))
