"""The reservation expiry job in the stack: its schedule, function, role, alarms, and the
reservation window per stage, on the synthesized templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import REPO_ROOT, build, only, resources, template_of
from test_infra_config import FakeNode

from infra.config import StageConfig
from infra.constructs import expiry
from lambda_app.repository import schema

pytestmark = pytest.mark.xdist_group("infra")

API_HANDLER = "lambda_app.main.handler"


def _function(template: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (key, fn)
        for key, fn in resources(template, "AWS::Lambda::Function").items()
        if fn["Properties"]["Handler"] == handler
    ]
    return found


def _statements(template: dict[str, Any], function: dict[str, Any]) -> list[dict[str, Any]]:
    role = template["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_a_rule_runs_the_job_every_minute(dev_json: dict[str, Any]) -> None:
    fn_id, _ = _function(dev_json, expiry.HANDLER)
    rule_id, rule = only(dev_json, "AWS::Events::Rule")
    props = rule["Properties"]
    assert props["ScheduleExpression"] == "rate(1 minute)"
    assert props["State"] == "ENABLED"
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [fn_id, "Arn"]}
    # Only this rule may invoke the job.
    (permission,) = [
        p
        for p in resources(dev_json, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
    ]
    assert permission["Properties"]["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}
    assert permission["Properties"]["FunctionName"] == {"Fn::GetAtt": [fn_id, "Arn"]}


def test_the_function_shares_the_asset_and_finishes_inside_its_timeout(
    dev_json: dict[str, Any],
) -> None:
    from lambda_app.jobs.expire_reservations import SLOWEST_CALL_SECONDS
    from lambda_app.service.expiry import TIME_BUDGET_SECONDS

    fn_id, fn = _function(dev_json, expiry.HANDLER)
    props = fn["Properties"]
    assert props["Code"] == _function(dev_json, API_HANDLER)[1]["Properties"]["Code"]
    api = _function(dev_json, API_HANDLER)[1]["Properties"]
    assert (props["Runtime"], props["Architectures"]) == (api["Runtime"], api["Architectures"])
    # A run's budget plus its slowest single call end before the function is cut off.
    assert TIME_BUDGET_SECONDS + SLOWEST_CALL_SECONDS < props["Timeout"] <= 900
    table_id, _ = only(dev_json, "AWS::DynamoDB::GlobalTable")
    assert props["Environment"]["Variables"] == {
        "TABLE_NAME": {"Ref": table_id},
        "METRICS_NAMESPACE": "OrderService/dev",
        "LOG_LEVEL": "INFO",
    }
    # The next scheduled run is the retry: a failed run is not repeated on top of it.
    _, invoke_config = only(dev_json, "AWS::Lambda::EventInvokeConfig")
    assert invoke_config["Properties"]["FunctionName"] == {"Ref": fn_id}
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 0


def test_the_role_allows_only_what_a_run_does(dev_json: dict[str, Any]) -> None:
    table_id, _ = only(dev_json, "AWS::DynamoDB::GlobalTable")
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}
    index_arn = {"Fn::Join": ["", [table_arn, f"/index/{schema.GSI4.name}"]]}
    _, fn = _function(dev_json, expiry.HANDLER)
    grants: dict[str, list[Any]] = {}
    for statement in _statements(dev_json, fn):
        assert statement["Effect"] == "Allow"
        for action in _list(statement["Action"]):
            grants.setdefault(action, []).extend(_list(statement["Resource"]))
    dynamodb = {action: arns for action, arns in grants.items() if action.startswith("dynamodb:")}
    assert dynamodb == {
        "dynamodb:BatchGetItem": [table_arn],
        "dynamodb:Query": [index_arn],  # the reservation index only: never the table itself
        "dynamodb:UpdateItem": [table_arn],  # each item of an expiry's transaction
    }
    assert {action.split(":")[0] for action in grants} == {"dynamodb", "logs", "xray"}
    log_group_ref = fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert grants["logs:PutLogEvents"] == [{"Fn::GetAtt": [log_group_ref, "Arn"]}]


def test_the_reservation_index_holds_keys_only(dev_json: dict[str, Any]) -> None:
    _, table = only(dev_json, "AWS::DynamoDB::GlobalTable")
    indexes = {i["IndexName"]: i for i in table["Properties"]["GlobalSecondaryIndexes"]}
    assert indexes[schema.GSI4.name]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert indexes[schema.GSI4.name]["KeySchema"] == [
        {"AttributeName": "GSI4PK", "KeyType": "HASH"},
        {"AttributeName": "GSI4SK", "KeyType": "RANGE"},
    ]


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }


def test_alarms_on_errors_lateness_and_failing_expiries(dev_json: dict[str, Any]) -> None:
    fn_id, _ = _function(dev_json, expiry.HANDLER)
    topic_id, _ = only(dev_json, "AWS::SNS::Topic")
    alarms = _alarms(dev_json)
    errors = alarms["dev-orders-alarm-expiry-function-errors"]
    assert (errors["Namespace"], errors["MetricName"], errors["Statistic"]) == (
        "AWS/Lambda",
        "Errors",
        "Sum",
    )
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": fn_id}}]
    assert errors["Threshold"] == 0
    late = alarms["dev-orders-alarm-reservation-expiry-late"]
    assert (late["Namespace"], late["MetricName"], late["Statistic"]) == (
        "OrderService/dev",
        "ReservationExpiryLag",
        "Maximum",
    )
    assert late["Dimensions"] == [{"Name": "Service", "Value": "order-expiry"}]
    assert late["Threshold"] == 120  # the contract: within 2 minutes of expires_at
    failing = alarms["dev-orders-alarm-reservation-expiry-failing"]
    assert (failing["MetricName"], failing["EvaluationPeriods"]) == ("ReservationExpiryFailures", 3)
    for alarm in (errors, late, failing):
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": topic_id}]
        assert alarm["TreatMissingData"] == "notBreaching"
    _, dashboard = only(dev_json, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard)
    assert "## Reservations" in body and "ReservationsExpired" in body


def test_metric_names_are_what_the_job_writes() -> None:
    from lambda_app.jobs import expire_reservations

    source = (REPO_ROOT / "lambda_app" / "jobs" / "expire_reservations.py").read_text()
    assert expire_reservations.SERVICE == expiry.EXPIRY_SERVICE
    for name in ("ReservationsExpired", "ReservationExpiryFailures", "ReservationExpiryLag"):
        assert f'"{name}"' in source


def test_the_reservation_window_is_set_per_stage_from_context(tmp_path: Path) -> None:
    assert StageConfig.from_context(FakeNode()).reservation_minutes == 30
    assert StageConfig.from_context(FakeNode(reservation_minutes=1440)).reservation_minutes == 1440
    template = template_of(build(tmp_path, stage="prod", reservation_minutes="15")).to_json()
    _, api = _function(template, API_HANDLER)
    assert api["Properties"]["Environment"]["Variables"]["RESERVATION_MINUTES"] == "15"


@pytest.mark.parametrize("value", ["0", "1441", "abc", "1.5", "-5", True])
def test_a_reservation_window_out_of_range_stops_the_synth(value: Any) -> None:
    with pytest.raises(ValueError, match=r"reservation_minutes.*from 1 to 1440"):
        StageConfig.from_context(FakeNode(reservation_minutes=value))


def test_every_alarm_reads_at_most_ten_metrics(dev_json: dict[str, Any]) -> None:
    """CloudWatch's hard limit for a metric math alarm; the table-throttles alarm reads two per
    index (read and write), so the reservation index brought it to exactly ten."""
    for name, alarm in _alarms(dev_json).items():
        stats = [m for m in alarm.get("Metrics", []) if "MetricStat" in m]
        assert len(stats) <= 10, name
