"""Alarms, their SNS topic, the dashboard, and SnapStart: on the templates the session shares."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_helpers import REPO_ROOT, only, resources

from infra.constructs import observability

pytestmark = pytest.mark.xdist_group("infra")

API_HANDLER = "lambda_app.main.handler"
EVENTS_HANDLER = "lambda_app.events.stream.handler"
ALARM_COUNT = 11 + 3  # the last three: the reservation expiry job's (test_infra_expiry.py)


def _function_id(template: dict[str, Any], handler: str) -> str:
    (found,) = [
        key
        for key, fn in resources(template, "AWS::Lambda::Function").items()
        if fn["Properties"]["Handler"] == handler
    ]
    return found


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
    }


def _metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or those of its math expression."""
    if "MetricName" in alarm:
        return [
            {
                "Namespace": alarm["Namespace"],
                "MetricName": alarm["MetricName"],
                "Dimensions": alarm.get("Dimensions", []),
            }
        ]
    return [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]


def _dimensions(metric: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}


def _read(template: dict[str, Any], suffix: str) -> list[tuple[str, str, dict[str, Any]]]:
    alarm = _alarms(template)[f"dev-orders-alarm-{suffix}"]
    return [(m["Namespace"], m["MetricName"], _dimensions(m)) for m in _metrics(alarm)]


def test_alarm_count_names_and_actions(dev_json: dict[str, Any], prod_json: dict[str, Any]) -> None:
    for stage, template in (("dev", dev_json), ("prod", prod_json)):
        topic_id, _ = only(template, "AWS::SNS::Topic")
        alarms = _alarms(template)
        assert len(alarms) == ALARM_COUNT, sorted(alarms)
        for name, alarm in alarms.items():
            # The prefix the topic policy lets CloudWatch publish for.
            assert name.startswith(f"{stage}-orders-alarm-"), name
            assert alarm["AlarmActions"] == [{"Ref": topic_id}], name
            assert alarm["OKActions"] == [{"Ref": topic_id}], name
            assert alarm["TreatMissingData"] == "notBreaching", name
            assert alarm["AlarmDescription"], name


def test_alarms_read_the_key_metrics(dev_json: dict[str, Any]) -> None:
    api_id, _ = only(dev_json, "AWS::ApiGatewayV2::Api")
    table_id, _ = only(dev_json, "AWS::DynamoDB::GlobalTable")
    queue_id, _ = only(dev_json, "AWS::SQS::Queue")
    api_fn = {"Ref": _function_id(dev_json, API_HANDLER)}
    events_fn = {"Ref": _function_id(dev_json, EVENTS_HANDLER)}

    rate = _alarms(dev_json)["dev-orders-alarm-api-5xx-rate"]
    assert "100 * errors / requests" in rate["Metrics"][0]["Expression"]
    assert sorted(name for _, name, _ in _read(dev_json, "api-5xx-rate")) == ["5xx", "Count"]
    for namespace, _, dims in _read(dev_json, "api-5xx-rate"):
        assert namespace == "AWS/ApiGateway" and dims == {"ApiId": {"Ref": api_id}}
    latency = _alarms(dev_json)["dev-orders-alarm-api-latency-p99"]
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("Latency", "p99")

    for suffix, fn in (("api", api_fn), ("events", events_fn)):
        for metric in ("Errors", "Throttles"):
            assert _read(dev_json, f"{suffix}-function-{metric.lower()}") == [
                ("AWS/Lambda", metric, {"FunctionName": fn})
            ]
    assert _read(dev_json, "events-iterator-age") == [
        ("AWS/Lambda", "IteratorAge", {"FunctionName": events_fn})
    ]
    throttles = _read(dev_json, "table-throttles")
    assert {name for _, name, _ in throttles} == {"ReadThrottleEvents", "WriteThrottleEvents"}
    assert all(dims["TableName"] == {"Ref": table_id} for _, _, dims in throttles)
    assert len(throttles) == 2 * (1 + len(observability.schema.INDEXES))  # table + each GSI
    errors = _read(dev_json, "table-system-errors")
    assert {name for _, name, _ in errors} == {"SystemErrors"}
    assert {dims["Operation"] for _, _, dims in errors} == set(observability.TABLE_OPERATIONS)
    assert _read(dev_json, "events-dlq-not-empty") == [
        (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": {"Fn::GetAtt": [queue_id, "QueueName"]}},
        )
    ]
    assert _read(dev_json, "event-publish-failures") == [
        ("OrderService/dev", "EventPublishFailures", {"Service": "order-events"})
    ]


def test_emf_namespace_is_the_functions_namespace(
    dev_json: dict[str, Any], prod_json: dict[str, Any]
) -> None:
    """Alarms and dashboard read the namespace the functions are told to write to."""
    for stage, template in (("dev", dev_json), ("prod", prod_json)):
        namespaces = {
            fn["Properties"]["Environment"]["Variables"]["METRICS_NAMESPACE"]
            for fn in resources(template, "AWS::Lambda::Function").values()
        }
        assert namespaces == {f"OrderService/{stage}"}
        emf = _alarms(template)[f"{stage}-orders-alarm-event-publish-failures"]
        assert emf["Namespace"] == f"OrderService/{stage}"
        _, dashboard = only(template, "AWS::CloudWatch::Dashboard")
        assert f'\\"OrderService/{stage}\\"' in json.dumps(dashboard)


def test_emf_names_match_what_the_code_writes() -> None:
    """Metric and Service names the alarms and dashboard use appear in lambda_app's sources."""
    api = (REPO_ROOT / "lambda_app" / "api" / "app.py").read_text()
    middleware = (REPO_ROOT / "lambda_app" / "api" / "middleware.py").read_text()
    stream = (REPO_ROOT / "lambda_app" / "events" / "stream.py").read_text()
    assert f'"{observability.API_SERVICE}"' in api
    assert f'"{observability.EVENTS_SERVICE}"' in stream
    for name in (*observability.BUSINESS_COUNTS, "OrderValue", "Http4xx", "Http5xx", "Currency"):
        assert f'"{name}"' in middleware or f"{name}=" in middleware, name
    for name in ("EventsPublished", "EventPublishFailures"):
        assert f'"{name}"' in stream, name


def test_alarm_topic_encrypted_tls_only_and_open_to_our_alarms(dev_json: dict[str, Any]) -> None:
    key_id, key = only(dev_json, "AWS::KMS::Key")
    topic_id, topic = only(dev_json, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert topic["Properties"]["TopicName"] == "dev-orders-alarms"
    assert key["Properties"]["EnableKeyRotation"] is True
    (grant,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(grant["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}

    _, policy = only(dev_json, "AWS::SNS::TopicPolicy")
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    deny = statements["AllowPublishThroughSSLOnly"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    allow = statements["CloudWatchAlarmsPublish"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    source_arn = allow["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]
    assert source_arn[-1] == ":alarm:dev-orders-alarm-*"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    # No subscription unless alarm_email is given.
    assert not resources(dev_json, "AWS::SNS::Subscription")


def test_alarm_email_subscribes(options_json: dict[str, Any]) -> None:
    topic_id, _ = only(options_json, "AWS::SNS::Topic")
    _, subscription = only(options_json, "AWS::SNS::Subscription")
    assert subscription["Properties"] == {
        "Endpoint": "ops@example.com",
        "Protocol": "email",
        "TopicArn": {"Ref": topic_id},
    }


def test_dashboard_business_and_technical_figures(dev_json: dict[str, Any]) -> None:
    _, dashboard = only(dev_json, "AWS::CloudWatch::Dashboard")
    assert dashboard["Properties"]["DashboardName"] == "dev-order-service"
    body = "".join(
        part if isinstance(part, str) else json.dumps(part)
        for part in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    )
    for name in (
        *observability.BUSINESS_COUNTS,
        "OrderValue",
        "Http5xx",
        "EventsPublished",
        "EventPublishFailures",
        "Count",
        "4xx",
        "5xx",
        "Latency",
        "Duration",
        "Errors",
        "Throttles",
        "ConcurrentExecutions",
        "ConsumedReadCapacityUnits",
        "ConsumedWriteCapacityUnits",
        "WriteThrottleEvents",
        "ApproximateNumberOfMessagesVisible",
        "IteratorAge",
    ):
        assert f'"{name}' in body or f'\\"{name}\\"' in body, name
    assert '"stat":"p99"' in body and '"stat":"p50"' in body
    assert "Currency}" in body  # order value per currency, whatever currencies appear
    # The alarms' states first, then the figures.
    assert body.startswith('{"start":"-PT6H","widgets":[{"type":"alarm"')


# --- SnapStart --------------------------------------------------------------------------------


def test_snapstart_publishes_a_version_behind_alias_live(options_json: dict[str, Any]) -> None:
    api_fn = _function_id(options_json, API_HANDLER)
    props = options_json["Resources"][api_fn]["Properties"]
    assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    version_id, version = only(options_json, "AWS::Lambda::Version")
    assert version["Properties"]["FunctionName"] == {"Ref": api_fn}
    # Replaced versions are deleted: no stale snapshot stays cached (and billed).
    assert version["DeletionPolicy"] == "Delete"
    alias_id, alias = only(options_json, "AWS::Lambda::Alias")
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionName"] == {"Ref": api_fn}
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    # API Gateway invokes the alias, and may invoke only the alias.
    _, integration = only(options_json, "AWS::ApiGatewayV2::Integration")
    assert integration["Properties"]["IntegrationUri"] == {"Ref": alias_id}
    (permission,) = [
        p
        for p in resources(options_json, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert permission["Properties"]["FunctionName"] == {"Ref": alias_id}
    # The events function is not part of it.
    events_fn = options_json["Resources"][_function_id(options_json, EVENTS_HANDLER)]
    assert "SnapStart" not in events_fn["Properties"]


def test_default_invokes_latest_without_snapstart(dev_json: dict[str, Any]) -> None:
    api_fn = _function_id(dev_json, API_HANDLER)
    assert "SnapStart" not in dev_json["Resources"][api_fn]["Properties"]
    assert not resources(dev_json, "AWS::Lambda::Version")
    assert not resources(dev_json, "AWS::Lambda::Alias")
    _, integration = only(dev_json, "AWS::ApiGatewayV2::Integration")
    assert integration["Properties"]["IntegrationUri"] == {"Fn::GetAtt": [api_fn, "Arn"]}
