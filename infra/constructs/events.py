"""Order events: the table's stream -> a function -> an EventBridge bus (lambda_app.events).

The handler (``lambda_app.events.stream.handler``) reports failed records in
``batchItemFailures``; the event source mapping retries from the lowest of them, bisects a
failing batch, and sends what still fails to an SQS queue (on-failure destination) instead of
blocking the shard for the stream's 24 hours.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.compute import (
    RUNTIME,
    acknowledge_runtime,
    architecture,
    function_log_group,
    function_role,
)

HANDLER = "lambda_app.events.stream.handler"


class OrderEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        table: dynamodb.ITableV2,
        code: lambda_.Code,
    ) -> None:
        super().__init__(scope, construct_id)
        function_name = config.name("events")
        stream_arn = table.table_stream_arn
        assert stream_arn is not None, "the table must have a stream"

        # Consumers subscribe with rules on this bus; a bus costs nothing until events flow.
        self.bus = events.EventBus(self, "Bus", event_bus_name=config.name("events"))

        # Records that still fail after retries and bisection (their metadata: shard,
        # sequence numbers), to be replayed from the table by hand. Kept the maximum 14 days.
        self.failures = sqs.Queue(
            self,
            "StreamFailures",
            queue_name=config.name("events-failures"),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
            removal_policy=config.removal_policy,
        )
        cdk.Validations.of(self.failures).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SQS3",
                reason=(
                    "This queue is itself the dead end: the event source mapping's on-failure "
                    "destination for stream records; a DLQ behind it would hold nothing new."
                ),
            )
        )

        self.log_group = function_log_group(self, "FunctionLogs", config, function_name)
        role = function_role(
            self,
            "FunctionRole",
            description="order events function: the table's stream, the bus, its failure queue",
            log_group=self.log_group,
            statements=[
                iam.PolicyStatement(
                    sid="ReadStream",
                    actions=[
                        "dynamodb:DescribeStream",
                        "dynamodb:GetRecords",
                        "dynamodb:GetShardIterator",
                    ],
                    resources=[stream_arn],
                ),
                iam.PolicyStatement(
                    sid="ListStreams", actions=["dynamodb:ListStreams"], resources=["*"]
                ),
                iam.PolicyStatement(
                    sid="PutEvents",
                    actions=["events:PutEvents"],
                    resources=[self.bus.event_bus_arn],
                ),
                iam.PolicyStatement(
                    sid="OnFailure",
                    actions=["sqs:SendMessage"],
                    resources=[self.failures.queue_arn],
                ),
            ],
        )
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "Only dynamodb:ListStreams (a list action without resource-level "
                    "permissions, needed by the event source mapping) and X-Ray's "
                    "PutTraceSegments/PutTelemetryRecords (no resource types either); the "
                    "stream, bus and queue are named."
                ),
            )
        )

        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description="order events: DynamoDB stream to EventBridge",
            runtime=RUNTIME,
            architecture=architecture(config),
            handler=HANDLER,
            code=code,
            # I/O-bound (PutEvents); no FastAPI import. 512 MB keeps the cold start short.
            memory_size=512,
            # A batch of 100 records is at most 10 PutEvents calls of <= 5 s each with the
            # handler's retries; 60 s covers the worst case without holding a shard long.
            timeout=cdk.Duration.seconds(60),
            role=role.without_policy_updates(),
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "EVENT_BUS_NAME": self.bus.event_bus_name,
                "METRICS_NAMESPACE": config.metrics_namespace,
                "LOG_LEVEL": config.log_level,
            },
        )
        acknowledge_runtime(self.function)
        self.function.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=100,
                max_batching_window=cdk.Duration.seconds(1),
                # Stream order per item is kept: one batch per shard at a time.
                parallelization_factor=1,
                report_batch_item_failures=True,
                bisect_batch_on_error=True,
                retry_attempts=10,
                max_record_age=cdk.Duration.hours(6),
                on_failure=sources.SqsDlq(self.failures),
            )
        )
