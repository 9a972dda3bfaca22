"""Reservations expire (contract, "Reservations expire"): the API's `expires_at` and
`cancellation_reason`, and the expiry job's runs against moto, orders placed through the real
API, the job's clock moved past their deadlines instead of waiting.

Races are interleaved deterministically at botocore's `before-call`: the other party acts
between one side's read and its write, which is the window in which a race can go wrong.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import botocore.session
import pytest
from fastapi.testclient import TestClient

from lambda_app import cli
from lambda_app.api.app import create_app
from lambda_app.domain.timestamps import parse_rfc3339, rfc3339
from lambda_app.repository import keys
from lambda_app.repository.client import make_client
from lambda_app.repository.dynamodb import DynamoRepository
from lambda_app.repository.schema import GSI4
from lambda_app.service.clock import utcnow
from lambda_app.service.expiry import ExpiryReport, ReservationExpiry
from tests.conftest import REGION, TABLE, Api, make_settings
from tests.integration.test_faults import (  # the SDK-level fault injector, shared
    Faults,
    sdk_sleeps,  # noqa: F401 - autouse: the SDK's back-off is recorded, not slept
    throttled,
    timeout_after_write,
)

LATER = timedelta(minutes=31)  # past the default 30-minute window


@pytest.fixture
def job_client(dynamodb: Any, botocore_session: botocore.session.Session) -> Any:
    """The job's own client (own event hooks), on the same moto backend as the API's."""
    return make_client(REGION, session=botocore_session)


@pytest.fixture
def job(job_client: Any) -> Callable[..., ExpiryReport]:
    """One run of the expiry job, its clock `after` past now."""

    def run(after: timedelta = LATER, **bounds: Any) -> ExpiryReport:
        at = utcnow() + after
        expiry = ReservationExpiry(DynamoRepository(job_client, TABLE), clock=lambda: at)
        return expiry.run(**bounds)

    return run


@pytest.fixture
def api_with(dynamodb: Any) -> Iterator[Callable[..., Api]]:
    """The API with other settings, on the same table (a stage whose window changed)."""
    clients: list[TestClient] = []

    def build(**overrides: Any) -> Api:
        client = TestClient(create_app(make_settings(**overrides), dynamodb))
        clients.append(client.__enter__())
        return Api(client)

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def placed(api: Api, sku: str = "MUG", quantity: int = 1, user: str = "alice") -> dict[str, Any]:
    response = api.place([(sku, quantity)], user=user)
    assert response.status_code == 201, response.text
    return dict(response.json())


def order(api: Api, order_id: str) -> dict[str, Any]:
    response = api.call("GET", f"/orders/{order_id}", user="staff", admin=True)
    assert response.status_code == 200, response.text
    return dict(response.json())


def stock(api: Api, sku: str) -> int:
    return int(api.call("GET", f"/products/{sku}").json()["stock"])


def confirm(api: Api, order_id: str) -> Any:
    return api.call(
        "PATCH", f"/orders/{order_id}", user="staff", admin=True, json={"status": "CONFIRMED"}
    )


def once(client: Any, operation: str, action: Callable[[], object]) -> list[object]:
    """Run `action` just before `client`'s next `operation` call (once); its result is kept."""
    done: list[object] = []

    def hook(**_: Any) -> None:
        if not done:
            done.append(action())

    client.meta.events.register(f"before-call.dynamodb.{operation}", hook)
    return done


def shard_of(order_id: str) -> str:
    return keys.reservation_index_keys(order_id, "")[GSI4.partition_key]


# -- the fields -------------------------------------------------------------------------------


def test_a_pending_order_says_when_its_reservation_runs_out(
    api: Api, api_with: Callable[..., Api]
) -> None:
    api.add_product("MUG", stock=5)
    first = placed(api)
    assert first["cancellation_reason"] is None
    deadline = parse_rfc3339(first["expires_at"]) - parse_rfc3339(first["created_at"])
    assert deadline == timedelta(minutes=30)  # the default window
    second = placed(api_with(RESERVATION_MINUTES=5))
    assert parse_rfc3339(second["expires_at"]) - parse_rfc3339(second["created_at"]) == timedelta(
        minutes=5
    )
    assert order(api, first["id"])["expires_at"] == first["expires_at"]  # as stored


def test_leaving_pending_ends_the_deadline_and_a_cancel_says_who(api: Api) -> None:
    api.add_product("MUG", stock=5)
    confirmed, by_customer, by_staff = (placed(api)["id"] for _ in range(3))
    assert confirm(api, confirmed).json()["expires_at"] is None
    own = api.call("POST", f"/orders/{by_customer}/cancel").json()
    assert (own["status"], own["cancellation_reason"], own["expires_at"]) == (
        "CANCELLED",
        "customer",
        None,
    )
    staff = api.call("POST", f"/orders/{by_staff}/cancel", user="staff", admin=True).json()
    assert staff["cancellation_reason"] == "staff"
    assert order(api, confirmed)["cancellation_reason"] is None
    # A confirmed order cancelled later: by its customer.
    later = api.call("POST", f"/orders/{confirmed}/cancel").json()
    assert (later["cancellation_reason"], later["expires_at"]) == ("customer", None)


def test_address_changes_keep_the_deadline(api: Api) -> None:
    api.add_product("MUG", stock=5)
    first = placed(api)
    address = {**first["shipping_address"], "line1": "13 St James's Square"}
    changed = api.call("PATCH", f"/orders/{first['id']}", json={"shipping_address": address})
    assert changed.status_code == 200, changed.text
    assert changed.json()["expires_at"] == first["expires_at"]


def test_an_order_written_before_reservations_expired_reads_and_lists(
    api: Api, dynamodb: Any
) -> None:
    api.add_product("MUG", stock=5)
    first = placed(api)
    # What an order item looked like before: no deadline, no reason, no reservation index keys.
    dynamodb.update_item(
        TableName=TABLE,
        Key={"PK": {"S": f"ORDER#{first['id']}"}, "SK": {"S": "ORDER"}},
        UpdateExpression="REMOVE reserved_until, GSI4PK, GSI4SK",
    )
    got = order(api, first["id"])
    assert (got["status"], got["expires_at"], got["cancellation_reason"]) == ("PENDING", None, None)
    listed = api.call("GET", "/orders").json()["items"]
    assert [o["id"] for o in listed] == [first["id"]]
    assert api.call("POST", f"/orders/{first['id']}/cancel").json()["cancellation_reason"] == (
        "customer"
    )


def test_no_order_item_carries_the_ttl_attribute(api: Api, dynamodb: Any) -> None:
    """The table's TTL attribute is `expires_at`: a number there would delete the order."""
    api.add_product("MUG", stock=5)
    first = placed(api)
    item = dynamodb.get_item(
        TableName=TABLE, Key={"PK": {"S": f"ORDER#{first['id']}"}, "SK": {"S": "ORDER"}}
    )["Item"]
    assert "expires_at" not in item
    assert item["reserved_until"] == {"S": first["expires_at"]}


# -- the job ----------------------------------------------------------------------------------


def test_expired_orders_across_shards_are_cancelled_and_give_their_stock_back(
    api: Api, api_with: Callable[..., Api], job: Callable[..., ExpiryReport]
) -> None:
    api.add_product("MUG", stock=1000)
    api.add_product("CAP", stock=1000)
    longer = api_with(RESERVATION_MINUTES=60)  # placed after the window grew: not due yet
    due = [placed(api, "MUG", 2, user=f"c{n}")["id"] for n in range(16)]
    held = [placed(longer, "CAP", 3, user=f"h{n}")["id"] for n in range(8)]
    confirmed = placed(api, "MUG", 5)["id"]
    cancelled = placed(api, "MUG", 7)["id"]
    assert confirm(api, confirmed).status_code == 200
    assert api.call("POST", f"/orders/{cancelled}/cancel").status_code == 200
    assert {shard_of(order_id) for order_id in due} == {
        keys.reservation_partition(shard) for shard in range(keys.SHARDS)
    }

    report = job()

    assert (report.expired, report.lost, report.failed) == (16, 0, 0)
    for order_id in due:
        got = order(api, order_id)
        assert (got["status"], got["cancellation_reason"], got["expires_at"]) == (
            "CANCELLED",
            "expired",
            None,
        )
        assert got["version"] == 2
    assert {order(api, order_id)["status"] for order_id in held} == {"PENDING"}
    assert order(api, confirmed)["status"] == "CONFIRMED"
    assert order(api, cancelled)["cancellation_reason"] == "customer"
    assert stock(api, "MUG") == 1000 - 5  # every expired line back, the confirmed one kept
    assert stock(api, "CAP") == 1000 - 8 * 3
    # Once is all: another run finds nothing, and the held ones expire when their time comes.
    assert job().attempts == 0
    assert stock(api, "MUG") == 1000 - 5
    assert job(timedelta(minutes=61)).expired == 8
    assert stock(api, "CAP") == 1000


def test_a_shorter_window_expires_new_orders_before_older_longer_ones(
    api_with: Callable[..., Api], job: Callable[..., ExpiryReport]
) -> None:
    long, short = api_with(RESERVATION_MINUTES=60), api_with(RESERVATION_MINUTES=10)
    long.add_product("MUG", stock=10)
    old = placed(long)["id"]
    new = placed(short)["id"]
    assert job(timedelta(minutes=11)).expired == 1
    assert order(long, new)["cancellation_reason"] == "expired"
    assert order(long, old)["status"] == "PENDING"


def test_a_run_reads_the_reservation_index_and_due_orders_only(
    api: Api, job_client: Any, job: Callable[..., ExpiryReport]
) -> None:
    api.add_product("MUG", stock=100)
    for _ in range(5):
        placed(api)
    calls: Counter[str] = Counter()
    indexes: set[str] = set()

    def count(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls[model.name] += 1
        if model.name == "Query":
            indexes.add(params["IndexName"])

    job_client.meta.events.register("before-parameter-build.dynamodb", count)
    assert job(timedelta(0)).attempts == 0  # nothing due: index queries only
    assert calls == Counter({"Query": keys.SHARDS})
    calls.clear()
    assert job().expired == 5
    assert calls["Scan"] == 0
    assert indexes == {GSI4.name}
    assert calls["BatchGetItem"] <= keys.SHARDS  # one per page of due orders
    assert calls["TransactWriteItems"] == 5


# -- races: exactly one wins, stock counted once, the loser sees the winner's state -----------


def test_expiry_wins_over_a_confirm_which_gets_409_naming_cancelled(
    api: Api, dynamodb: Any, job: Callable[..., ExpiryReport]
) -> None:
    api.add_product("MUG", stock=10)
    order_id = placed(api, "MUG", 4)["id"]
    # The confirm has read the order PENDING; the job expires it before the confirm writes.
    ran = once(dynamodb, "UpdateItem", job)
    response = confirm(api, order_id)
    assert ran[0].expired == 1  # type: ignore[attr-defined]
    assert response.status_code == 409, response.text
    assert response.json()["current_status"] == "CANCELLED"
    assert order(api, order_id)["cancellation_reason"] == "expired"
    assert stock(api, "MUG") == 10


def test_a_confirm_wins_over_expiry_which_leaves_the_order_alone(
    api: Api, job_client: Any, job: Callable[..., ExpiryReport]
) -> None:
    api.add_product("MUG", stock=10)
    order_id = placed(api, "MUG", 4)["id"]
    # The job has read the order PENDING and due; staff confirm it before the job writes.
    confirmed = once(job_client, "TransactWriteItems", lambda: confirm(api, order_id))
    report = job()
    assert confirmed[0].status_code == 200  # type: ignore[attr-defined]
    assert (report.expired, report.lost) == (0, 1)
    got = order(api, order_id)
    assert (got["status"], got["cancellation_reason"], got["version"]) == ("CONFIRMED", None, 2)
    assert stock(api, "MUG") == 6  # still reserved for the confirmed order
    assert job().attempts == 0  # and no later run touches it


def test_expiry_wins_over_a_customer_cancel_which_gets_409_naming_cancelled(
    api: Api, dynamodb: Any, job: Callable[..., ExpiryReport]
) -> None:
    api.add_product("MUG", stock=10)
    order_id = placed(api, "MUG", 4)["id"]
    ran = once(dynamodb, "TransactWriteItems", job)
    response = api.call("POST", f"/orders/{order_id}/cancel")
    assert ran[0].expired == 1  # type: ignore[attr-defined]
    assert response.status_code == 409, response.text
    assert response.json()["current_status"] == "CANCELLED"
    assert order(api, order_id)["cancellation_reason"] == "expired"
    assert stock(api, "MUG") == 10  # returned once, by the expiry


def test_a_customer_cancel_wins_over_expiry(
    api: Api, job_client: Any, job: Callable[..., ExpiryReport]
) -> None:
    api.add_product("MUG", stock=10)
    order_id = placed(api, "MUG", 4)["id"]
    cancelled = once(
        job_client, "TransactWriteItems", lambda: api.call("POST", f"/orders/{order_id}/cancel")
    )
    report = job()
    assert cancelled[0].status_code == 200  # type: ignore[attr-defined]
    assert (report.expired, report.lost) == (0, 1)
    assert order(api, order_id)["cancellation_reason"] == "customer"
    assert stock(api, "MUG") == 10  # returned once, by the cancel


def test_two_runs_at_once_expire_each_order_once(
    api: Api,
    job_client: Any,
    botocore_session: botocore.session.Session,
    job: Callable[..., ExpiryReport],
) -> None:
    api.add_product("MUG", stock=10)
    order_id = placed(api, "MUG", 4)["id"]
    other = make_client(REGION, session=botocore_session)
    at = utcnow() + LATER
    second_run = ReservationExpiry(DynamoRepository(other, TABLE), clock=lambda: at)
    # The first run has read the order; the second runs from start to end before it writes.
    ran = once(job_client, "TransactWriteItems", second_run.run)
    first = job()
    assert (ran[0].expired, first.expired, first.lost) == (1, 0, 1)  # type: ignore[attr-defined]
    assert order(api, order_id)["version"] == 2
    assert stock(api, "MUG") == 10


# -- bounded work, retries ----------------------------------------------------------------------


def test_a_backlog_drains_in_bounded_runs_with_every_unit_back_once(
    api: Api, job: Callable[..., ExpiryReport]
) -> None:
    # Small on purpose: moto copies the whole table in every transaction. The 10,000-order
    # backlog was measured against DynamoDB Local (the closing note of issue 14).
    api.add_product("MUG", stock=1000)
    api.add_product("CAP", stock=1000)
    for n in range(40):
        response = api.place([("MUG", 1 + n % 3), ("CAP", 2)], user=f"c{n % 7}")
        assert response.status_code == 201, response.text
    reports = [job(max_orders=15, time_budget=600) for _ in range(4)]
    assert [r.expired for r in reports] == [15, 15, 10, 0]
    assert [r.stopped_early for r in reports] == [True, True, False, False]
    assert stock(api, "MUG") == 1000 and stock(api, "CAP") == 1000
    listed = api.call("GET", "/orders?status=PENDING&limit=100", user="staff", admin=True)
    assert listed.json()["items"] == []


def test_the_time_budget_stops_a_run_and_the_next_one_goes_on(api: Api, job_client: Any) -> None:
    api.add_product("MUG", stock=100)
    for _ in range(12):
        placed(api)
    ticks = itertools.count()  # a slow store: every look at the time is a second later
    at = utcnow() + LATER
    expiry = ReservationExpiry(
        DynamoRepository(job_client, TABLE), clock=lambda: at, monotonic=lambda: next(ticks)
    )
    first = expiry.run(time_budget=5)
    assert first.stopped_early and 0 < first.expired < 5
    assert expiry.run(time_budget=100).expired == 12 - first.expired
    assert stock(api, "MUG") == 100


def test_a_throttled_expiry_is_retried_by_the_next_run_and_released_once(
    api: Api, job_client: Any, job: Callable[..., ExpiryReport]
) -> None:
    api.add_product("MUG", stock=10)
    order_ids = [placed(api, "MUG", 2)["id"] for _ in range(3)]
    faults = Faults(job_client)
    faults.inject("TransactWriteItems", throttled)
    first = job()
    assert (first.expired, first.failed, first.stopped_early) == (0, 1, True)
    assert stock(api, "MUG") == 4
    faults.clear()
    assert job().expired == 3
    assert {order(api, i)["cancellation_reason"] for i in order_ids} == {"expired"}
    assert stock(api, "MUG") == 10


def test_an_expiry_whose_answer_was_lost_is_not_released_again(
    api: Api, job_client: Any, job: Callable[..., ExpiryReport]
) -> None:
    api.add_product("MUG", stock=10)
    order_id = placed(api, "MUG", 2)["id"]
    faults = Faults(job_client)
    # Applied by DynamoDB; every answer lost, so the SDK retries it and the run counts a failure.
    faults.inject("TransactWriteItems", timeout_after_write)
    assert job().failed == 1
    faults.clear()
    assert job().attempts == 0  # no longer due: it is cancelled
    got = order(api, order_id)
    assert (got["status"], got["cancellation_reason"], got["version"]) == (
        "CANCELLED",
        "expired",
        2,
    )
    assert stock(api, "MUG") == 10


def indexed(dynamodb: Any) -> set[str]:
    """The order ids in the reservation index, every shard."""
    return {
        item["PK"]["S"].removeprefix("ORDER#")
        for shard in range(keys.SHARDS)
        for item in dynamodb.query(
            TableName=TABLE,
            IndexName=GSI4.name,
            KeyConditionExpression="GSI4PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.reservation_partition(shard)}},
        )["Items"]
    }


def test_only_orders_that_hold_stock_are_in_the_reservation_index(
    api: Api, dynamodb: Any, job: Callable[..., ExpiryReport]
) -> None:
    api.add_product("MUG", stock=10)
    pending, confirmed, cancelled = (placed(api)["id"] for _ in range(3))
    assert confirm(api, confirmed).status_code == 200
    assert api.call("POST", f"/orders/{cancelled}/cancel").status_code == 200
    assert indexed(dynamodb) == {pending}
    assert job().expired == 1
    assert indexed(dynamodb) == set()


def test_the_openapi_document_documents_both_fields(api: Api) -> None:
    document = api.call("GET", "/openapi.json", user=None).json()
    schemas = document["components"]["schemas"]
    order_out = schemas["OrderOut"]
    assert {"expires_at", "cancellation_reason"} <= set(order_out["required"])
    expires = order_out["properties"]["expires_at"]
    assert {"type": "string", "format": "date-time"} in expires["anyOf"]
    assert {"type": "null"} in expires["anyOf"]
    assert "PENDING" in expires["description"]
    reason = order_out["properties"]["cancellation_reason"]
    (ref,) = [option["$ref"] for option in reason["anyOf"] if "$ref" in option]
    assert schemas[ref.rsplit("/", 1)[-1]]["enum"] == ["customer", "staff", "expired"]
    assert {"type": "null"} in reason["anyOf"]
    assert "expired" in reason["description"]


def test_orders_placed_before_reservations_expired_get_a_deadline_once(
    api: Api, dynamodb: Any, job: Callable[..., ExpiryReport], capsys: pytest.CaptureFixture[str]
) -> None:
    api.add_product("MUG", stock=10)
    old, recent, current = (placed(api, "MUG", n)["id"] for n in (2, 3, 1))
    two_hours_ago = rfc3339(utcnow() - timedelta(hours=2))
    for order_id, created_at in ((old, two_hours_ago), (recent, None)):
        # As such an order was stored: no deadline, no reservation index entry.
        changes = {"UpdateExpression": "REMOVE reserved_until, GSI4PK, GSI4SK"}
        if created_at is not None:  # and, for one of them, placed two hours ago
            changes = {
                "UpdateExpression": changes["UpdateExpression"] + " SET created_at = :c",
                "ExpressionAttributeValues": {":c": {"S": created_at}},
            }
        dynamodb.update_item(
            TableName=TABLE,
            Key={"PK": {"S": f"ORDER#{order_id}"}, "SK": {"S": "ORDER"}},
            **changes,
        )
    assert indexed(dynamodb) == {current}

    assert cli.main(["add-reservation-deadlines"]) == 0
    assert "2 PENDING orders" in capsys.readouterr().out
    for order_id in (old, recent):
        got = order(api, order_id)
        window = parse_rfc3339(got["expires_at"]) - parse_rfc3339(got["created_at"])
        assert (window, got["version"]) == (timedelta(minutes=30), 2)
    assert order(api, current)["version"] == 1
    assert cli.main(["add-reservation-deadlines"]) == 0  # once is all
    assert "0 PENDING orders" in capsys.readouterr().out
    # The job releases the one whose deadline has passed, and only that one.
    assert job(timedelta(0)).expired == 1
    assert order(api, old)["cancellation_reason"] == "expired"
    assert stock(api, "MUG") == 10 - 3 - 1
