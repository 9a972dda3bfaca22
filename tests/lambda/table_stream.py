"""A table's DynamoDB stream on DynamoDB Local, read the way Lambda's event source mapping reads
it (``dynamodbstreams``: DescribeStream, GetShardIterator TRIM_HORIZON, GetRecords), and its
records delivered the way the mapping delivers them: each record exactly as GetRecords returned
it on the wire, plus ``eventSourceARN``, in ``{"Records": [...]}``.

What real records look like next to the hand-written ones this replaced (docs/dynamodb-engines.md):
``eventID`` is a UUID, ``SequenceNumber`` a 21-digit zero-padded counter,
``ApproximateCreationDateTime`` a float rounded down to the minute, ``awsRegion`` "ddblocal",
attributes in no particular order, and a transaction's records in the order of its items.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.conftest import REGION


class TableStream:
    """Reads on from where the last ``take`` stopped, as the mapping does from its checkpoint:
    an iterator after the last sequence number seen (the first from TRIM_HORIZON, taken once
    records exist: DynamoDB Local fails a TRIM_HORIZON iterator taken before its shard's first
    record with TrimmedDataAccessException when other tables were written meanwhile)."""

    def __init__(self, dynamodb: Any, endpoint_url: str, table_name: str) -> None:
        self.client = boto3.client("dynamodbstreams", region_name=REGION, endpoint_url=endpoint_url)
        self._wire: list[dict[str, Any]] = []
        # The records as sent, not as botocore parsed them (it turns timestamps into datetimes).
        self.client.meta.events.register(
            "after-call.dynamodbstreams.GetRecords",
            lambda http_response, **_: self._wire.append(json.loads(http_response.content)),
        )
        self.arn: str = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        shards = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        assert len(shards) == 1, shards  # a new table has one shard (for its first hours)
        self._shard: str = shards[0]["ShardId"]
        self._last: str | None = None

    def _iterator(self) -> str | None:
        where: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
        if self._last is not None:
            where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self._last}
        answer = self.client.get_shard_iterator(StreamArn=self.arn, ShardId=self._shard, **where)
        return answer.get("ShardIterator")

    def take(self) -> dict[str, Any]:
        """Every record written since the last take, as one Lambda event."""
        records: list[dict[str, Any]] = []
        iterator = self._iterator()
        while iterator is not None:
            self._wire.clear()
            answer = self.client.get_records(ShardIterator=iterator)
            iterator = answer.get("NextShardIterator")
            [wire] = self._wire
            if not wire["Records"]:
                break
            records += [{**record, "eventSourceARN": self.arn} for record in wire["Records"]]
        if records:
            self._last = records[-1]["dynamodb"]["SequenceNumber"]
        return {"Records": records}


def summary(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(eventName, the item's kind) of each record: ("INSERT", "ORDER"), ("MODIFY", "PRODUCT")."""
    return [(r["eventName"], r["dynamodb"]["Keys"]["SK"]["S"]) for r in event["Records"]]
