"""The synthesized template: what the stack promises, checked on the CloudFormation it emits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_helpers import only, resources

from lambda_app.repository import schema

pytestmark = pytest.mark.xdist_group("infra")

PUBLIC_ROUTE_KEYS = {
    "GET /health",
    "GET /docs",
    "GET /docs/oauth2-redirect",
    "GET /redoc",
    "GET /openapi.json",
}
PRIVATE_ROUTE_KEYS = {
    f"{method} {path}"
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
    for path in ("/", "/{proxy+}")
}


API_HANDLER = "lambda_app.main.handler"
EVENTS_HANDLER = "lambda_app.events.stream.handler"
EXPIRY_HANDLER = "lambda_app.jobs.expire_reservations.handler"


def function(template: dict[str, Any], handler: str) -> dict[str, Any]:
    found = [
        f
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == handler
    ]
    assert len(found) == 1, f"expected one function with handler {handler}"
    return found[0]


def _by_name(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


# --- data -------------------------------------------------------------------------------------


def test_table_keys_and_indexes_match_schema_exactly(dev_json: dict[str, Any]) -> None:
    expected = schema.create_table_input("ignored")
    _, table = only(dev_json, "AWS::DynamoDB::GlobalTable")
    props = table["Properties"]
    assert props["KeySchema"] == expected["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(
        expected["AttributeDefinitions"], key=str
    )
    assert {a["AttributeName"] for a in props["AttributeDefinitions"]} == set(
        schema.key_attribute_names()
    )
    actual_gsis = _by_name(props["GlobalSecondaryIndexes"], "IndexName")
    expected_gsis = _by_name(expected["GlobalSecondaryIndexes"], "IndexName")
    assert actual_gsis == expected_gsis  # names, keys, ALL projection; nothing else
    assert list(actual_gsis) == [index.name for index in schema.INDEXES]


def test_table_billing_ttl_stream_encryption_pitr(dev_json: dict[str, Any]) -> None:
    _, table = only(dev_json, "AWS::DynamoDB::GlobalTable")
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {
        "AttributeName": schema.TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert props["StreamSpecification"] == {"StreamViewType": schema.STREAM_VIEW_TYPE}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"
    (replica,) = props["Replicas"]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_dev_is_disposable(dev_json: dict[str, Any]) -> None:
    _, table = only(dev_json, "AWS::DynamoDB::GlobalTable")
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"]["Replicas"][0]["DeletionProtectionEnabled"] is False


def test_prod_retains_and_protects_data(prod_json: dict[str, Any]) -> None:
    _, table = only(prod_json, "AWS::DynamoDB::GlobalTable")
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    (replica,) = table["Properties"]["Replicas"]
    assert replica["DeletionProtectionEnabled"] is True
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    _, pool = only(prod_json, "AWS::Cognito::UserPool")
    assert pool["DeletionPolicy"] == "Retain"
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"
    assert pool["Properties"]["UserPoolTier"] == "PLUS"
    assert pool["Properties"]["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    for _, log_group in resources(prod_json, "AWS::Logs::LogGroup").items():
        assert log_group["DeletionPolicy"] == "Retain"


def test_names_are_prefixed_by_stage(dev_json: dict[str, Any], prod_json: dict[str, Any]) -> None:
    for stage, template in (("dev", dev_json), ("prod", prod_json)):
        _, table = only(template, "AWS::DynamoDB::GlobalTable")
        assert table["Properties"]["TableName"].startswith(f"{stage}-")
        for fn in resources(template, "AWS::Lambda::Function").values():
            assert fn["Properties"]["FunctionName"].startswith(f"{stage}-")


# --- compute ----------------------------------------------------------------------------------


def test_functions_arm64_python313_traced_one_asset(dev_json: dict[str, Any]) -> None:
    functions = resources(dev_json, "AWS::Lambda::Function")
    assert {f["Properties"]["Handler"] for f in functions.values()} == {
        API_HANDLER,
        EVENTS_HANDLER,
        EXPIRY_HANDLER,
    }
    for fn in functions.values():
        props = fn["Properties"]
        assert props["Architectures"] == ["arm64"]
        assert props["Runtime"] == "python3.13"
        assert props["TracingConfig"] == {"Mode": "Active"}
    assert len({json.dumps(f["Properties"]["Code"]) for f in functions.values()}) == 1
    api = function(dev_json, API_HANDLER)["Properties"]
    assert api["MemorySize"] == 1024
    assert 3 <= api["Timeout"] < 30  # below API Gateway's 30 s integration timeout


def test_function_environment(dev_json: dict[str, Any]) -> None:
    table_id, _ = only(dev_json, "AWS::DynamoDB::GlobalTable")
    secret_id, _ = only(dev_json, "AWS::SecretsManager::Secret")
    env = function(dev_json, API_HANDLER)["Properties"]["Environment"]["Variables"]
    assert set(env) == {
        "TABLE_NAME",
        "CURSOR_SECRET",
        "ADMIN_GROUP",
        "METRICS_NAMESPACE",
        "LOG_LEVEL",
        "RESERVATION_MINUTES",
        # Sign-in on /docs: tests/infra/test_infra_docs_login.py
        "DOCS_OAUTH_CLIENT_ID",
        "DOCS_OAUTH_AUTHORIZATION_URL",
        "DOCS_OAUTH_TOKEN_URL",
        "DOCS_OAUTH_SCOPES",
    }
    assert env["TABLE_NAME"] == {"Ref": table_id}
    assert env["RESERVATION_MINUTES"] == "30"
    assert env["ADMIN_GROUP"] == "admin"
    assert env["METRICS_NAMESPACE"] == "OrderService/dev"
    assert env["LOG_LEVEL"] == "INFO"
    # A deploy-time dynamic reference to the generated secret: never a literal value.
    assert env["CURSOR_SECRET"] == {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": secret_id}, ":SecretString:::}}"]]
    }
    _, secret = only(dev_json, "AWS::SecretsManager::Secret")
    assert "GenerateSecretString" in secret["Properties"]
    assert "SecretString" not in secret["Properties"]


def test_functions_log_to_their_own_log_groups_with_retention(dev_json: dict[str, Any]) -> None:
    for fn in resources(dev_json, "AWS::Lambda::Function").values():
        log_group_ref = fn["Properties"]["LoggingConfig"]["LogGroup"]
        log_group = dev_json["Resources"][log_group_ref["Ref"]]
        assert log_group["Properties"]["RetentionInDays"] == 7
        name = fn["Properties"]["FunctionName"]
        assert log_group["Properties"]["LogGroupName"] == f"/aws/lambda/{name}"


def test_stream_consumer(dev_json: dict[str, Any]) -> None:
    table_id, _ = only(dev_json, "AWS::DynamoDB::GlobalTable")
    queue_id, queue = only(dev_json, "AWS::SQS::Queue")
    bus_id, _ = only(dev_json, "AWS::Events::EventBus")
    _, mapping = only(dev_json, "AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["ParallelizationFactor"] == 1
    assert 0 < props["MaximumRetryAttempts"] <= 10
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [queue_id, "Arn"]
    }
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    env = function(dev_json, EVENTS_HANDLER)["Properties"]["Environment"]["Variables"]
    assert env == {
        "EVENT_BUS_NAME": {"Ref": bus_id},
        "METRICS_NAMESPACE": "OrderService/dev",
        "LOG_LEVEL": "INFO",
    }


# --- IAM --------------------------------------------------------------------------------------


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in role["Properties"].get("Policies", []):
        found += policy["PolicyDocument"]["Statement"]
    return found


def _role_of(template: dict[str, Any], handler: str) -> dict[str, Any]:
    role_id = function(template, handler)["Properties"]["Role"]["Fn::GetAtt"][0]
    return template["Resources"][role_id]  # type: ignore[no-any-return]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_managed_policies_and_one_role_per_function(dev_json: dict[str, Any]) -> None:
    roles = resources(dev_json, "AWS::IAM::Role")
    functions = resources(dev_json, "AWS::Lambda::Function").values()
    assert len(roles) == len(functions), sorted(roles)
    assert {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions} == set(roles)
    for role in roles.values():
        assert "ManagedPolicyArns" not in role["Properties"]
    assert not resources(dev_json, "AWS::IAM::Policy")
    assert not resources(dev_json, "AWS::IAM::ManagedPolicy")


# X-Ray's write actions and DynamoDB's ListStreams have no resource-level permissions.
STAR_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}


def test_iam_no_wildcard_actions(dev_json: dict[str, Any]) -> None:
    for role in resources(dev_json, "AWS::IAM::Role").values():
        for statement in _statements(role):
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement and "NotResource" not in statement
            actions = _as_list(statement["Action"])
            for action in actions:
                assert "*" not in action, f"wildcard action {action}"
            if "*" in _as_list(statement["Resource"]):
                assert set(actions) <= STAR_ACTIONS, actions


def _grants(role: dict[str, Any], prefix: str) -> dict[str, list[Any]]:
    """action -> resources, for the actions of one service."""
    grants: dict[str, list[Any]] = {}
    for statement in _statements(role):
        for action in _as_list(statement["Action"]):
            if action.startswith(prefix):
                grants.setdefault(action, []).extend(_as_list(statement["Resource"]))
    return grants


def test_api_role_least_privilege(dev_json: dict[str, Any]) -> None:
    table_id, _ = only(dev_json, "AWS::DynamoDB::GlobalTable")
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}
    index_arns = [
        {"Fn::Join": ["", [table_arn, f"/index/{index.name}"]]} for index in schema.LIST_INDEXES
    ]
    role = _role_of(dev_json, API_HANDLER)
    grants = _grants(role, "dynamodb:")
    assert grants == {
        "dynamodb:BatchGetItem": [table_arn],
        "dynamodb:ConditionCheckItem": [table_arn],
        "dynamodb:GetItem": [table_arn],
        "dynamodb:PutItem": [table_arn],
        "dynamodb:Query": [table_arn, *index_arns],  # indexes are only ever queried
        "dynamodb:UpdateItem": [table_arn],
    }
    services = {a.split(":")[0] for s in _statements(role) for a in _as_list(s["Action"])}
    assert services == {"dynamodb", "logs", "xray"}


def test_events_role_least_privilege(dev_json: dict[str, Any]) -> None:
    table_id, _ = only(dev_json, "AWS::DynamoDB::GlobalTable")
    bus_id, _ = only(dev_json, "AWS::Events::EventBus")
    queue_id, _ = only(dev_json, "AWS::SQS::Queue")
    stream_arn = {"Fn::GetAtt": [table_id, "StreamArn"]}
    role = _role_of(dev_json, EVENTS_HANDLER)
    assert _grants(role, "dynamodb:") == {
        "dynamodb:DescribeStream": [stream_arn],
        "dynamodb:GetRecords": [stream_arn],
        "dynamodb:GetShardIterator": [stream_arn],
        "dynamodb:ListStreams": ["*"],
    }
    assert _grants(role, "events:") == {"events:PutEvents": [{"Fn::GetAtt": [bus_id, "Arn"]}]}
    assert _grants(role, "sqs:") == {"sqs:SendMessage": [{"Fn::GetAtt": [queue_id, "Arn"]}]}
    services = {a.split(":")[0] for s in _statements(role) for a in _as_list(s["Action"])}
    assert services == {"dynamodb", "events", "sqs", "logs", "xray"}


# --- API --------------------------------------------------------------------------------------


def test_routes_and_authorizers(dev_json: dict[str, Any]) -> None:
    authorizer_id, authorizer = only(dev_json, "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in resources(dev_json, "AWS::ApiGatewayV2::Route").values()
    }
    assert set(routes) == PUBLIC_ROUTE_KEYS | PRIVATE_ROUTE_KEYS
    for key in PRIVATE_ROUTE_KEYS:
        assert routes[key]["AuthorizationType"] == "JWT", key
        assert routes[key]["AuthorizerId"] == {"Ref": authorizer_id}, key
    for key in PUBLIC_ROUTE_KEYS:
        assert routes[key]["AuthorizationType"] == "NONE", key
        assert "AuthorizerId" not in routes[key], key


def test_cors_preflight_is_left_to_api_gateway(dev_json: dict[str, Any]) -> None:
    """An ANY or OPTIONS route with the authorizer would answer browsers' preflights 401."""
    for route in resources(dev_json, "AWS::ApiGatewayV2::Route").values():
        method = route["Properties"]["RouteKey"].split(" ", 1)[0]
        assert method not in ("ANY", "OPTIONS"), route["Properties"]["RouteKey"]


def test_cognito_authorizer_trusts_the_pool_and_client(dev_json: dict[str, Any]) -> None:
    pool_id, _ = only(dev_json, "AWS::Cognito::UserPool")
    client_id, client = only(dev_json, "AWS::Cognito::UserPoolClient")
    _, authorizer = only(dev_json, "AWS::ApiGatewayV2::Authorizer")
    jwt = authorizer["Properties"]["JwtConfiguration"]
    assert jwt["Audience"] == [{"Ref": client_id}]
    assert {"Ref": pool_id} in jwt["Issuer"]["Fn::Join"][1]
    flows = set(client["Properties"]["ExplicitAuthFlows"])
    assert {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"} <= flows
    assert client["Properties"].get("GenerateSecret") in (None, False)
    (group,) = resources(dev_json, "AWS::Cognito::UserPoolGroup").values()
    assert group["Properties"]["GroupName"] == "admin"


def test_password_policy_is_strong(dev_json: dict[str, Any]) -> None:
    _, pool = only(dev_json, "AWS::Cognito::UserPool")
    policy = pool["Properties"]["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    for rule in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"):
        assert policy[rule] is True


def test_default_stage_throttling_and_json_access_logs(dev_json: dict[str, Any]) -> None:
    _, stage = only(dev_json, "AWS::ApiGatewayV2::Stage")
    props = stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    assert props["DefaultRouteSettings"]["ThrottlingBurstLimit"] > 0
    log_format = json.loads(props["AccessLogSettings"]["Format"])
    assert log_format["requestId"] == "$context.requestId"
    assert log_format["status"] == "$context.status"
    log_group_id = props["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
    assert dev_json["Resources"][log_group_id]["Properties"]["RetentionInDays"] > 0
    # Our own $default stage only: no second (prefixed) stage.
    assert len(resources(dev_json, "AWS::ApiGatewayV2::Stage")) == 1


def test_cors(dev_json: dict[str, Any]) -> None:
    _, api = only(dev_json, "AWS::ApiGatewayV2::Api")
    cors = api["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == ["http://localhost:3000"]
    assert set(cors["AllowHeaders"]) == {
        "Authorization",
        "Content-Type",
        "Idempotency-Key",
        "If-Match",
    }
    assert set(cors["ExposeHeaders"]) == {
        "ETag",
        "Location",
        "Idempotent-Replayed",
        "Retry-After",
        "X-Request-Id",
    }


def test_prod_has_no_cors_unless_configured(prod_json: dict[str, Any]) -> None:
    _, api = only(prod_json, "AWS::ApiGatewayV2::Api")
    assert "CorsConfiguration" not in api["Properties"]


def test_outputs(dev_json: dict[str, Any]) -> None:
    assert set(dev_json["Outputs"]) == {
        "ApiUrl",
        "UserPoolId",
        "UserPoolClientId",
        "TableName",
        "EventBusName",
        "AlarmTopicArn",
    }


def test_lambda_permission_limited_to_this_api(dev_json: dict[str, Any]) -> None:
    api_id, _ = only(dev_json, "AWS::ApiGatewayV2::Api")
    (permission,) = [  # the expiry schedule's is in test_infra_expiry.py
        p
        for p in resources(dev_json, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert {"Ref": api_id} in permission["Properties"]["SourceArn"]["Fn::Join"][1]


def test_bring_your_own_identity_provider(options_json: dict[str, Any]) -> None:
    template = options_json
    assert not resources(template, "AWS::Cognito::UserPool")
    _, authorizer = only(template, "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["Properties"]["JwtConfiguration"] == {
        "Audience": ["orders-api", "orders-admin"],
        "Issuer": "https://issuer.example.com/",
    }
    assert set(template["Outputs"]) == {"ApiUrl", "TableName", "EventBusName", "AlarmTopicArn"}
    _, api = only(template, "AWS::ApiGatewayV2::Api")
    assert api["Properties"]["CorsConfiguration"]["AllowOrigins"] == [
        "https://shop.example.com",
        "https://admin.example.com",
    ]


def test_log_level_from_context(options_json: dict[str, Any]) -> None:
    for fn in resources(options_json, "AWS::Lambda::Function").values():
        assert fn["Properties"]["Environment"]["Variables"]["LOG_LEVEL"] == "DEBUG"
