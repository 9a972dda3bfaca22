"""The order service stack: wires the constructs together, nothing else."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.api import Api
from infra.constructs.auth import Auth
from infra.constructs.compute import lambda_code
from infra.constructs.data import Data
from infra.constructs.events import OrderEvents
from infra.constructs.expiry import ReservationExpiry
from infra.constructs.observability import Observability


class OrderServiceStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        code: lambda_.Code | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        cdk.Tags.of(self).add("service", "order-api")
        cdk.Tags.of(self).add("stage", config.stage)

        # One asset for every function (bundled once).
        code = code or lambda_code(self, config)
        self.data = Data(self, "Data", config=config)
        self.auth = Auth(self, "Auth", config=config)
        self.api = Api(
            self,
            "Api",
            config=config,
            table=self.data.table,
            auth=self.auth,
            code=code,
        )
        self.events = OrderEvents(self, "Events", config=config, table=self.data.table, code=code)
        self.observability = Observability(
            self,
            "Observability",
            config=config,
            http_api=self.api.http_api,
            api_function=self.api.function,
            events_function=self.events.function,
            table=self.data.table,
            failures=self.events.failures,
        )
        self.expiry = ReservationExpiry(
            self,
            "Expiry",
            config=config,
            table=self.data.table,
            code=code,
            alarm_topic=self.observability.topic,
            dashboard=self.observability.dashboard,
        )

        cdk.CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the API")
        cdk.CfnOutput(self, "TableName", value=self.data.table.table_name)
        cdk.CfnOutput(self, "EventBusName", value=self.events.bus.event_bus_name)
        cdk.CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.observability.topic.topic_arn,
            description="SNS topic every alarm notifies: subscribe to it (docs/deploy.md)",
        )
        if self.auth.user_pool is not None and self.auth.client is not None:
            cdk.CfnOutput(self, "UserPoolId", value=self.auth.user_pool.user_pool_id)
            cdk.CfnOutput(self, "UserPoolClientId", value=self.auth.client.user_pool_client_id)
