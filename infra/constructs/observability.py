"""Alarms, their SNS topic, and one dashboard: what is wrong now, and how the shop is doing.

Every alarm notifies the topic when it fires and when it recovers. Thresholds are module
constants so docs/deploy.md ("Alarms and dashboard") and the tests can name them.

Two sources of metrics:
- AWS's own (API Gateway, Lambda, DynamoDB, SQS): they exist whatever the code does, and they
  see failures the code never sees (API Gateway's own 5xx, throttled or timed-out invocations).
- our EMF metrics (``lambda_app/observability/metrics.py``), in the stage's namespace
  (``StageConfig.metrics_namespace``, passed to both functions as ``METRICS_NAMESPACE``):
  business figures, and ``EventPublishFailures`` of the stream handler.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StageConfig
from lambda_app.repository import schema

# The ``Service`` dimension each function writes (lambda_app/api/app.py, events/stream.py).
API_SERVICE = "order-api"
EVENTS_SERVICE = "order-events"

PERIOD = cdk.Duration.minutes(5)
# API: share of requests answered 5xx (API Gateway's count: includes its own 500/502/503/504
# for failed, throttled or timed-out invocations, which the app's Http5xx cannot see) ...
API_5XX_RATE_PERCENT = 5
# ... over at least this many requests in the period, so that one error among three requests
# in a quiet dev stack is not a 33% "outage" (Lambda errors still alarm on their own).
API_5XX_MIN_REQUESTS = 10
# p99 of API Gateway's Latency (the whole request as the client sees it) for 3 periods in a
# row. Warm requests take tens of ms; one cold start per period cannot hold p99 up for 15 min
# unless traffic is very low, a slow DynamoDB or timeouts (10 s) can.
API_LATENCY_P99_MS = 2000
API_LATENCY_PERIODS = 3
# The stream function's IteratorAge (Maximum): how far behind the newest table change it is.
ITERATOR_AGE_MS = 60_000
# DynamoDB operations the API performs, for SystemErrors (a metric per TableName+Operation).
TABLE_OPERATIONS = (
    "BatchGetItem",
    "GetItem",
    "PutItem",
    "Query",
    "TransactWriteItems",
    "UpdateItem",
)

# EMF metrics the dashboard shows (names as lambda_app writes them).
BUSINESS_COUNTS = ("OrdersPlaced", "OrdersCancelled", "IdempotentReplays", "StockOuts")


def _sum(metric: cloudwatch.Metric) -> cloudwatch.Metric:
    return metric.with_(statistic="Sum", period=PERIOD)


class Observability(Construct):
    """The alarm topic (KMS-encrypted, TLS only), the alarms, and the dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        http_api: apigwv2.IHttpApi,
        api_function: lambda_.IFunction,
        events_function: lambda_.IFunction,
        table: dynamodb.ITableV2,
        failures: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.namespace = config.metrics_namespace
        stack = cdk.Stack.of(self)
        alarm_prefix = config.name("alarm-")

        # --- topic ------------------------------------------------------------------------
        # CloudWatch can only publish to an encrypted topic whose key lets the CloudWatch
        # service use it, and the AWS-managed aws/sns key's policy cannot be changed: hence a
        # key of our own ($1 a month), rotated yearly, that encrypts nothing but this topic.
        self.key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"{config.stage} order service: encrypts the alarm topic",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
            pending_window=cdk.Duration.days(7),
        )
        # The grant SNS's documentation gives for CloudWatch and encrypted topics; who may
        # publish (alarms of this account with our prefix) is decided by the topic policy.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=config.name("alarms"),
            display_name=f"{config.stage} order service alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        # With a topic policy in place (enforce_ssl creates one), a service principal needs an
        # explicit allow. Scoped to this account's alarms with our name prefix (confused
        # deputy: CloudWatch documents aws:SourceArn / aws:SourceAccount for this).
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name=f"{alarm_prefix}*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
        if config.alarm_email:
            # Email subscriptions must be confirmed from the message AWS sends.
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))

        # --- metrics ----------------------------------------------------------------------
        requests = _sum(http_api.metric_count())
        server_errors = _sum(http_api.metric_server_error())
        client_errors = _sum(http_api.metric_client_error())
        self.api_5xx_rate = cloudwatch.MathExpression(
            expression=(f"IF(requests >= {API_5XX_MIN_REQUESTS}, 100 * errors / requests, 0)"),
            using_metrics={"requests": requests, "errors": server_errors},
            label="5xx (% of requests)",
            period=PERIOD,
        )
        latency_p50 = http_api.metric_latency(statistic="p50", period=PERIOD)
        latency_p99 = http_api.metric_latency(statistic="p99", period=PERIOD)
        integration_p99 = http_api.metric_integration_latency(statistic="p99", period=PERIOD)

        # Throttle events of the table and of each GSI (an index throttles its base table's
        # writes; our status and catalog indexes are sharded to avoid exactly that). DynamoDB
        # only publishes these when they happen: FILL turns gaps into zeros before adding.
        throttle_metrics: dict[str, cloudwatch.IMetric] = {}
        for n, index in enumerate([None, *(i.name for i in schema.INDEXES)]):
            dimensions = {"TableName": table.table_name}
            if index is not None:
                dimensions["GlobalSecondaryIndexName"] = index
            for kind in ("Read", "Write"):
                throttle_metrics[f"{kind[0].lower()}{n}"] = cloudwatch.Metric(
                    namespace="AWS/DynamoDB",
                    metric_name=f"{kind}ThrottleEvents",
                    dimensions_map=dimensions,
                    statistic="Sum",
                    period=PERIOD,
                )
        self.table_throttles = _fill_sum(throttle_metrics, "throttle events (table + GSIs)")
        self.table_system_errors = _fill_sum(
            {
                f"e{n}": cloudwatch.Metric(
                    namespace="AWS/DynamoDB",
                    metric_name="SystemErrors",
                    dimensions_map={"TableName": table.table_name, "Operation": operation},
                    statistic="Sum",
                    period=PERIOD,
                )
                for n, operation in enumerate(TABLE_OPERATIONS)
            },
            "system errors",
        )
        dlq_depth = failures.metric_approximate_number_of_messages_visible(
            statistic="Maximum", period=PERIOD
        )
        iterator_age = events_function.metric("IteratorAge", statistic="Maximum", period=PERIOD)
        publish_failures = self.emf("EventPublishFailures", EVENTS_SERVICE)

        # --- alarms -----------------------------------------------------------------------
        action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(
            construct_id: str,
            suffix: str,
            metric: cloudwatch.IMetric,
            *,
            threshold: float,
            description: str,
            periods: int = 1,
            datapoints: int | None = None,
            missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        ) -> cloudwatch.Alarm | None:
            # Not in a local emulator that cannot create them (StageConfig.metric_math_alarms).
            if isinstance(metric, cloudwatch.MathExpression) and not config.metric_math_alarms:
                return None
            created = cloudwatch.Alarm(
                self,
                construct_id,
                alarm_name=f"{alarm_prefix}{suffix}",
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=periods,
                datapoints_to_alarm=datapoints,
                treat_missing_data=missing,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms.append(created)
            return created

        # NOT_BREACHING throughout: every one of these metrics is absent exactly when nothing
        # happened (no requests, no invocations, no throttling, an empty queue), which is
        # good news, never a reason to fire. "Too quiet" is not something we alarm on.
        alarm(
            "Api5xxRate",
            "api-5xx-rate",
            self.api_5xx_rate,
            threshold=API_5XX_RATE_PERCENT,
            description=(
                f"More than {API_5XX_RATE_PERCENT}% of API requests answered 5xx in 5 minutes "
                f"(with at least {API_5XX_MIN_REQUESTS} requests)."
            ),
        )
        alarm(
            "ApiLatencyP99",
            "api-latency-p99",
            latency_p99,
            threshold=API_LATENCY_P99_MS,
            periods=API_LATENCY_PERIODS,
            description=(
                f"API p99 latency above {API_LATENCY_P99_MS} ms for "
                f"{API_LATENCY_PERIODS * 5} minutes."
            ),
        )
        for fn_id, fn, name in (
            ("Api", api_function, "api"),
            ("Events", events_function, "events"),
        ):
            alarm(
                f"{fn_id}FunctionErrors",
                f"{name}-function-errors",
                _sum(fn.metric_errors()),
                threshold=0,
                description=(
                    f"The {name} function failed (unhandled error, timeout or out of memory) "
                    "in the last 5 minutes."
                ),
            )
            alarm(
                f"{fn_id}FunctionThrottles",
                f"{name}-function-throttles",
                _sum(fn.metric_throttles()),
                threshold=0,
                description=(
                    f"Invocations of the {name} function were throttled (account or reserved "
                    "concurrency exhausted) in the last 5 minutes."
                ),
            )
        alarm(
            "TableThrottles",
            "table-throttles",
            self.table_throttles,
            threshold=0,
            periods=3,
            datapoints=2,
            description=(
                "DynamoDB throttled reads or writes (table or an index) in 2 of the last 3 "
                "5-minute periods: a hot partition, or traffic above twice its previous peak."
            ),
        )
        alarm(
            "TableSystemErrors",
            "table-system-errors",
            self.table_system_errors,
            threshold=0,
            description="DynamoDB answered requests with 500 (SystemErrors) in 5 minutes.",
        )
        alarm(
            "EventsDlqDepth",
            "events-dlq-not-empty",
            dlq_depth,
            threshold=0,
            description=(
                "Stream records failed for good: their description is in the failure queue; "
                "replay from the table (docs/deploy.md, Order events)."
            ),
        )
        alarm(
            "EventsIteratorAge",
            "events-iterator-age",
            iterator_age,
            threshold=ITERATOR_AGE_MS,
            description=(
                f"Order events lag more than {ITERATOR_AGE_MS // 1000} s behind the table "
                "(the stream function is failing, throttled or too slow)."
            ),
        )
        alarm(
            "EventPublishFailures",
            "event-publish-failures",
            publish_failures,
            threshold=0,
            description="EventBridge refused order events (PutEvents failures) in 5 minutes.",
        )

        # --- dashboard --------------------------------------------------------------------
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=config.stack_name,
            default_interval=cdk.Duration.hours(6),
        )
        placed = self.emf("OrdersPlaced", API_SERVICE)
        cancelled = self.emf("OrdersCancelled", API_SERVICE)
        fns = (("api", api_function), ("events", events_function))
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=list(self.alarms), width=24, height=3
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(markdown="## Business", width=24, height=1)
        )
        self.dashboard.add_widgets(
            cloudwatch.SingleValueWidget(
                title="Orders in the time range",
                metrics=[
                    placed.with_(label="placed"),
                    cancelled.with_(label="cancelled"),
                ],
                set_period_to_time_range=True,
                width=6,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Orders placed / cancelled",
                left=[placed.with_(label="placed"), cancelled.with_(label="cancelled")],
                width=6,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Order value by currency (minor units)",
                left=[self.search("OrderValue", "Currency", API_SERVICE)],
                width=6,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Idempotent replays / stock-outs",
                left=[
                    self.emf("IdempotentReplays", API_SERVICE).with_(label="replays"),
                    self.emf("StockOuts", API_SERVICE).with_(label="stock-outs"),
                ],
                width=6,
                height=6,
            ),
        )
        self.dashboard.add_widgets(cloudwatch.TextWidget(markdown="## API", width=24, height=1))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Requests, 4xx, 5xx",
                left=[
                    requests.with_(label="requests"),
                    client_errors.with_(label="4xx"),
                    server_errors.with_(label="5xx"),
                ],
                right=[self.api_5xx_rate],
                width=8,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Latency (ms)",
                left=[
                    latency_p50.with_(label="p50"),
                    latency_p99.with_(label="p99"),
                    integration_p99.with_(label="integration p99"),
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=API_LATENCY_P99_MS, label="alarm")
                ],
                width=8,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="App 4xx / 5xx by route",
                left=[
                    self.search("Http5xx", "Route", API_SERVICE),
                    self.search("Http4xx", "Route", API_SERVICE),
                ],
                width=8,
                height=6,
            ),
        )
        self.dashboard.add_widgets(cloudwatch.TextWidget(markdown="## Lambda", width=24, height=1))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Duration p50 / p99 (ms)",
                left=[
                    fn.metric_duration(statistic=stat, period=PERIOD).with_(label=f"{name} {stat}")
                    for name, fn in fns
                    for stat in ("p50", "p99")
                ],
                width=8,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Errors / throttles",
                left=[
                    _sum(metric).with_(label=f"{name} {what}")
                    for name, fn in fns
                    for what, metric in (
                        ("errors", fn.metric_errors()),
                        ("throttles", fn.metric_throttles()),
                    )
                ],
                width=8,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Concurrent executions (max)",
                left=[
                    fn.metric("ConcurrentExecutions", statistic="Maximum", period=PERIOD).with_(
                        label=name
                    )
                    for name, fn in fns
                ],
                width=8,
                height=6,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(markdown="## DynamoDB and order events", width=24, height=1)
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Consumed capacity units",
                left=[
                    _sum(table.metric_consumed_read_capacity_units()).with_(label="read"),
                    _sum(table.metric_consumed_write_capacity_units()).with_(label="write"),
                ],
                width=6,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Throttles / system errors",
                left=[self.table_throttles, self.table_system_errors],
                width=6,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Events published / failed; failure queue",
                left=[
                    self.emf("EventsPublished", EVENTS_SERVICE).with_(label="published"),
                    publish_failures.with_(label="publish failures"),
                ],
                right=[dlq_depth.with_(label="failure queue depth")],
                width=6,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Stream iterator age (ms, max)",
                left=[iterator_age],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=ITERATOR_AGE_MS, label="alarm")
                ],
                width=6,
                height=6,
            ),
        )

    def emf(self, name: str, service: str) -> cloudwatch.Metric:
        """One of our EMF counters (dimension ``Service`` only), summed per period."""
        return cloudwatch.Metric(
            namespace=self.namespace,
            metric_name=name,
            dimensions_map={"Service": service},
            statistic="Sum",
            period=PERIOD,
        )

    def search(self, name: str, dimension: str, service: str) -> cloudwatch.MathExpression:
        """Every series of an EMF metric with an open-ended dimension (a currency, a route)."""
        return cloudwatch.MathExpression(
            expression=(
                f'SEARCH(\'{{"{self.namespace}",Service,{dimension}}} '
                f'MetricName="{name}" Service="{service}"\', \'Sum\', {PERIOD.to_seconds()})'
            ),
            using_metrics={},
            label="",
            period=PERIOD,
        )


def _fill_sum(metrics: dict[str, cloudwatch.IMetric], label: str) -> cloudwatch.MathExpression:
    """The sum of metrics that are only published when non-zero."""
    terms: Sequence[str] = [f"FILL({key}, 0)" for key in metrics]
    return cloudwatch.MathExpression(
        expression=" + ".join(terms), using_metrics=metrics, label=label, period=PERIOD
    )
