"""API Gateway HTTP API (payload 2.0) events, shaped like AWS's published sample."""

from __future__ import annotations

import json
from typing import Any

ORDER_BODY = {
    "items": [{"sku": "SKU-1", "quantity": 2}, {"sku": "SKU-2", "quantity": 2}],
    "shipping_address": {
        "name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    },
}


def http_event(method: str, path: str, body: Any = None, query: str = "") -> dict[str, Any]:
    headers = {
        "accept": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "bench",
        "x-forwarded-for": "192.0.2.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if body is not None:
        headers["content-type"] = "application/json"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "authorizer": {
                "jwt": {
                    "claims": {"sub": "bench-customer", "cognito:groups": "[customers]"},
                    "scopes": None,
                }
            },
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.10",
                "userAgent": "bench",
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "stage": "$default",
            "time": "25/Nov/2026:07:00:00 +0000",
            "timeEpoch": 1795590000000,
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


ROUTES = {
    "POST /orders": http_event("POST", "/orders", ORDER_BODY),
    "GET /orders/{id}": http_event("GET", "/orders/01JD3A6R8Q4X5Y7Z9B2C4D6E8F"),
    "GET /orders (page of 20)": http_event("GET", "/orders", query="limit=20"),
}
HEALTH = http_event("GET", "/health")


class Context:
    function_name = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench-request"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000
