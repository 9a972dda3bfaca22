"""The request log line and the EMF metrics, as they appear on stdout, parsed as JSON.

The app is called through the ``api`` fixture (TestClient, moto); stdout is captured per test.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest
from fastapi import FastAPI

from lambda_app.observability.logs import JsonFormatter
from lambda_app.observability.metrics import MetricSet
from tests.conftest import Api

Lines = list[dict[str, Any]]


def stdout_lines(capsys: pytest.CaptureFixture[str]) -> tuple[Lines, Lines]:
    """(request log lines, EMF documents) written to stdout so far; every line must be JSON."""
    parsed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    requests = [line for line in parsed if line.get("message") in {"request", "unhandled error"}]
    return requests, [line for line in parsed if "_aws" in line]


def metric_values(document: dict[str, Any]) -> dict[str, Any]:
    """The metrics of one EMF document, checked against the specification's rules."""
    directives = document["_aws"]["CloudWatchMetrics"]
    assert isinstance(document["_aws"]["Timestamp"], int)
    values: dict[str, Any] = {}
    for directive in directives:
        assert directive["Namespace"] == "OrderService"
        for dimension_set in directive["Dimensions"]:
            assert "Service" in dimension_set
            for name in dimension_set:
                assert isinstance(document[name], str)
        for metric in directive["Metrics"]:
            assert isinstance(document[metric["Name"]], int | float)
            values[metric["Name"]] = document[metric["Name"]]
    return values


def test_one_json_line_per_request_with_route_template_and_customer_only(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add_product("MUG", stock=5, price=1250)
    placed = api.place([("MUG", 2)])
    order_id = placed.json()["id"]
    api.call("GET", f"/orders/{order_id}")

    out = capsys.readouterr().out
    assert "Lovelace" not in out and "SW1Y" not in out and "shipping_address" not in out
    requests = [json.loads(line) for line in out.splitlines() if '"message":"request"' in line]
    assert [(r["method"], r["route"], r["status"]) for r in requests] == [
        ("POST", "/products", 201),
        ("POST", "/orders", 201),
        ("GET", "/orders/{order_id}", 200),
    ]
    assert [r["customer_id"] for r in requests] == ["staff", "alice", "alice"]
    assert [r["cold_start"] for r in requests] == [True, False, False]
    for line in requests:
        assert line["level"] == "INFO"
        assert line["logger"] == "lambda_app.api"
        assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0
        assert line["request_id"] and line["correlation_id"] == line["request_id"]
        assert order_id not in json.dumps(line)  # the template, never the raw path
    assert requests[2]["correlation_id"] != requests[1]["correlation_id"]


def test_the_correlation_id_is_the_x_request_id(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    response = api.call("GET", "/orders", headers={"X-Request-Id": "checkout-7f3a"})
    assert response.headers["x-request-id"] == "checkout-7f3a"
    [line], _ = stdout_lines(capsys)
    assert line["correlation_id"] == "checkout-7f3a"


def test_an_unauthenticated_request_has_no_customer_and_counts_as_4xx_by_route(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    assert api.call("GET", "/orders", user=None).status_code == 401
    [line], [emf] = stdout_lines(capsys)
    assert (line["status"], line["customer_id"]) == (401, None)
    assert metric_values(emf) == {"Http4xx": 1}
    assert (emf["Service"], emf["Route"]) == ("order-api", "GET /orders")
    assert emf["correlation_id"] == line["correlation_id"]


def test_placing_an_order_emits_orders_placed_and_its_value_per_currency(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add_product("MUG", stock=5, price=1250, currency="GBP")
    capsys.readouterr()
    assert api.place([("MUG", 2)], key="first-try").status_code == 201
    _, [emf] = stdout_lines(capsys)
    assert metric_values(emf) == {"OrdersPlaced": 1, "OrderValue": 2500}
    assert emf["Currency"] == "GBP"
    directive = {
        metric["Name"]: (metric["Unit"], group["Dimensions"])
        for group in emf["_aws"]["CloudWatchMetrics"]
        for metric in group["Metrics"]
    }
    assert directive == {
        "OrdersPlaced": ("Count", [["Service"]]),
        "OrderValue": ("None", [["Service", "Currency"]]),
    }

    # The same key and body again: a replay, not a second order.
    assert api.place([("MUG", 2)], key="first-try").headers["Idempotent-Replayed"] == "true"
    _, [emf] = stdout_lines(capsys)
    assert metric_values(emf) == {"IdempotentReplays": 1}


def test_a_stock_out_and_a_cancellation_are_counted(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add_product("MUG", stock=1)
    order_id = api.place([("MUG", 1)]).json()["id"]
    capsys.readouterr()

    assert api.place([("MUG", 1)]).status_code == 409
    [line], [emf] = stdout_lines(capsys)
    assert line["status"] == 409
    assert metric_values(emf) == {"Http4xx": 1, "StockOuts": 1}
    assert emf["Route"] == "POST /orders"

    assert api.call("POST", f"/orders/{order_id}/cancel").status_code == 200
    [line], [emf] = stdout_lines(capsys)
    assert line["route"] == "/orders/{order_id}/cancel"
    assert metric_values(emf) == {"OrdersCancelled": 1}


def test_other_conflicts_are_not_stock_outs_and_plain_reads_write_no_metrics(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add_product("MUG")
    capsys.readouterr()
    response = api.call(
        "POST",
        "/products",
        user="staff",
        admin=True,
        json={"sku": "MUG", "name": "x", "price": 1, "currency": "EUR", "stock": 1},
    )
    assert response.status_code == 409
    _, [emf] = stdout_lines(capsys)
    assert metric_values(emf) == {"Http4xx": 1}

    assert api.call("GET", "/products/MUG").status_code == 200
    [line], emfs = stdout_lines(capsys)
    assert line["route"] == "/products/{sku}"
    assert emfs == []


def test_an_unhandled_error_is_logged_once_with_its_context(
    app: FastAPI, api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode() -> None:
        raise RuntimeError("the disk is on fire")

    app.add_api_route("/explode/{thing}", explode)
    response = api.call("GET", "/explode/now", headers={"X-Request-Id": "boom-1"})
    assert response.status_code == 500
    assert "fire" not in response.text and "Traceback" not in response.text

    out = capsys.readouterr().out
    assert out.count("Traceback") == 1
    [line] = [json.loads(text) for text in out.splitlines() if "Traceback" in text]
    assert line["level"] == "ERROR"
    assert line["message"] == "unhandled error"
    assert (line["route"], line["status"], line["correlation_id"]) == (
        "/explode/{thing}",
        500,
        "boom-1",
    )
    assert line["error"] == "RuntimeError: the disk is on fire"
    assert "explode" in line["traceback"]
    [emf] = [json.loads(text) for text in out.splitlines() if '"_aws"' in text]
    assert metric_values(emf) == {"Http5xx": 1}
    assert emf["Route"] == "GET /explode/{thing}"


def test_an_unmatched_route_is_not_logged_by_its_raw_path(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    assert api.call("GET", "/wp-admin/secret-token-123").status_code == 404
    [line], [emf] = stdout_lines(capsys)
    assert line["route"] == "unmatched" and emf["Route"] == "GET unmatched"
    assert "secret-token-123" not in json.dumps([line, emf])


def test_the_formatter_writes_one_line_with_extras_and_the_exception() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        record = logging.LogRecord(
            "lambda_app.test", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info()
        )
    record.order_id = "01J"
    text = JsonFormatter().format(record)
    assert "\n" not in text
    parsed = json.loads(text)
    assert parsed["message"] == "failed x"
    assert parsed["order_id"] == "01J"
    assert parsed["error"] == "ValueError: bad\nthing"
    assert parsed["traceback"].startswith("Traceback")
    assert parsed["time"].endswith("Z")


@pytest.mark.parametrize(
    ("created", "shown"),
    [
        (1_700_000_000.0, "2023-11-14T22:13:20.000Z"),
        (1_700_000_000.9996, "2023-11-14T22:13:20.999Z"),
        (1_700_000_001.0004, "2023-11-14T22:13:21.000Z"),
        (1_700_000_039.5, "2023-11-14T22:13:59.500Z"),
        (1_700_000_040.25, "2023-11-14T22:14:00.250Z"),
        (1_700_000_000.123, "2023-11-14T22:13:20.123Z"),
    ],
)
def test_a_line_shows_the_records_instant_in_utc_to_the_millisecond(
    created: float, shown: str
) -> None:
    # Several instants within and across seconds, in an order that reuses formatted seconds.
    record = logging.LogRecord("lambda_app.test", logging.INFO, __file__, 1, "m", (), None)
    record.created = created
    assert json.loads(JsonFormatter().format(record))["time"] == shown


def test_a_metric_set_sums_repeats_and_groups_dimension_sets() -> None:
    metrics = MetricSet("NS", {"Service": "svc"})
    assert not metrics
    metrics.add("Hits", 1)
    metrics.add("Hits", 2)
    metrics.add("Value", 7, "None", Currency="EUR")
    document = metrics.document({"correlation_id": "c"}, timestamp_ms=5)
    assert document == {
        "_aws": {
            "Timestamp": 5,
            "CloudWatchMetrics": [
                {
                    "Namespace": "NS",
                    "Dimensions": [["Service"]],
                    "Metrics": [{"Name": "Hits", "Unit": "Count"}],
                },
                {
                    "Namespace": "NS",
                    "Dimensions": [["Service", "Currency"]],
                    "Metrics": [{"Name": "Value", "Unit": "None"}],
                },
            ],
        },
        "correlation_id": "c",
        "Service": "svc",
        "Currency": "EUR",
        "Hits": 3,
        "Value": 7,
    }
