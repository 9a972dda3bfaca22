"""``lambda_app.events.stream.handler`` fed the records DynamoDB Local's stream produces for real
operations of the service (through the API, on a table of its own), against moto's EventBridge;
events are read back through an SQS queue that a rule on the bus targets, as a consumer would
receive them. Each operation produces exactly the event docs/events.md documents, or none
(placing, status moves, cancels by the customer and by the expiry job, address and catalog
changes, an expired Idempotency-Key replaced or deleted, an order written before reservations
expired)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from lambda_app.domain.models import Address, Caller, PlaceOrder
from lambda_app.events import stream
from lambda_app.events.changes import SOURCE
from lambda_app.repository import keys
from lambda_app.repository.dynamodb import DynamoRepository
from lambda_app.service.clock import utcnow
from lambda_app.service.cursors import CursorCodec
from lambda_app.service.expiry import ReservationExpiry
from lambda_app.service.orders import OrderService
from tests import engines
from tests.conftest import ADDRESS, REGION, Api

from .table_stream import TableStream, summary

BUS = "orders-test-bus"


@pytest.fixture
def engine() -> str:
    return "local"  # real stream records: DynamoDB Local's stream (tests/engines.py)


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
    with mock_aws():  # EventBridge and SQS only: DynamoDB Local has an endpoint of its own
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


@dataclass
class Shop:
    """The API on DynamoDB Local, and its table's stream."""

    api: Api
    dynamodb: Any
    table_name: str
    stream: TableStream

    def order(self, *lines: tuple[str, int], user: str = "alice", key: str | None = None) -> Any:
        placed = self.api.place(list(lines), user=user, key=key)
        assert placed.status_code == 201, placed.text
        return placed.json()

    def change(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.api.call(method, path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def shop(api: Api, dynamodb: Any, table_name: str) -> Shop:
    table_stream = TableStream(dynamodb, engines.local_endpoint(), table_name)
    api.add_product("MUG", stock=100, price=1250)
    api.add_product("CAP", stock=100, price=800)
    catalog = table_stream.take()
    assert summary(catalog) == [("INSERT", "PRODUCT"), ("INSERT", "PRODUCT")]
    return Shop(api, dynamodb, table_name, table_stream)


def expected_detail(order: dict[str, Any], old_status: str | None) -> dict[str, Any]:
    """The documented ``detail`` (docs/events.md, schema version 1) of an order's change."""
    return {
        "schema_version": "1",
        "event_id": f"{order['id']}:{order['version']}",
        "order_id": order["id"],
        "customer_id": order["customer_id"],
        "old_status": old_status,
        "new_status": order["status"],
        "total": order["total"],
        "currency": order["currency"],
        "version": order["version"],
        "time": order["updated_at"],
        "expires_at": order["expires_at"],
        "cancellation_reason": order["cancellation_reason"],
    }


def published(bus: Bus, event: dict[str, Any]) -> list[dict[str, Any]]:
    assert bus.invoke(event) == {"batchItemFailures": []}
    return bus.received()


def the_one_event(bus: Bus, event: dict[str, Any]) -> dict[str, Any]:
    [sent] = published(bus, event)
    assert sent["source"] == "order-service"
    return sent


# -- each operation: exactly its event, or none ------------------------------------------------


def test_placing_an_order_is_order_placed_and_its_stock_and_key_records_are_not(
    shop: Shop, bus: Bus
) -> None:
    order = shop.order(("MUG", 2), ("CAP", 1), key="checkout-1")
    records = shop.stream.take()
    # One transaction: the order, each line's stock, the Idempotency-Key, in that order.
    assert summary(records) == [
        ("INSERT", "ORDER"),
        ("MODIFY", "PRODUCT"),
        ("MODIFY", "PRODUCT"),
        ("INSERT", "IDEMPOTENCY"),
    ]

    sent = the_one_event(bus, records)
    assert sent["detail-type"] == "OrderPlaced"
    assert sent["detail"] == expected_detail(order, None)
    assert sent["detail"]["total"] == 2 * 1250 + 800
    assert sent["detail"]["expires_at"] is not None  # the reservation's deadline
    assert sent["time"] == order["updated_at"][:19] + "Z"  # EventBridge keeps whole seconds
    assert bus.put_events_calls == [1]


def test_each_status_move_is_order_status_changed(shop: Shop, bus: Bus) -> None:
    order = shop.order(("MUG", 1))
    path = f"/orders/{order['id']}"
    shop.stream.take()
    moves = []
    for status in ("CONFIRMED", "SHIPPED", "DELIVERED"):
        moves.append(shop.change("PATCH", path, user="staff", admin=True, json={"status": status}))
    records = shop.stream.take()
    assert summary(records) == [("MODIFY", "ORDER")] * 3

    sent = published(bus, records)
    assert [e["detail-type"] for e in sent] == ["OrderStatusChanged"] * 3
    assert [e["detail"] for e in sent] == [
        expected_detail(moves[0], "PENDING"),
        expected_detail(moves[1], "CONFIRMED"),
        expected_detail(moves[2], "SHIPPED"),
    ]


@pytest.mark.parametrize("confirmed_first", [False, True], ids=["pending", "confirmed"])
def test_cancelling_is_order_cancelled_and_the_stock_returned_is_not_an_event(
    shop: Shop, bus: Bus, confirmed_first: bool
) -> None:
    order = shop.order(("MUG", 2), ("CAP", 3))
    path = f"/orders/{order['id']}"
    if confirmed_first:
        shop.change("PATCH", path, user="staff", admin=True, json={"status": "CONFIRMED"})
    shop.stream.take()
    cancelled = shop.change("POST", f"{path}/cancel")
    records = shop.stream.take()
    assert summary(records) == [("MODIFY", "ORDER"), ("MODIFY", "PRODUCT"), ("MODIFY", "PRODUCT")]

    sent = the_one_event(bus, records)
    assert sent["detail-type"] == "OrderCancelled"
    old = "CONFIRMED" if confirmed_first else "PENDING"
    assert sent["detail"] == expected_detail(cancelled, old)
    assert (sent["detail"]["cancellation_reason"], sent["detail"]["expires_at"]) == (
        "customer",
        None,
    )


def test_an_expired_reservation_is_order_cancelled_with_reason_expired(
    shop: Shop, bus: Bus
) -> None:
    # Placed through the service with its clock 5 minutes back and a 1-minute hold, then the
    # expiry job's run (what the scheduled Lambda and `order-api serve` do) releases it.
    repository = DynamoRepository(shop.dynamodb, shop.table_name)
    placed_at = utcnow() - timedelta(minutes=5)
    service = OrderService(
        repository, CursorCodec(b"stream"), 86400, timedelta(minutes=1), clock=lambda: placed_at
    )
    request = PlaceOrder(lines=(("MUG", 2),), shipping_address=Address(**ADDRESS))
    order_id = service.place(Caller("alice"), request, None).order.id
    shop.stream.take()

    assert ReservationExpiry(repository).run().expired == 1
    records = shop.stream.take()
    assert summary(records) == [("MODIFY", "ORDER"), ("MODIFY", "PRODUCT")]

    sent = the_one_event(bus, records)
    assert sent["detail-type"] == "OrderCancelled"
    expired = shop.api.call("GET", f"/orders/{order_id}").json()
    assert sent["detail"] == expected_detail(expired, "PENDING")
    assert (sent["detail"]["cancellation_reason"], sent["detail"]["expires_at"]) == (
        "expired",
        None,
    )


def test_an_order_written_before_reservations_expired_still_reads(shop: Shop, bus: Bus) -> None:
    # Such an order has no deadline and no reservation index entry: strip them from a new one,
    # as the items written before the feature are, then confirm it.
    order = shop.order(("MUG", 1))
    shop.dynamodb.update_item(
        TableName=shop.table_name,
        Key={name: {"S": value} for name, value in keys.order_key(order["id"]).items()},
        UpdateExpression="REMOVE "
        + ", ".join(("reserved_until", *keys.RESERVATION_INDEX_ATTRIBUTES)),
    )
    shop.stream.take()
    confirmed = shop.change(
        "PATCH", f"/orders/{order['id']}", user="staff", admin=True, json={"status": "CONFIRMED"}
    )
    records = shop.stream.take()
    assert summary(records) == [("MODIFY", "ORDER")]
    assert "reserved_until" not in records["Records"][0]["dynamodb"]["OldImage"]

    sent = the_one_event(bus, records)
    assert sent["detail-type"] == "OrderStatusChanged"
    assert sent["detail"] == expected_detail(confirmed, "PENDING")
    assert (sent["detail"]["expires_at"], sent["detail"]["cancellation_reason"]) == (None, None)


def test_an_address_change_publishes_nothing(shop: Shop, bus: Bus) -> None:
    order = shop.order(("MUG", 1))
    shop.stream.take()
    moved = {**ADDRESS, "city": "Paris", "country": "FR"}
    shop.change("PATCH", f"/orders/{order['id']}", json={"shipping_address": moved})
    records = shop.stream.take()
    assert summary(records) == [("MODIFY", "ORDER")]

    assert published(bus, records) == []
    assert bus.put_events_calls == []


def test_catalog_changes_publish_nothing(shop: Shop, bus: Bus) -> None:
    shop.change("PATCH", "/products/MUG", user="staff", admin=True, json={"price": 1350})
    shop.change("PATCH", "/products/CAP", user="staff", admin=True, json={"stock_delta": -5})
    records = shop.stream.take()
    assert summary(records) == [("MODIFY", "PRODUCT")] * 2

    assert published(bus, records) == []
    assert bus.put_events_calls == []


def _expire(shop: Shop, caller: str, key: str) -> None:
    """What 24 hours do to an Idempotency-Key's record: its expiry passes (it stays until TTL
    deletes it, and neither engine here runs TTL deletions)."""
    shop.dynamodb.update_item(
        TableName=shop.table_name,
        Key={name: {"S": value} for name, value in keys.idempotency_key(caller, key).items()},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 60)}},
    )


def test_an_expired_key_reused_by_a_new_order_publishes_that_order_only(
    shop: Shop, bus: Bus
) -> None:
    first = shop.order(("MUG", 1), key="weekly")
    _expire(shop, "alice", "weekly")
    shop.stream.take()

    second = shop.order(("MUG", 1), key="weekly")
    assert second["id"] != first["id"]  # a new order, not a replay
    records = shop.stream.take()
    # The new order, its stock, and the key's record replaced in the same transaction.
    assert summary(records) == [
        ("INSERT", "ORDER"),
        ("MODIFY", "PRODUCT"),
        ("MODIFY", "IDEMPOTENCY"),
    ]
    sent = the_one_event(bus, records)
    assert sent["detail-type"] == "OrderPlaced"
    assert sent["detail"] == expected_detail(second, None)


def test_a_key_record_deleted_by_ttl_publishes_nothing(shop: Shop, bus: Bus) -> None:
    shop.order(("MUG", 1), key="once")
    _expire(shop, "alice", "once")
    shop.stream.take()
    # DynamoDB's TTL deletes it as a REMOVE record carrying the service as its user identity.
    # Neither engine here runs TTL, so the record is DynamoDB Local's own for the same delete,
    # with the identity that docs for TTL deletions show.
    shop.dynamodb.delete_item(
        TableName=shop.table_name,
        Key={name: {"S": value} for name, value in keys.idempotency_key("alice", "once").items()},
    )
    records = shop.stream.take()
    assert summary(records) == [("REMOVE", "IDEMPOTENCY")]
    records["Records"][0]["userIdentity"] = {
        "type": "Service",
        "principalId": "dynamodb.amazonaws.com",
    }

    assert published(bus, records) == []


def test_an_order_removed_by_an_operator_publishes_nothing(shop: Shop, bus: Bus) -> None:
    order = shop.order(("MUG", 1))
    shop.stream.take()
    shop.dynamodb.delete_item(
        TableName=shop.table_name,
        Key={name: {"S": value} for name, value in keys.order_key(order["id"]).items()},
    )
    records = shop.stream.take()
    assert summary(records) == [("REMOVE", "ORDER")]

    assert published(bus, records) == []


def test_a_refused_order_writes_nothing_to_the_stream(shop: Shop, bus: Bus) -> None:
    short = shop.api.place([("MUG", 101)])
    assert short.status_code == 409
    assert shop.stream.take() == {"Records": []}


def test_no_event_carries_the_address(shop: Shop, bus: Bus) -> None:
    order = shop.order(("MUG", 1))
    shop.change("POST", f"/orders/{order['id']}/cancel")
    received = json.dumps(published(bus, shop.stream.take()))
    assert "Lovelace" not in received and "shipping_address" not in received
    assert "OrderPlaced" in received and "OrderCancelled" in received


def test_a_replayed_record_gives_the_same_event_id(shop: Shop, bus: Bus) -> None:
    order = shop.order(("MUG", 1))
    records = shop.stream.take()
    bus.invoke(records)
    bus.invoke(records)
    first, second = bus.received()
    # EventBridge's own envelope id differs per PutEvents; the detail's event_id does not.
    assert first["id"] != second["id"]
    assert first["detail"] == second["detail"]
    assert first["detail"]["event_id"] == f"{order['id']}:1"


# -- batches and failures ----------------------------------------------------------------------


@pytest.fixture
def busy(shop: Shop) -> tuple[list[str], dict[str, Any]]:
    """Twelve orders placed in a row: their ids and their records (order, stock, order, ...)."""
    ids = [shop.order(("MUG", 1), user=f"buyer-{n}")["id"] for n in range(12)]
    records = shop.stream.take()
    assert summary(records) == [("INSERT", "ORDER"), ("MODIFY", "PRODUCT")] * 12
    return ids, records


def test_events_go_out_in_calls_of_at_most_ten_entries(
    bus: Bus, busy: tuple[list[str], dict[str, Any]]
) -> None:
    ids, records = busy
    assert bus.invoke(records) == {"batchItemFailures": []}
    assert bus.put_events_calls == [10, 2]
    received = bus.received()
    assert sorted(e["detail"]["event_id"] for e in received) == sorted(f"{i}:1" for i in ids)


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


def test_a_partial_put_events_failure_reports_just_those_records(
    bus: Bus, busy: tuple[list[str], dict[str, Any]]
) -> None:
    ids, records = busy
    order_records = sequences(records)[::2]  # order, product, order, product, ...
    _fail_entries(bus, lambda detail: detail["order_id"] in ids[10:])

    result = bus.invoke(records)

    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": order_records[10]},
            {"itemIdentifier": order_records[11]},
        ]
    }
    assert sorted(e["detail"]["order_id"] for e in bus.received()) == sorted(ids[:10])


def test_after_a_failed_call_later_calls_are_not_made_and_retry_completes_the_set(
    bus: Bus, busy: tuple[list[str], dict[str, Any]]
) -> None:
    ids, records = busy
    order_records = sequences(records)[::2]
    attempts = {"third": 0}

    def flaky(detail: dict[str, Any]) -> bool:
        if detail["order_id"] != ids[2]:
            return False
        attempts["third"] += 1
        return attempts["third"] == 1  # refused once, accepted on the retry

    _fail_entries(bus, flaky)
    result = bus.invoke(records)

    # The third order was refused; orders 11 and 12 (the second call) were never sent.
    failed = [item["itemIdentifier"] for item in result["batchItemFailures"]]
    assert failed == [order_records[2], order_records[10], order_records[11]]
    assert bus.put_events_calls == [10]
    # Lambda retries from the lowest failed sequence number: the batch from there on.
    start = sequences(records).index(failed[0])
    assert bus.invoke({"Records": records["Records"][start:]}) == {"batchItemFailures": []}
    received = bus.received()
    # 9 + 10 deliveries; deduplicated by event_id, each of the 12 orders exactly once.
    assert len(received) == 19
    assert sorted({e["detail"]["event_id"] for e in received}) == sorted(f"{i}:1" for i in ids)


def test_an_unreadable_order_record_is_reported_with_every_record_after_it(
    shop: Shop, bus: Bus
) -> None:
    order = shop.order(("MUG", 1))
    placed = shop.stream.take()
    shop.change(
        "PATCH", f"/orders/{order['id']}", user="staff", admin=True, json={"status": "CONFIRMED"}
    )
    broken = shop.stream.take()
    del broken["Records"][0]["dynamodb"]["OldImage"]  # as if the stream were NEW_IMAGE only
    shop.change("POST", f"/orders/{order['id']}/cancel")
    later = shop.stream.take()
    batch = {"Records": placed["Records"] + broken["Records"] + later["Records"]}

    result = bus.invoke(batch)

    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == (
        sequences(broken) + sequences(later)
    )
    [event] = bus.received()  # what came before the broken record is published
    assert event["detail-type"] == "OrderPlaced"


def test_a_put_events_call_that_fails_reports_all_its_records(
    bus: Bus, busy: tuple[list[str], dict[str, Any]]
) -> None:
    def refuse(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": "AccessDeniedException", "Message": "not allowed"}
        return AWSResponse(params["url"], 400, {}, None), {"Error": error}

    _on_put_events(refuse)
    _, records = busy
    result = bus.invoke(records)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == sequences(records)[::2]
    assert bus.received() == []


def test_an_event_that_is_not_a_stream_batch_is_ignored(bus: Bus) -> None:
    assert bus.invoke({"source": "aws.events", "detail-type": "Scheduled Event"}) == {
        "batchItemFailures": []
    }
    assert bus.put_events_calls == []
