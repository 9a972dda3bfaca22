"""The handler at the edge: health, routing errors, identity, body limits, request ids, and
events that are not HTTP requests at all."""

from __future__ import annotations

import gc
import json
from types import ModuleType
from typing import Any

import pytest

from .conftest import Gateway, new_sku
from .events import (
    NO_AUTHORIZER,
    FakeLambdaContext,
    eventbridge_scheduled,
    http_v2,
    rest_v1,
    sample_http_v2,
    sample_rest_v1,
    sqs_message,
)


def test_the_function_runs_in_lambda_mode(lambda_main: ModuleType) -> None:
    services = lambda_main.app.state.services
    assert services.dev_auth is False
    assert services.offload is False


def test_health_is_public_json_text(gateway: Gateway) -> None:
    result = gateway.call("GET", "/health", user=None)
    assert result.status == 200
    assert result.headers["content-type"] == "application/json"
    assert result.raw["isBase64Encoded"] is False
    assert result.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/openapi.json", "application/json"),
        ("/docs", "text/html; charset=utf-8"),
        ("/redoc", "text/html; charset=utf-8"),
    ],
)
def test_api_docs_are_public_text(gateway: Gateway, path: str, media_type: str) -> None:
    result = gateway.call("GET", path, user=None)
    assert result.status == 200
    assert result.headers["content-type"] == media_type
    assert result.raw["isBase64Encoded"] is False
    if path == "/openapi.json":
        assert {"/orders", "/products", "/health"} <= result.json()["paths"].keys()
    else:
        assert "/openapi.json" in result.body


@pytest.mark.parametrize("sample", [sample_http_v2, sample_rest_v1], ids=["2.0", "1.0"])
def test_the_published_sample_events_reach_the_app(lambda_main: ModuleType, sample: Any) -> None:
    # The samples as stored (POST /my/path, text body): the app answers, it does not crash.
    result = Gateway(lambda_main, "2.0").invoke(sample())
    assert result.status in {404, 405, 415}
    result.problem(result.status)


def test_unknown_route_is_404_problem(gateway: Gateway) -> None:
    body = gateway.call("GET", "/no/such/thing").problem(404)
    assert "/no/such/thing" in body["detail"]


def test_wrong_method_is_405_problem(gateway: Gateway) -> None:
    result = gateway.call("DELETE", "/health")
    body = result.problem(405)
    assert "DELETE" in body["detail"]
    assert "GET" in result.headers["allow"]


def test_no_authorizer_claims_is_401_problem(gateway: Gateway) -> None:
    result = gateway.call("GET", "/orders", user=None)
    body = result.problem(401)
    assert body["type"] == "urn:order-api:problem:unauthenticated"
    assert result.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "claims",
    [
        None,  # the authorizer section is there, its claims are null
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE"},  # no sub
        {"sub": ""},
        {"sub": 12345},
    ],
    ids=["claims-null", "no-sub", "empty-sub", "numeric-sub"],
)
def test_claims_without_a_usable_subject_are_401(gateway: Gateway, claims: Any) -> None:
    build = http_v2 if gateway.version == "2.0" else rest_v1
    result = gateway.invoke(build("GET", "/orders", claims=claims))
    result.problem(401)


def test_dev_identity_headers_mean_nothing_in_lambda(gateway: Gateway) -> None:
    headers = {"X-Dev-User": "mallory", "X-Dev-Groups": "admin"}
    gateway.call("GET", "/orders", user=None, headers=headers).problem(401)
    gateway.call(
        "POST",
        "/products",
        user=None,
        headers=headers,
        body={"sku": new_sku(), "name": "Mug", "price": 1, "currency": "EUR", "stock": 1},
    ).problem(401)


def test_dev_headers_do_not_raise_a_customer_to_staff(gateway: Gateway) -> None:
    result = gateway.call(
        "POST",
        "/products",
        user="bob",
        groups=["customers"],
        headers={"X-Dev-User": "staff-1", "X-Dev-Groups": "admin"},
        body={"sku": new_sku(), "name": "Mug", "price": 1, "currency": "EUR", "stock": 1},
    )
    result.problem(403)


def test_malformed_json_body_is_400_problem(gateway: Gateway) -> None:
    result = gateway.call("POST", "/orders", body='{"items": [', user="alice")
    body = result.problem(400)
    assert body["type"] == "urn:order-api:problem:malformed-json"


def test_malformed_json_in_a_base64_body_is_400_problem(gateway: Gateway) -> None:
    gateway.call("POST", "/orders", body=b"{nope", is_base64=True).problem(400)


def test_non_json_media_type_is_415_problem(gateway: Gateway) -> None:
    gateway.call("POST", "/orders", body="sku=MUG", headers={"Content-Type": "text/plain"}).problem(
        415
    )


def _big_order() -> dict[str, Any]:
    address = {
        "name": "A" * 200,
        "line1": "B" * 200,
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    }
    return {
        "items": [{"sku": f"SKU-{i:060d}", "quantity": 1} for i in range(1100)],
        "shipping_address": address,
    }


@pytest.mark.parametrize("is_base64", [False, True], ids=["text", "base64"])
def test_body_over_64_kib_is_413_problem(gateway: Gateway, is_base64: bool) -> None:
    payload = _big_order()
    assert len(json.dumps(payload)) > 64 * 1024
    gateway.call("POST", "/orders", body=payload, is_base64=is_base64).problem(413)


def test_body_over_64_kib_without_content_length_is_413(gateway: Gateway) -> None:
    event = gateway.event("POST", "/orders", body=_big_order())
    for section in ("headers", "multiValueHeaders"):
        if section in event:
            event[section] = {
                k: v for k, v in event[section].items() if k.lower() != "content-length"
            }
    gateway.invoke(event).problem(413)


def test_body_of_exactly_64_kib_is_not_rejected_for_size(gateway: Gateway) -> None:
    text = json.dumps({"items": [], "shipping_address": {}, "pad": ""})
    padded = text.replace('"pad": ""', '"pad": "' + "x" * (64 * 1024 - len(text)) + '"')
    assert len(padded) == 64 * 1024
    result = gateway.call("POST", "/orders", body=padded)
    assert result.status == 422, result.raw  # judged on content, not on size
    result.problem(422)


def test_request_id_defaults_to_the_lambda_request_id(gateway: Gateway) -> None:
    context = FakeLambdaContext()
    result = gateway.call("GET", "/health", user=None, context=context)
    assert result.headers["x-request-id"] == context.aws_request_id


def test_request_id_from_the_client_is_echoed(gateway: Gateway) -> None:
    result = gateway.call("GET", "/health", user=None, headers={"X-Request-Id": "client-req.42"})
    assert result.headers["x-request-id"] == "client-req.42"


def test_request_id_is_echoed_on_errors_too(gateway: Gateway) -> None:
    context = FakeLambdaContext()
    not_found = gateway.call("GET", "/nowhere", context=context)
    assert not_found.headers["x-request-id"] == context.aws_request_id
    too_big = gateway.call("POST", "/orders", body=_big_order(), headers={"X-Request-Id": "big-1"})
    assert too_big.headers["x-request-id"] == "big-1"


def test_an_unusable_client_request_id_is_replaced(gateway: Gateway) -> None:
    context = FakeLambdaContext()
    result = gateway.call(
        "GET", "/health", user=None, headers={"X-Request-Id": "<script>"}, context=context
    )
    assert result.headers["x-request-id"] == context.aws_request_id


# -- REST API (1.0) specifics -----------------------------------------------------------------


def test_rest_multi_value_headers_are_what_the_app_reads(lambda_main: ModuleType) -> None:
    gateway = Gateway(lambda_main, "1.0")
    event = gateway.event("GET", "/health", user=None)
    # API Gateway REST: `headers` keeps only the last value; `multiValueHeaders` has them all.
    event["headers"]["X-Request-Id"] = "stale-single-value"
    event["multiValueHeaders"]["X-Request-Id"] = ["from-multi-value"]
    assert gateway.invoke(event).headers["x-request-id"] == "from-multi-value"


def test_rest_header_names_are_case_insensitive(lambda_main: ModuleType) -> None:
    gateway = Gateway(lambda_main, "1.0")
    event = gateway.event("GET", "/health", user=None)
    event["multiValueHeaders"]["x-REQUEST-id"] = ["mixed-case"]
    event["headers"]["x-REQUEST-id"] = "mixed-case"
    assert gateway.invoke(event).headers["x-request-id"] == "mixed-case"


def test_rest_event_with_null_headers_and_query(lambda_main: ModuleType) -> None:
    # A console "test" invoke of a REST proxy resource sends nulls, not empty objects.
    event = rest_v1("GET", "/health")
    event["headers"] = None
    event["multiValueHeaders"] = None
    event["queryStringParameters"] = None
    event["multiValueQueryStringParameters"] = None
    result = Gateway(lambda_main, "1.0").invoke(event)
    assert result.status == 200
    assert result.json() == {"status": "ok"}


def test_rest_response_headers_come_back_as_headers(lambda_main: ModuleType) -> None:
    result = Gateway(lambda_main, "1.0").call("GET", "/orders", user=None)
    assert result.raw["headers"]["content-type"] == "application/problem+json"
    assert "multiValueHeaders" in result.raw


def test_http_v2_cookies_do_not_disturb_the_request(lambda_main: ModuleType) -> None:
    event = http_v2("GET", "/health", cookies=["session=abc", "theme=dark"])
    result = Gateway(lambda_main, "2.0").invoke(event)
    assert result.status == 200
    assert "cookies" not in result.raw


def test_http_v2_event_without_authorizer_key(lambda_main: ModuleType) -> None:
    event = http_v2("GET", "/orders", claims=NO_AUTHORIZER)
    assert "authorizer" not in event["requestContext"]
    Gateway(lambda_main, "2.0").invoke(event).problem(401)


# -- events that are not HTTP requests --------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"source": "serverless-plugin-warmup"},
        {},
        eventbridge_scheduled(),
        sqs_message(),
        [],
        [{"version": "2.0"}],
        "ping",
        None,
        42,
    ],
    ids=["warmer", "empty", "eventbridge", "sqs", "empty-list", "list", "string", "null", "int"],
)
def test_non_http_events_get_a_clear_error_result(lambda_main: ModuleType, event: Any) -> None:
    result = lambda_main.handler(event, FakeLambdaContext())
    assert isinstance(result, dict)
    assert result["statusCode"] == 400
    assert result["isBase64Encoded"] is False
    assert result["headers"]["content-type"] == "application/problem+json"
    body = json.loads(result["body"])
    assert body["status"] == 400
    assert body["title"] == "Bad Request"
    assert "API Gateway" in body["detail"]


@pytest.mark.parametrize(
    "event",
    [
        {"version": "2.0", "requestContext": {}},
        {"resource": "/{proxy+}", "requestContext": {}},
    ],
    ids=["v2-without-http", "v1-without-method"],
)
def test_half_shaped_gateway_events_get_a_clear_error_result(
    lambda_main: ModuleType, event: dict[str, Any]
) -> None:
    result = lambda_main.handler(event, FakeLambdaContext())
    assert result["statusCode"] == 400
    assert result["isBase64Encoded"] is False
    assert json.loads(result["body"])["status"] == 400


def test_the_function_still_serves_after_a_non_http_event(lambda_main: ModuleType) -> None:
    lambda_main.handler({"source": "serverless-plugin-warmup"}, FakeLambdaContext())
    result = Gateway(lambda_main, "2.0").call("GET", "/health", user=None)
    assert result.status == 200


def test_init_leaves_the_collector_on_and_its_own_objects_frozen(lambda_main: ModuleType) -> None:
    # main.py switches collection off while it builds the app; a warm container must not be
    # left without it (reference cycles would pile up), and what INIT built stays out of it.
    assert gc.isenabled()
    assert gc.get_freeze_count() > 10_000
