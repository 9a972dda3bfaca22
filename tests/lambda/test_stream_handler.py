"""``lambda_app.events.stream.handler`` fed DynamoDB stream events (``stream_events/*.json``,
built from our codec) against moto's EventBridge; events are read back through an SQS queue
that a rule on the bus targets, as a consumer would receive them."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from lambda_app.events import stream
from lambda_app.events.changes import SOURCE
from tests.conftest import REGION

from .stream_events.build import build, render

EVENTS = Path(__file__).parent / "stream_events"
BUS = "orders-test-bus"
ORDER = "01JDQ5N8W6ZK3B9X2M4T7R0001"


def stream_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


def sequences(event: dict[str, Any]) -> list[str]:
    return [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]


@dataclass
class Bus:
    """moto's EventBridge bus with a rule {source: [order-service]} sending to an SQS queue."""

    sqs: Any
    queue_url: str
    put_events_calls: list[int]

    def received(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = answer.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result = stream.handler(copy.deepcopy(event), None)
        assert set(result) == {"batchItemFailures"}
        return result


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bus]:
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName="order-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="order-events",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": [SOURCE]}),
        )
        events.put_targets(
            Rule="order-events", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}]
        )
        stream._publisher.cache_clear()
        calls: list[int] = []
        stream._publisher().client.meta.events.register(  # type: ignore[attr-defined]
            "before-parameter-build.events.PutEvents",
            lambda params, **_: calls.append(len(params["Entries"])),
        )
        yield Bus(sqs, queue_url, calls)
    stream._publisher.cache_clear()


def test_fixtures_are_what_the_codec_writes_today() -> None:
    for name, event in build().items():
        assert (EVENTS / f"{name}.json").read_text() == render(event), (
            f"{name}.json is stale: run python -m tests.lambda.stream_events.build"
        )


def test_an_order_insert_is_order_placed_and_its_stock_and_key_records_are_not(bus: Bus) -> None:
    assert bus.invoke(stream_event("order_placed")) == {"batchItemFailures": []}
    [event] = bus.received()
    assert event["source"] == "order-service"
    assert event["detail-type"] == "OrderPlaced"
    assert event["time"] == "2026-11-25T07:31:00Z"
    assert event["detail"] == {
        "schema_version": "1",
        "event_id": f"{ORDER}:1",
        "order_id": ORDER,
        "customer_id": "customer-1",
        "old_status": None,
        "new_status": "PENDING",
        "total": 2500,
        "currency": "EUR",
        "version": 1,
        "time": "2026-11-25T07:31:00.000Z",
        "expires_at": "2026-11-25T08:01:00.000Z",
        "cancellation_reason": None,
    }
    assert bus.put_events_calls == [1]


def test_a_status_move_is_order_status_changed(bus: Bus) -> None:
    assert bus.invoke(stream_event("order_confirmed")) == {"batchItemFailures": []}
    [event] = bus.received()
    assert event["detail-type"] == "OrderStatusChanged"
    detail = event["detail"]
    assert (detail["old_status"], detail["new_status"]) == ("PENDING", "CONFIRMED")
    assert (detail["version"], detail["event_id"]) == (2, f"{ORDER}:2")
    assert detail["time"] == "2026-11-25T08:30:00.000Z"


def test_cancelling_is_order_cancelled_and_the_stock_returned_is_not_an_event(bus: Bus) -> None:
    assert bus.invoke(stream_event("order_cancelled")) == {"batchItemFailures": []}
    [event] = bus.received()
    assert event["detail-type"] == "OrderCancelled"
    detail = event["detail"]
    assert (detail["old_status"], detail["new_status"]) == ("CONFIRMED", "CANCELLED")
    assert (detail["version"], detail["total"], detail["currency"]) == (3, 2500, "EUR")
    assert (detail["cancellation_reason"], detail["expires_at"]) == ("staff", None)


def test_an_expired_reservation_is_order_cancelled_with_reason_expired(bus: Bus) -> None:
    assert bus.invoke(stream_event("order_expired")) == {"batchItemFailures": []}
    [event] = bus.received()
    assert event["detail-type"] == "OrderCancelled"
    detail = event["detail"]
    assert (detail["old_status"], detail["new_status"]) == ("PENDING", "CANCELLED")
    assert detail["cancellation_reason"] == "expired"
    assert detail["expires_at"] is None
    assert (detail["event_id"], detail["time"]) == (f"{ORDER}:2", "2026-11-25T08:01:40.000Z")


def test_an_order_written_before_reservations_expired_still_reads(bus: Bus) -> None:
    record = stream_event("legacy_order_confirmed")["Records"][0]["dynamodb"]
    assert "reserved_until" not in record["OldImage"]
    assert "cancellation_reason" not in record["NewImage"]
    assert bus.invoke(stream_event("legacy_order_confirmed")) == {"batchItemFailures": []}
    [event] = bus.received()
    assert event["detail-type"] == "OrderStatusChanged"
    assert (event["detail"]["expires_at"], event["detail"]["cancellation_reason"]) == (None, None)


@pytest.mark.parametrize(
    "name",
    ["order_readdressed", "order_removed", "catalog_changes", "idempotency_expired"],
)
def test_address_changes_removals_products_and_ttl_deletions_publish_nothing(
    bus: Bus, name: str
) -> None:
    assert bus.invoke(stream_event(name)) == {"batchItemFailures": []}
    assert bus.put_events_calls == []
    assert bus.received() == []


def test_no_event_carries_the_address(bus: Bus) -> None:
    bus.invoke(stream_event("order_placed"))
    bus.invoke(stream_event("order_cancelled"))
    received = json.dumps(bus.received())
    assert "Lovelace" not in received and "shipping_address" not in received


def test_a_replayed_record_gives_the_same_event_id(bus: Bus) -> None:
    bus.invoke(stream_event("order_placed"))
    bus.invoke(stream_event("order_placed"))
    first, second = bus.received()
    # EventBridge's own envelope id differs per PutEvents; the detail's event_id does not.
    assert first["id"] != second["id"]
    assert first["detail"] == second["detail"]
    assert first["detail"]["event_id"] == f"{ORDER}:1"


def test_events_go_out_in_calls_of_at_most_ten_entries(bus: Bus) -> None:
    assert bus.invoke(stream_event("busy_batch")) == {"batchItemFailures": []}
    assert bus.put_events_calls == [10, 2]
    received = bus.received()
    assert len(received) == 12
    assert len({event["detail"]["event_id"] for event in received}) == 12


def _fail_entries(bus: Bus, failing: Callable[[dict[str, Any]], bool]) -> None:
    """Make PutEvents refuse the entries ``failing`` picks, at botocore's before-call (which,
    unlike before-send, stops moto from also handling the request): the others really reach
    moto's bus; the refused ones come back with an ErrorCode, as EventBridge answers a
    partially failed call."""
    plain = boto3.client("events", region_name=REGION)

    def before_call(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        entries = json.loads(params["body"])["Entries"]
        refused = [failing(json.loads(entry["Detail"])) for entry in entries]
        accepted = [entry for entry, no in zip(entries, refused, strict=True) if not no]
        ids = iter(plain.put_events(Entries=accepted)["Entries"] if accepted else [])
        answer = {
            "FailedEntryCount": sum(refused),
            "Entries": [
                {"ErrorCode": "InternalFailure", "ErrorMessage": "injected"} if no else next(ids)
                for no in refused
            ],
        }
        return AWSResponse(params["url"], 200, {}, None), answer

    _on_put_events(before_call)


def _on_put_events(handler: Callable[..., Any]) -> None:
    stream._publisher().client.meta.events.register(  # type: ignore[attr-defined]
        "before-call.events.PutEvents", handler
    )


def _order_number(detail: dict[str, Any]) -> int:
    return int(detail["order_id"][-4:])


def test_a_partial_put_events_failure_reports_just_those_records(bus: Bus) -> None:
    event = stream_event("busy_batch")
    order_records = sequences(event)[::2]  # order, product, order, product, ...
    _fail_entries(bus, lambda detail: _order_number(detail) in {11, 12})

    result = bus.invoke(event)

    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": order_records[10]},
            {"itemIdentifier": order_records[11]},
        ]
    }
    numbers = sorted(_order_number(e["detail"]) for e in bus.received())
    assert numbers == list(range(1, 11))


def test_after_a_failed_call_later_calls_are_not_made_and_retry_completes_the_set(
    bus: Bus,
) -> None:
    event = stream_event("busy_batch")
    order_records = sequences(event)[::2]
    attempts = {3: 0}

    def flaky(detail: dict[str, Any]) -> bool:
        if _order_number(detail) != 3:
            return False
        attempts[3] += 1
        return attempts[3] == 1  # refused once, accepted on the retry

    _fail_entries(bus, flaky)
    result = bus.invoke(event)

    # Order 3 was refused; orders 11 and 12 (the second call) were never sent.
    failed = [item["itemIdentifier"] for item in result["batchItemFailures"]]
    assert failed == [order_records[2], order_records[10], order_records[11]]
    assert bus.put_events_calls == [10]
    # Lambda retries from the lowest failed sequence number: the batch from there on.
    retry = {"Records": event["Records"][event["Records"].index(_record(event, failed[0])) :]}
    assert bus.invoke(retry) == {"batchItemFailures": []}
    received = bus.received()
    # 9 + 10 deliveries; deduplicated by event_id, each of the 12 orders exactly once.
    assert len(received) == 19
    assert sorted({e["detail"]["event_id"] for e in received}) == sorted(
        f"01JDQ5N8W6ZK3B9X2M4T7R{n:04d}:1" for n in range(1, 13)
    )


def _record(event: dict[str, Any], sequence: str) -> dict[str, Any]:
    return next(r for r in event["Records"] if r["dynamodb"]["SequenceNumber"] == sequence)


def test_an_unreadable_order_record_is_reported_with_every_record_after_it(bus: Bus) -> None:
    placed = stream_event("order_placed")
    broken = stream_event("order_confirmed")
    del broken["Records"][0]["dynamodb"]["OldImage"]  # as if the stream were NEW_IMAGE only
    later = stream_event("order_cancelled")
    batch = {"Records": placed["Records"] + broken["Records"] + later["Records"]}

    result = bus.invoke(batch)

    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == (
        sequences(broken) + sequences(later)
    )
    [event] = bus.received()  # what came before the broken record is published
    assert event["detail-type"] == "OrderPlaced"


def test_a_put_events_call_that_fails_reports_all_its_records(bus: Bus) -> None:
    def refuse(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": "AccessDeniedException", "Message": "not allowed"}
        return AWSResponse(params["url"], 400, {}, None), {"Error": error}

    _on_put_events(refuse)
    event = stream_event("busy_batch")
    result = bus.invoke(event)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == sequences(event)[::2]
    assert bus.received() == []


def test_an_event_that_is_not_a_stream_batch_is_ignored(bus: Bus) -> None:
    assert bus.invoke({"source": "aws.events", "detail-type": "Scheduled Event"}) == {
        "batchItemFailures": []
    }
    assert bus.put_events_calls == []
