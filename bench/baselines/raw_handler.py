"""Baseline: the same DynamoDB requests as the service, with nothing but json and boto3.

The requests match the service's byte for byte in shape (keys, index attributes, conditions),
so the ratio measures what the framework and our layers cost, not a difference in payloads.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
import zlib
from typing import Any

import boto3
from botocore.config import Config

TABLE = os.environ["TABLE_NAME"]
client = boto3.client("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 3}))


def _response(status: int, body: Any) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def _order_json(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"]["S"],
        "customer_id": item["customer_id"]["S"],
        "status": item["status"]["S"],
        "currency": item["currency"]["S"],
        "items": [
            {
                "sku": line["M"]["sku"]["S"],
                "name": line["M"]["name"]["S"],
                "quantity": int(line["M"]["quantity"]["N"]),
                "unit_price": int(line["M"]["unit_price"]["N"]),
                "line_total": int(line["M"]["quantity"]["N"]) * int(line["M"]["unit_price"]["N"]),
            }
            for line in item["items"]["L"]
        ],
        "total": int(item["total"]["N"]),
        "shipping_address": {k: v["S"] for k, v in item["shipping_address"]["M"].items()},
        "created_at": item["created_at"]["S"],
        "updated_at": item["updated_at"]["S"],
        "version": int(item["version"]["N"]),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    customer = claims["sub"]
    method = event["requestContext"]["http"]["method"]
    path = event["rawPath"]
    if path == "/health":
        return _response(200, {"status": "ok"})
    if method == "POST" and path == "/orders":
        raw = event.get("body") or ""
        body = json.loads(base64.b64decode(raw) if event.get("isBase64Encoded") else raw)
        quantities: dict[str, int] = {}
        for line in body["items"]:
            if not isinstance(line["quantity"], int) or not 1 <= line["quantity"] <= 1000:
                return _response(422, {"detail": "bad quantity"})
            quantities[line["sku"]] = quantities.get(line["sku"], 0) + line["quantity"]
        found = client.batch_get_item(
            RequestItems={
                TABLE: {
                    "Keys": [
                        {"PK": {"S": f"PRODUCT#{s}"}, "SK": {"S": "PRODUCT"}} for s in quantities
                    ],
                    "ConsistentRead": True,
                }
            }
        )["Responses"][TABLE]
        products = {p["sku"]["S"]: p for p in found}
        order_id = uuid.uuid4().hex[:26].upper()
        placed = time.time()
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(placed))
        deadline = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(placed + 30 * 60))
        shard = zlib.crc32(order_id.encode()) % 4
        lines = [
            {
                "M": {
                    "sku": {"S": s},
                    "name": products[s]["name"],
                    "quantity": {"N": str(q)},
                    "unit_price": products[s]["price"],
                }
            }
            for s, q in quantities.items()
        ]
        total = sum(q * int(products[s]["price"]["N"]) for s, q in quantities.items())
        # The same item, keys and conditions as the service writes: same work for botocore.
        item = {
            "PK": {"S": f"ORDER#{order_id}"},
            "SK": {"S": "ORDER"},
            "GSI1PK": {"S": f"CUSTOMER#{customer}"},
            "GSI1SK": {"S": order_id},
            "GSI2PK": {"S": f"CUSTOMER#{customer}#PENDING"},
            "GSI2SK": {"S": order_id},
            "GSI3PK": {"S": f"STATUS#PENDING#{shard}"},
            "GSI3SK": {"S": order_id},
            "GSI4PK": {"S": f"RESERVATION#{shard}"},
            "GSI4SK": {"S": deadline},
            "type": {"S": "ORDER"},
            "id": {"S": order_id},
            "customer_id": {"S": customer},
            "status": {"S": "PENDING"},
            "currency": products[next(iter(quantities))]["currency"],
            "items": {"L": lines},
            "total": {"N": str(total)},
            "shipping_address": {"M": {k: {"S": v} for k, v in body["shipping_address"].items()}},
            "created_at": {"S": now},
            "updated_at": {"S": now},
            "version": {"N": "1"},
            "reserved_until": {"S": deadline},
        }
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(#pk)",
                        "ExpressionAttributeNames": {"#pk": "PK"},
                    }
                },
                *[
                    {
                        "Update": {
                            "TableName": TABLE,
                            "Key": {"PK": {"S": f"PRODUCT#{s}"}, "SK": {"S": "PRODUCT"}},
                            "UpdateExpression": "SET #stock = #stock + :delta, #v = #v + :one, #u = :now",
                            "ConditionExpression": "attribute_exists(#pk) AND #stock >= :need",
                            "ExpressionAttributeNames": {
                                "#pk": "PK",
                                "#stock": "stock",
                                "#v": "version",
                                "#u": "updated_at",
                            },
                            "ExpressionAttributeValues": {
                                ":delta": {"N": str(-q)},
                                ":one": {"N": "1"},
                                ":now": {"S": now},
                                ":need": {"N": str(q)},
                            },
                        }
                    }
                    for s, q in quantities.items()
                ],
            ],
            ClientRequestToken=order_id,
        )
        return _response(201, _order_json(item))
    if method == "GET" and path.startswith("/orders/"):
        order_id = path.rsplit("/", 1)[1]
        got = client.get_item(
            TableName=TABLE, Key={"PK": {"S": f"ORDER#{order_id}"}, "SK": {"S": "ORDER"}}
        )
        item = got.get("Item")
        if not item or item["customer_id"]["S"] != customer:
            return _response(404, {"detail": "not found"})
        return _response(200, _order_json(item))
    if method == "GET" and path == "/orders":
        result = client.query(
            TableName=TABLE,
            IndexName="GSI1",
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": "GSI1PK"},
            ExpressionAttributeValues={":pk": {"S": f"CUSTOMER#{customer}"}},
            ScanIndexForward=False,
            Limit=21,
        )
        items = [_order_json(i) for i in result["Items"][:20]]
        return _response(
            200,
            {"items": items, "next_cursor": items[-1]["id"] if len(result["Items"]) > 20 else None},
        )
    return _response(404, {"detail": "no route"})
