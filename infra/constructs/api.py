"""Compute and API: one Lambda function (FastAPI + Mangum) behind an HTTP API ``$default`` stage."""

from __future__ import annotations

import json

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import bundling
from infra.config import StageConfig
from lambda_app.repository import schema

RUNTIME = lambda_.Runtime.PYTHON_3_14
RUNTIME_PYTHON_VERSION = "3.14"
ARCHITECTURE = lambda_.Architecture.ARM_64
HANDLER = "lambda_app.main.handler"

# Served without a token (the contract's public endpoints); everything else needs a valid JWT.
PUBLIC_ROUTES = ("/health", "/docs", "/redoc", "/openapi.json")
# Every method but OPTIONS, instead of ANY: an ANY route with an authorizer also catches CORS
# preflight requests, which carry no token, and answers them 401, so browsers refuse every
# call. With no route for OPTIONS, API Gateway answers preflights itself from the CORS
# configuration. Every other method still reaches the app (which answers 405 where it should).
PRIVATE_METHODS = (
    apigwv2.HttpMethod.GET,
    apigwv2.HttpMethod.POST,
    apigwv2.HttpMethod.PUT,
    apigwv2.HttpMethod.PATCH,
    apigwv2.HttpMethod.DELETE,
    apigwv2.HttpMethod.HEAD,
)
CORS_ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "If-Match")
CORS_EXPOSE_HEADERS = ("ETag", "Location", "Idempotent-Replayed", "Retry-After", "X-Request-Id")

# The DynamoDB actions the app performs. TransactWriteItems is not an IAM action of its own:
# each item of a transaction is authorized as PutItem, UpdateItem, DeleteItem or
# ConditionCheckItem, so ConditionCheckItem is here and DeleteItem is not (the app deletes
# nothing). The GSIs are only ever queried.
TABLE_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
INDEX_ACTIONS = ("dynamodb:Query",)

# One JSON object per request (CloudWatch Logs Insights parses it without a pattern).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "sub": "$context.authorizer.claims.sub",
    "error": "$context.error.message",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """``IAccessLogSettings`` is an interface (no struct class in Python): implement it."""

    def __init__(
        self, destination: apigwv2.IAccessLogDestination, log_format: apigw.AccessLogFormat
    ) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format


def lambda_code(runtime_python_version: str = RUNTIME_PYTHON_VERSION) -> lambda_.Code:
    """The asset, bundled locally (infra/bundling.py); Docker is only CDK's fallback."""
    compile_with = bundling.find_interpreter(runtime_python_version)
    return lambda_.Code.from_asset(
        str(bundling.REPO_ROOT),
        # Our own hash of exactly the bundler's inputs: CDK never fingerprints the repository.
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=bundling.asset_hash(
            platform="aarch64",
            python_version=runtime_python_version,
            compile_bytecode=compile_with is not None,
        ),
        bundling=cdk.BundlingOptions(
            image=RUNTIME.bundling_image,
            platform="linux/arm64",
            local=bundling.LocalPythonBundling(
                platform="aarch64",
                python_version=runtime_python_version,
                compile_with=compile_with,
            ),
            # Only used if local bundling fails and Docker is present: same dependencies, no
            # pruning or bytecode.
            command=[
                "bash",
                "-c",
                "pip install --no-compile -r requirements/runtime.txt -t /asset-output"
                " && cp -r lambda_app /asset-output/",
            ],
        ),
    )


class Api(Construct):
    """The function, its role and logs, and the HTTP API with its routes and access logs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        table: dynamodb.ITableV2,
        authorizer: authorizers.HttpJwtAuthorizer | authorizers.HttpUserPoolAuthorizer,
        admin_group: str,
        code: lambda_.Code | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        function_name = config.name("api")

        # Signs list cursors (HMAC). Generated by Secrets Manager at deploy time: never in code
        # or in the template. Passed to the function as an environment variable through a
        # CloudFormation dynamic reference, which CloudFormation resolves at deploy time.
        # Trade-off: no Secrets Manager call at cold start (no latency, no extension, no extra
        # IAM), but the value is visible to whoever may call lambda:GetFunctionConfiguration
        # (encrypted at rest with Lambda's key), and a rotated value only takes effect at the
        # next deploy. Acceptable for a key that only protects pagination cursors, which
        # carry no authority of their own (every query is still scoped to the caller).
        self.cursor_secret = secretsmanager.Secret(
            self,
            "CursorSecret",
            secret_name=config.name("cursor-secret"),
            description="HMAC key that signs list cursors of the order API",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=config.removal_policy,
        )
        cdk.Validations.of(self.cursor_secret).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SMG4",
                reason=(
                    "The cursor-signing key reaches the function as a deploy-time dynamic "
                    "reference, so automatic rotation would not reach the running code; rotate "
                    "by redeploying (invalidates outstanding cursors only, by design)."
                ),
            )
        )

        self.log_group = logs.LogGroup(
            self,
            "FunctionLogs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )

        # Exactly what the code needs: no managed policies, no wildcard actions.
        index_arns = [f"{table.table_arn}/index/{index.name}" for index in schema.INDEXES]
        role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="order API function: its table, its log group, X-Ray",
            inline_policies={
                "least-privilege": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="Table",
                            actions=list(TABLE_ACTIONS),
                            resources=[table.table_arn],
                        ),
                        # Each GSI by name rather than index/*: no wildcard to justify, and
                        # the list follows schema.INDEXES.
                        iam.PolicyStatement(
                            sid="Indexes", actions=list(INDEX_ACTIONS), resources=index_arns
                        ),
                        iam.PolicyStatement(
                            sid="Logs",
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[self.log_group.log_group_arn],
                        ),
                        iam.PolicyStatement(
                            sid="XRay",
                            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                            resources=["*"],
                        ),
                    ]
                )
            },
        )
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "Only xray:PutTraceSegments and xray:PutTelemetryRecords, which support no "
                    "resource-level permissions (the X-Ray service authorization reference "
                    "lists no resource types for them); everything else is scoped."
                ),
            )
        )

        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description="order API: FastAPI + Mangum",
            runtime=RUNTIME,
            # Graviton: ~20% cheaper per GB-second than x86_64, and every dependency ships
            # manylinux aarch64 wheels.
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=code or lambda_code(),
            # Lambda allocates CPU in proportion to memory (a full vCPU at 1769 MB). FastAPI's
            # cold start (imports, building pydantic validators) and its per-request work are
            # CPU-bound, so 1024 MB buys visibly shorter cold starts and latency than 256-512 MB
            # for cents per million requests at these tens-of-milliseconds durations. Revisit
            # with Lambda Power Tuning once there is real traffic.
            memory_size=1024,
            # Requests finish in tens of milliseconds; 10 s leaves room for the SDK's DynamoDB
            # retries and stays well under API Gateway's 30 s integration timeout, so a
            # timeout is a clean Lambda error (502) rather than a dangling integration.
            timeout=cdk.Duration.seconds(10),
            # Immutable: the function may not add statements (tracing, logs) to the role; the
            # role above already holds them, exactly.
            role=role.without_policy_updates(),
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "TABLE_NAME": table.table_name,
                "CURSOR_SECRET": self.cursor_secret.secret_value.unsafe_unwrap(),
                "ADMIN_GROUP": admin_group,
            },
        )

        # --- HTTP API -------------------------------------------------------------------------
        cors = None
        if config.cors_origins:
            cors = apigwv2.CorsPreflightOptions(
                allow_origins=list(config.cors_origins),
                allow_methods=[apigwv2.CorsHttpMethod[m.value] for m in PRIVATE_METHODS],
                allow_headers=list(CORS_ALLOW_HEADERS),
                expose_headers=list(CORS_EXPOSE_HEADERS),
                max_age=cdk.Duration.hours(1),
            )
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=config.name("api"),
            description="order API",
            cors_preflight=cors,
            # Our own $default stage below (access logs, throttling): no stage prefix in paths,
            # so /docs and /openapi.json work as FastAPI serves them.
            create_default_stage=False,
        )

        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.throttle_rate_limit,
                burst_limit=config.throttle_burst_limit,
            ),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT)),
            ),
        )

        # One permission for the whole API instead of one per route.
        integration = integrations.HttpLambdaIntegration(
            "Lambda", self.function, scope_permission_to_route=False
        )
        for path in ("/", "/{proxy+}"):
            self.http_api.add_routes(
                path=path,
                methods=list(PRIVATE_METHODS),
                integration=integration,
                authorizer=authorizer,
            )
        for path in PUBLIC_ROUTES:
            routes = self.http_api.add_routes(
                path=path,
                methods=[apigwv2.HttpMethod.GET],
                integration=integration,
                authorizer=apigwv2.HttpNoneAuthorizer(),
            )
            for route in routes:
                cdk.Validations.of(route).acknowledge(
                    cdk.Acknowledgment(
                        id="AwsSolutions-APIG4",
                        reason=(
                            f"GET {path} is public by contract (health check, API docs); it "
                            "reads no customer data. Every other route has the JWT authorizer."
                        ),
                    )
                )

    @property
    def url(self) -> str:
        url = self.stage.url
        assert url is not None
        return url
