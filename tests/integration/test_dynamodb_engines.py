"""Where moto and DynamoDB Local (AWS's own engine) disagree, held per engine.

Each test states what each engine does with the same request; docs/dynamodb-engines.md is the
table of them. When an engine changes its mind, the test fails and the table is updated with
it. The service itself must be right on both: none of these requests is one the service sends,
except where a test says so (then the service was fixed, and the test holds the fix).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lambda_app.domain.errors import StaleWrite
from lambda_app.domain.models import Caller
from lambda_app.repository.dynamodb import DynamoRepository
from lambda_app.repository.schema import create_table_input
from lambda_app.repository.tables import ensure_table
from lambda_app.service.clock import utcnow
from tests import engines
from tests.conftest import REGION, Api
from tests.engines import BOTH_ENGINES

pytestmark = [BOTH_ENGINES]

ACCEPTED = "accepted"


def outcome(call: Callable[[], Any]) -> str:
    """ "accepted", the error code DynamoDB answered, or how the engine broke."""
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    except Exception as error:  # an engine failing inside itself (moto in-process)
        return f"crash: {type(error).__name__}"
    return ACCEPTED


def per_engine(engine: str, *, moto: str, local: str) -> str:
    return moto if engine == "moto" else local


def item(key: str, **attributes: Any) -> dict[str, Any]:
    return {"PK": {"S": key}, "SK": {"S": "PROBE"}, **attributes}


# -- what moto allows and DynamoDB Local refuses -----------------------------------------------


@pytest.mark.parametrize(
    ("number", "refusal"),
    [("9" * 39, "39 significant digits"), ("1E+126", "above 9.99E+125")],
    ids=["precision", "magnitude"],
)
def test_numbers_beyond_dynamodb_range(
    engine: str, dynamodb: Any, table_name: str, number: str, refusal: str
) -> None:
    put = outcome(lambda: dynamodb.put_item(TableName=table_name, Item=item("n", n={"N": number})))
    assert put == per_engine(engine, moto=ACCEPTED, local="ValidationException"), refusal


def test_an_index_key_of_the_wrong_type(engine: str, dynamodb: Any, table_name: str) -> None:
    wrong = item("g", GSI1PK={"N": "1"}, GSI1SK={"S": "x"})  # the schema says S
    put = outcome(lambda: dynamodb.put_item(TableName=table_name, Item=wrong))
    assert put == per_engine(engine, moto=ACCEPTED, local="ValidationException")


def test_a_batch_write_of_26_items(engine: str, dynamodb: Any, table_name: str) -> None:
    requests = [{"PutRequest": {"Item": item(f"b{i}")}} for i in range(26)]
    write = outcome(lambda: dynamodb.batch_write_item(RequestItems={table_name: requests}))
    assert write == per_engine(engine, moto=ACCEPTED, local="ValidationException")


def test_a_table_name_of_two_characters(engine: str, dynamodb: Any) -> None:
    create = outcome(lambda: dynamodb.create_table(**create_table_input("ab")))
    assert create == per_engine(engine, moto=ACCEPTED, local="ValidationException")


def test_reading_a_key_over_2048_bytes(engine: str, dynamodb: Any, table_name: str) -> None:
    key = {"PK": {"S": "k" * 2049}, "SK": {"S": "PROBE"}}
    read = outcome(lambda: dynamodb.get_item(TableName=table_name, Key=key))
    assert read == per_engine(engine, moto=ACCEPTED, local="ValidationException")


def test_a_client_request_token_reused_for_other_items(
    engine: str, dynamodb: Any, table_name: str
) -> None:
    def transact(key: str) -> None:
        dynamodb.transact_write_items(
            TransactItems=[{"Put": {"TableName": table_name, "Item": item(key)}}],
            ClientRequestToken="one-token",
        )

    assert outcome(lambda: transact("first")) == ACCEPTED
    assert outcome(lambda: transact("second")) == per_engine(
        engine, moto=ACCEPTED, local="IdempotentParameterMismatchException"
    )


def test_a_transaction_retried_with_its_token_is_applied_once(
    engine: str, dynamodb: Any, table_name: str
) -> None:
    add_one = {
        "Update": {
            "TableName": table_name,
            "Key": item("counter"),
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
    for _ in range(2):  # what the SDK does when an answer is lost
        dynamodb.transact_write_items(TransactItems=[add_one], ClientRequestToken="retried")
    stored = dynamodb.get_item(TableName=table_name, Key=item("counter"), ConsistentRead=True)
    assert stored["Item"]["n"] == {"N": per_engine(engine, moto="2", local="1")}


def test_two_cancellations_decided_from_one_version_let_exactly_one_win(
    api: Api, dynamodb: Any, table_name: str
) -> None:
    # The service's own transactions: two cancels of one order that both read version 1 (the
    # race of test_concurrency.py, played in order). Their transactions used to share a
    # ClientRequestToken derived from the order and version: DynamoDB Local answered the second
    # IdempotentParameterMismatchException (a 500); now each call has its own token.
    api.add_product("MUG", stock=5)
    placed = api.place([("MUG", 2)])
    assert placed.status_code == 201, placed.text
    repository = DynamoRepository(dynamodb, table_name)
    order = repository.get_order(placed.json()["id"])
    assert order is not None
    customer = Caller("alice")
    repository.save_cancellation(order.cancelled(utcnow(), customer), order)
    later = order.cancelled(utcnow() + timedelta(seconds=1), customer)
    with pytest.raises(StaleWrite):
        repository.save_cancellation(later, order)
    assert api.call("GET", "/products/MUG").json()["stock"] == 5  # returned once


# -- what DynamoDB Local allows and moto refuses (or breaks on) --------------------------------


def test_an_item_just_under_400_kib(engine: str, dynamodb: Any, table_name: str) -> None:
    # DynamoDB counts 400 KiB (409,600 bytes) of names and values; moto stops near 405,000.
    big = item("big", data={"S": "x" * 406_000})
    put = outcome(lambda: dynamodb.put_item(TableName=table_name, Item=big))
    assert put == per_engine(engine, moto="ValidationException", local=ACCEPTED)


def test_an_index_query_starting_from_a_key_without_the_index_keys(
    engine: str, dynamodb: Any, table_name: str
) -> None:
    indexed = item("o1", GSI1PK={"S": "CUSTOMER#alice"}, GSI1SK={"S": "1"})
    dynamodb.put_item(TableName=table_name, Item=indexed)
    query = outcome(
        lambda: dynamodb.query(
            TableName=table_name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :p",
            ExpressionAttributeValues={":p": {"S": "CUSTOMER#alice"}},
            ExclusiveStartKey=item("o1"),
        )
    )
    assert query == per_engine(engine, moto="crash: TypeError", local="ValidationException")


def test_a_query_with_limit_zero(engine: str, dynamodb: Any, table_name: str) -> None:
    dynamodb.put_item(TableName=table_name, Item=item("x"))
    query = outcome(
        lambda: dynamodb.query(
            TableName=table_name,
            KeyConditionExpression="PK = :p",
            ExpressionAttributeValues={":p": {"S": "x"}},
            Limit=0,
        )
    )
    assert query == per_engine(engine, moto="crash: IndexError", local="ValidationException")


# -- same request, different answers -----------------------------------------------------------


def test_a_query_whose_limit_is_exactly_what_is_left(
    engine: str, dynamodb: Any, table_name: str
) -> None:
    for n in range(3):
        dynamodb.put_item(
            TableName=table_name, Item=item(f"o{n}", GSI1PK={"S": "C"}, GSI1SK={"S": str(n)})
        )
    params = {
        "TableName": table_name,
        "IndexName": "GSI1",
        "KeyConditionExpression": "GSI1PK = :p",
        "ExpressionAttributeValues": {":p": {"S": "C"}},
        "Limit": 3,
    }
    page = dynamodb.query(**params)
    assert len(page["Items"]) == 3
    if engine == "moto":
        assert "LastEvaluatedKey" not in page
    else:  # as DynamoDB: a key, then an empty last page
        empty = dynamodb.query(**params, ExclusiveStartKey=page["LastEvaluatedKey"])
        assert (empty["Items"], "LastEvaluatedKey" in empty) == ([], False)


def test_numbers_come_back_normalized(engine: str, dynamodb: Any, table_name: str) -> None:
    dynamodb.put_item(TableName=table_name, Item=item("n", n={"N": "007.50"}))
    stored = dynamodb.get_item(TableName=table_name, Key=item("n"), ConsistentRead=True)
    assert stored["Item"]["n"] == {"N": per_engine(engine, moto="007.50", local="7.5")}


def test_consumed_capacity(engine: str, dynamodb: Any, table_name: str) -> None:
    indexed = item("c", GSI1PK={"S": "C"}, GSI1SK={"S": "1"})
    put = dynamodb.put_item(TableName=table_name, Item=indexed, ReturnConsumedCapacity="INDEXES")
    transaction = dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": table_name, "Item": {**indexed, **item("d")}}}],
        ReturnConsumedCapacity="INDEXES",
    )
    strong = dynamodb.get_item(
        TableName=table_name, Key=item("c"), ConsistentRead=True, ReturnConsumedCapacity="TOTAL"
    )
    seen = (
        put["ConsumedCapacity"].get("GlobalSecondaryIndexes"),
        transaction["ConsumedCapacity"],
        strong["ConsumedCapacity"]["CapacityUnits"],
    )
    if engine == "moto":  # no index units, nothing for transactions, strong reads at half
        assert seen == (None, [], 0.5)
    else:  # as DynamoDB bills: the index write too, transactions at double, strong reads whole
        assert seen == (
            {"GSI1": {"CapacityUnits": 1.0}},
            [
                {
                    "TableName": table_name,
                    "CapacityUnits": 4.0,
                    "Table": {"CapacityUnits": 2.0},
                    "GlobalSecondaryIndexes": {"GSI1": {"CapacityUnits": 2.0}},
                }
            ],
            1.0,
        )


def test_transaction_capacity_counts_items_of_equal_consumption_once(
    engine: str, dynamodb: Any, table_name: str
) -> None:
    # DynamoDB bills 2 write units per item (up to 1 KB) of a transaction: 3 small puts are 6.
    # DynamoDB Local adds up equal per-item figures once (2), different ones each (2 + 6 = 8
    # for a small and a 3 KB item). bench/capacity.py counts transactions per item for this.
    def transaction(*sizes: int) -> Any:
        puts = [
            {"Put": {"TableName": table_name, "Item": item(f"t{i}-{size}", d={"S": "x" * size})}}
            for i, size in enumerate(sizes)
        ]
        answer = dynamodb.transact_write_items(TransactItems=puts, ReturnConsumedCapacity="TOTAL")
        return [c["CapacityUnits"] for c in answer["ConsumedCapacity"]]

    equal, different = transaction(10, 10, 10), transaction(10, 3000)
    if engine == "moto":
        assert (equal, different) == ([], [])
    else:
        assert (equal, different) == ([2.0], [8.0])


def test_reading_a_stream_from_an_iterator_taken_before_its_first_record(
    engine: str, dynamodb: Any, table_name: str
) -> None:
    # Lambda's mapping starts at TRIM_HORIZON. DynamoDB Local numbers stream records across
    # all its tables: once another table is written before this one's first record, that
    # iterator reads "past the oldest record" (tests/lambda/table_stream.py takes it later).
    # moto answers no DescribeStream at all: stream records come from DynamoDB Local only.
    streams = boto3.client("dynamodbstreams", region_name=REGION, endpoint_url=_endpoint(dynamodb))

    def first_read() -> None:
        arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        other = engines.unique_table("other")
        ensure_table(dynamodb, other)
        try:
            dynamodb.put_item(TableName=other, Item=item("elsewhere"))
            dynamodb.put_item(TableName=table_name, Item=item("here"))
            streams.get_records(ShardIterator=iterator)
        finally:
            dynamodb.delete_table(TableName=other)

    read = outcome(first_read)
    assert read == per_engine(engine, moto="404", local="TrimmedDataAccessException")


def _endpoint(client: Any) -> str | None:
    url = client.meta.endpoint_url
    return None if "amazonaws.com" in url else str(url)


# -- where both differ from DynamoDB -----------------------------------------------------------


def test_neither_engine_deletes_expired_items(engine: str, dynamodb: Any, table_name: str) -> None:
    # DynamoDB's TTL deletes expired items within days; here they stay, which is why the
    # service treats a lingering expired Idempotency-Key as absent (`expires_at < :now`).
    ttl = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    dynamodb.put_item(
        TableName=table_name, Item=item("old", expires_at={"N": str(int(time.time()) - 3600)})
    )
    time.sleep(1)
    stored = dynamodb.get_item(TableName=table_name, Key=item("old"), ConsistentRead=True)
    assert "Item" in stored


def test_contended_transactions_are_serialized_never_a_transaction_conflict(
    engine: str, dynamodb: Any, table_name: str
) -> None:
    # DynamoDB cancels a transaction that collides with another on the same item
    # (TransactionConflict); the service retries those (test_faults.py injects them). moto
    # in-process takes one request at a time; DynamoDB Local, sent 20 at once over HTTP,
    # serializes them: the conflict path is only ever taken against AWS.
    dynamodb.put_item(TableName=table_name, Item=item("stock", n={"N": "10"}))
    workers = 1 if engine == "moto" else 20  # in-process moto is not thread-safe
    barrier = threading.Barrier(workers)

    def buy(index: int) -> str:
        barrier.wait(timeout=10)
        take_one = {
            "Update": {
                "TableName": table_name,
                "Key": item("stock"),
                "UpdateExpression": "SET n = n - :one",
                "ConditionExpression": "n >= :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }
        put = {"Put": {"TableName": table_name, "Item": item(f"order-{index}")}}
        try:
            dynamodb.transact_write_items(TransactItems=[put, take_one])
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or []
            return ",".join(str(r["Code"]) for r in reasons) or str(error)
        return ACCEPTED

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = Counter(pool.map(buy, range(20)))
    assert outcomes == {ACCEPTED: 10, "None,ConditionalCheckFailed": 10}
