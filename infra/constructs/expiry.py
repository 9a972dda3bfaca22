"""Reservations expire: a scheduled function cancels PENDING orders whose hold ran out.

The handler is ``lambda_app.jobs.expire_reservations.handler`` (one run of
``lambda_app/service/expiry.py`` per invocation):

- **Schedule**: an EventBridge rule, ``rate(1 minute)``, the finest a schedule offers. A run
  starts within a minute of a deadline and expires what is due in well under its 30 s budget,
  so an order is cancelled about a minute after ``expires_at`` (the contract allows 2).
- **Function**: the same asset and runtime as the others. 60 s timeout: the run's 30 s budget
  plus the slowest single DynamoDB call with the SDK's retries (21 s). No retries of a failed
  invocation: the next minute's run is the retry, and a run that overlaps another is safe.
- **Role**: exactly the calls a run makes: Query on the reservation index, BatchGetItem of the
  due orders, and UpdateItem for each item of an expiry's transaction (the order, each line's
  product stock; TransactWriteItems is authorized per item). Plus its log group and X-Ray.
- **Alarms**, on the stack's alarm topic: the function failed; an order was expired later than
  the contract's 2 minutes after its deadline; expiries failed in 3 periods in a row (a
  reservation that keeps failing is stock that never comes back). And a row on the dashboard.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.compute import (
    RUNTIME,
    acknowledge_runtime,
    architecture,
    function_log_group,
    function_role,
)
from lambda_app.repository import schema

HANDLER = "lambda_app.jobs.expire_reservations.handler"
# The EMF ``Service`` dimension the job writes (lambda_app/jobs/expire_reservations.py).
EXPIRY_SERVICE = "order-expiry"
SCHEDULE = cdk.Duration.minutes(1)
TIMEOUT = cdk.Duration.seconds(60)
# The contract: an order is expired within 2 minutes of its expires_at.
LATE_SECONDS = 120
FAILING_PERIODS = 3
PERIOD = cdk.Duration.minutes(5)
TABLE_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:UpdateItem")
INDEX_ACTIONS = ("dynamodb:Query",)


class ReservationExpiry(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        table: dynamodb.ITableV2,
        code: lambda_.Code,
        alarm_topic: sns.ITopic,
        dashboard: cloudwatch.Dashboard,
    ) -> None:
        super().__init__(scope, construct_id)
        function_name = config.name("expiry")
        self.log_group = function_log_group(self, "FunctionLogs", config, function_name)
        role = function_role(
            self,
            "FunctionRole",
            description="reservation expiry job: due orders from the reservation index, expired",
            log_group=self.log_group,
            statements=[
                iam.PolicyStatement(
                    sid="Table", actions=list(TABLE_ACTIONS), resources=[table.table_arn]
                ),
                iam.PolicyStatement(
                    sid="ReservationIndex",
                    actions=list(INDEX_ACTIONS),
                    resources=[f"{table.table_arn}/index/{schema.GSI4.name}"],
                ),
            ],
        )
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "Only xray:PutTraceSegments and xray:PutTelemetryRecords, which support no "
                    "resource-level permissions; the table and its reservation index are named."
                ),
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description="reservation expiry: cancels PENDING orders whose hold ran out",
            runtime=RUNTIME,
            architecture=architecture(config),
            handler=HANDLER,
            code=code,
            # I/O-bound (one transaction per order) and no FastAPI import; 512 MB keeps the
            # cold start short, as for the events function.
            memory_size=512,
            timeout=TIMEOUT,
            role=role.without_policy_updates(),
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "TABLE_NAME": table.table_name,
                "METRICS_NAMESPACE": config.metrics_namespace,
                "LOG_LEVEL": config.log_level,
            },
        )
        acknowledge_runtime(self.function)
        # The next scheduled run is the retry; a retried run would only overlap it.
        self.function.configure_async_invoke(retry_attempts=0, max_event_age=SCHEDULE)
        self.schedule = events.Rule(
            self,
            "Schedule",
            rule_name=config.name("expiry-schedule"),
            description="Runs the reservation expiry job every minute",
            schedule=events.Schedule.rate(SCHEDULE),
            targets=[
                targets.LambdaFunction(self.function, retry_attempts=2, max_event_age=SCHEDULE)
            ],
        )

        # --- alarms and dashboard ---------------------------------------------------------
        def emf(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=config.metrics_namespace,
                metric_name=name,
                dimensions_map={"Service": EXPIRY_SERVICE},
                statistic=statistic,
                period=PERIOD,
            )

        errors = self.function.metric_errors(statistic="Sum", period=PERIOD)
        lag = emf("ReservationExpiryLag", "Maximum")
        failures = emf("ReservationExpiryFailures", "Sum")
        action = cw_actions.SnsAction(alarm_topic)
        self.alarms: list[cloudwatch.Alarm] = []
        for alarm_id, suffix, metric, threshold, periods, description in (
            (
                "FunctionErrors",
                "expiry-function-errors",
                errors,
                0,
                1,
                "The reservation expiry function failed (unhandled error, timeout or out of "
                "memory) in the last 5 minutes: unpaid orders may be holding stock.",
            ),
            (
                "Late",
                "reservation-expiry-late",
                lag,
                LATE_SECONDS,
                1,
                f"An order was expired more than {LATE_SECONDS} s after its expires_at (the "
                "contract's bound): the job is behind (a backlog, throttling, or missed runs).",
            ),
            (
                "Failing",
                "reservation-expiry-failing",
                failures,
                0,
                FAILING_PERIODS,
                f"Expiry attempts failed in {FAILING_PERIODS * 5} minutes in a row: an order "
                "that keeps failing keeps its stock (see the job's log lines).",
            ),
        ):
            alarm = cloudwatch.Alarm(
                self,
                alarm_id,
                alarm_name=config.name(f"alarm-{suffix}"),
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=periods,
                # Absent means no run expired or failed anything: good news.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
            self.alarms.append(alarm)

        dashboard.add_widgets(cloudwatch.TextWidget(markdown="## Reservations", width=24, height=1))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Reservations expired / failed",
                left=[
                    emf("ReservationsExpired", "Sum").with_(label="expired"),
                    failures.with_(label="failed"),
                ],
                width=8,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Expiry lag past expires_at (s, max)",
                left=[lag],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=LATE_SECONDS, label="alarm")
                ],
                width=8,
                height=6,
            ),
            cloudwatch.AlarmStatusWidget(
                title="Expiry alarms", alarms=list(self.alarms), width=8, height=6
            ),
        )
