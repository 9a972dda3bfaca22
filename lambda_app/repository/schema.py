"""The one definition of the DynamoDB table: keys, indexes, TTL and stream.

Used by the CDK stack (``infra``), by ``order-api create-table`` and by the tests, so the three
can never drift apart. Plain data on purpose: the CDK app reads it without importing boto3.
How the key values are built lives in ``keys.py``, next to the access patterns they serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PARTITION_KEY = "PK"
SORT_KEY = "SK"
TTL_ATTRIBUTE = "expires_at"
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"


@dataclass(frozen=True)
class IndexSchema:
    name: str
    partition_key: str
    sort_key: str
    projection: str = "ALL"  # DynamoDB's ProjectionType


# Overloaded, sparse global secondary indexes. See keys.py for what each one holds.
# The list indexes project ALL attributes so a page of results is one Query with no follow-up
# reads.
GSI1 = IndexSchema("GSI1", "GSI1PK", "GSI1SK")  # customer's orders; catalog (sharded)
GSI2 = IndexSchema("GSI2", "GSI2PK", "GSI2SK")  # customer's orders in one status
GSI3 = IndexSchema("GSI3", "GSI3PK", "GSI3SK")  # every order in one status (sharded)
LIST_INDEXES: tuple[IndexSchema, ...] = (GSI1, GSI2, GSI3)
# PENDING orders by reservation deadline (sharded), read only by the expiry job. Keys only: an
# entry is ~100 bytes (1 write unit) and changes to the order that keep its deadline (an address)
# never rewrite it; the job reads each due order itself, strongly consistent, before expiring it.
GSI4 = IndexSchema("GSI4", "GSI4PK", "GSI4SK", projection="KEYS_ONLY")
INDEXES: tuple[IndexSchema, ...] = (*LIST_INDEXES, GSI4)


def key_attribute_names() -> list[str]:
    """Every attribute used in a key of the table or an index (all strings)."""
    names = [PARTITION_KEY, SORT_KEY]
    for index in INDEXES:
        names += [index.partition_key, index.sort_key]
    return names


def create_table_input(table_name: str) -> dict[str, Any]:
    """``CreateTable`` parameters: on-demand, with the stream; TTL is a separate call.

    Encryption at rest is DynamoDB's default here (an AWS-owned key); the CDK stack chooses the
    AWS-managed key for deployed tables.
    """
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in key_attribute_names()
        ],
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": index.projection},
            }
            for index in INDEXES
        ],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE},
    }
