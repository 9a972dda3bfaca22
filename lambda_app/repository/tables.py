"""Creating the table from the one schema definition (local runs and tests; the stack in AWS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from lambda_app.repository.schema import TTL_ATTRIBUTE, create_table_input

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


def ensure_table(client: DynamoDBClient, table_name: str) -> bool:
    """Create the table with TTL enabled unless it exists; True if it was created."""
    try:
        client.create_table(**create_table_input(table_name))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceInUseException":
            return False
        raise
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    return True
