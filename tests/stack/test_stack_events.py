"""The events path, live: the table's stream -> the events function -> the stack's bus -> a rule
and an SQS queue this test owns, the way a consumer subscribes (docs/events.md)."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from .conftest import REPO_ROOT, RESERVATION_MINUTES, Caller, Stack

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]

WAIT_S = 60


def documented_detail_fields() -> set[str]:
    """The field names of the ``detail`` table in docs/events.md ("Event schema, version 1")."""
    text = (REPO_ROOT / "docs" / "events.md").read_text()
    table = text.split("`detail`:", 1)[1].split("\n\n", 2)[1]
    fields = set(re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE))
    assert "event_id" in fields, "docs/events.md's detail table moved"
    return fields


class Consumer:
    """A rule on the stack's bus for this test's orders, delivering to a queue of its own."""

    def __init__(self, stack: Stack) -> None:
        self.sqs, self.events = stack.client("sqs"), stack.client("events")
        self.bus = stack.outputs["EventBusName"]
        self.name = f"stack-test-{uuid.uuid4().hex[:8]}"
        self.queue_url = self.sqs.create_queue(QueueName=self.name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        rule_arn = self.events.put_rule(
            Name=self.name,
            EventBusName=self.bus,
            EventPattern=json.dumps({"source": ["order-service"]}),
        )["RuleArn"]
        # What a consumer needs in AWS: the queue lets this rule send to it.
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        self.sqs.set_queue_attributes(
            QueueUrl=self.queue_url, Attributes={"Policy": json.dumps(policy)}
        )
        self.events.put_targets(
            Rule=self.name, EventBusName=self.bus, Targets=[{"Id": "queue", "Arn": queue_arn}]
        )
        self.received: list[dict[str, Any]] = []

    def wait_for(self, order_id: str, detail_type: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            for event in self.received:
                if event["detail"]["order_id"] == order_id and event["detail-type"] == detail_type:
                    return event
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            for message in messages:
                self.received.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        raise AssertionError(f"no {detail_type} for {order_id} within {WAIT_S} s: {self.received}")

    def close(self) -> None:
        self.events.remove_targets(Rule=self.name, EventBusName=self.bus, Ids=["queue"])
        self.events.delete_rule(Name=self.name, EventBusName=self.bus)
        self.sqs.delete_queue(QueueUrl=self.queue_url)


@pytest.fixture
def consumer(stack: Stack) -> Iterator[Consumer]:
    subscribed = Consumer(stack)
    yield subscribed
    subscribed.close()


def test_placed_and_cancelled_orders_arrive_on_the_bus(
    stack: Stack, bob: Caller, consumer: Consumer
) -> None:
    customer = stack.new_user()
    sku = stack.new_product(bob, price=450)
    order = customer.place([(sku, 2)]).json()
    cancelled = customer.call("POST", f"orders/{order['id']}/cancel").json()

    placed_event = consumer.wait_for(order["id"], "OrderPlaced")
    cancelled_event = consumer.wait_for(order["id"], "OrderCancelled")

    fields = documented_detail_fields()
    for event, state, old_status in (
        (placed_event, order, None),
        (cancelled_event, cancelled, "PENDING"),
    ):
        assert event["source"] == "order-service"
        assert set(event["detail"]) == fields, sorted(event["detail"])
        detail = event["detail"]
        assert detail["schema_version"] == "1"
        assert detail["event_id"] == f"{order['id']}:{state['version']}"
        assert detail["customer_id"] == customer.sub
        assert (detail["old_status"], detail["new_status"]) == (old_status, state["status"])
        assert (detail["total"], detail["currency"]) == (900, "EUR")
        assert detail["version"] == state["version"]
        assert detail["time"] == state["updated_at"]
        assert detail["expires_at"] == state["expires_at"]  # set while PENDING, then null
    assert placed_event["detail"]["cancellation_reason"] is None
    assert cancelled_event["detail"]["cancellation_reason"] == "customer"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_reservation_that_runs_out_is_cancelled_by_the_scheduled_job(
    stack: Stack, bob: Caller, consumer: Consumer
) -> None:
    """The stack's schedule runs the expiry function every minute; an order still PENDING past
    its ``expires_at`` is cancelled as ``expired`` within 2 minutes, and its stock returned."""
    customer = stack.new_user()
    sku = stack.new_product(bob, stock=3)
    order = customer.place([(sku, 2)]).json()
    held = _instant(order["expires_at"]) - _instant(order["created_at"])
    assert held == timedelta(minutes=RESERVATION_MINUTES)  # the context reached the function
    assert bob.call("GET", f"products/{sku}").json()["stock"] == 1

    deadline = _instant(order["expires_at"]).timestamp() + 120 + 30  # the contract, plus slack
    current = order
    while current["status"] == "PENDING" and time.time() < deadline:
        time.sleep(5)
        current = customer.call("GET", f"orders/{order['id']}").json()
    assert current["status"] == "CANCELLED", current
    assert current["cancellation_reason"] == "expired"
    assert current["expires_at"] is None
    assert bob.call("GET", f"products/{sku}").json()["stock"] == 3

    event = consumer.wait_for(order["id"], "OrderCancelled")
    assert event["detail"]["cancellation_reason"] == "expired"
    assert event["detail"]["old_status"] == "PENDING"
