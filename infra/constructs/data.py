"""The DynamoDB table, built from the one schema definition in lambda_app/repository/schema.py."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import StageConfig
from lambda_app.repository import schema


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Data(Construct):
    """On-demand table with the schema's keys, GSIs, TTL attribute and stream.

    TableV2 (AWS::DynamoDB::GlobalTable with one replica) is CDK's recommended table construct:
    adding a replica Region later is a property change, not a table migration.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "Table",
            table_name=config.name("table"),
            partition_key=_string(schema.PARTITION_KEY),
            sort_key=_string(schema.SORT_KEY),
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=index.name,
                    partition_key=_string(index.partition_key),
                    sort_key=_string(index.sort_key),
                    projection_type=dynamodb.ProjectionType[index.projection],
                )
                for index in schema.INDEXES
            ],
            billing=dynamodb.Billing.on_demand(),
            time_to_live_attribute=schema.TTL_ATTRIBUTE,
            dynamo_stream=dynamodb.StreamViewType[schema.STREAM_VIEW_TYPE],
            # AWS-managed KMS key (aws/dynamodb): encryption visible and auditable in
            # CloudTrail, no key to manage and no monthly key fee. A customer-managed key would
            # add $1/month and key-policy work for no requirement we have today.
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=config.point_in_time_recovery,
            ),
            deletion_protection=config.deletion_protection,
            removal_policy=config.removal_policy,
        )
