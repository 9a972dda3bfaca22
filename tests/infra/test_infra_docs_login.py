"""Sign-in on the deployed /docs, read off the synthesized template.

The user pool has a hosted-login domain; the app client signs people in with the authorization
code grant only (Swagger UI adds PKCE), has no secret, and calls back to the API's own
/docs/oauth2-redirect, which is public; the JWT authorizer accepts that client's tokens; and
the function is told where the login is. With a bring-your-own issuer there is none of it.
"""

from __future__ import annotations

from typing import Any

import pytest
from infra_helpers import only, resources

pytestmark = pytest.mark.xdist_group("infra")

API_HANDLER = "lambda_app.main.handler"
DOCS_SETTINGS = {
    "DOCS_OAUTH_CLIENT_ID",
    "DOCS_OAUTH_AUTHORIZATION_URL",
    "DOCS_OAUTH_TOKEN_URL",
    "DOCS_OAUTH_SCOPES",
}


def render(value: Any) -> str:
    """A template value as text: intrinsic functions become ``${...}`` placeholders, so two
    values built from the same parts render the same."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part) for part in parts)
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return "${" + value["Ref"] + "}"
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"cannot render {value!r}")


def api_environment(template: dict[str, Any]) -> dict[str, Any]:
    (function,) = [
        f
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == API_HANDLER
    ]
    return function["Properties"]["Environment"]["Variables"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_pool_has_a_hosted_login_domain(
    stage: str, dev_json: dict[str, Any], prod_json: dict[str, Any]
) -> None:
    template = dev_json if stage == "dev" else prod_json
    pool_id, _ = only(template, "AWS::Cognito::UserPool")
    _, domain = only(template, "AWS::Cognito::UserPoolDomain")
    props = domain["Properties"]
    assert props["UserPoolId"] == {"Ref": pool_id}
    # A Cognito prefix domain (no certificate, no custom resource), the classic hosted UI.
    assert "CustomDomainConfig" not in props
    assert props["ManagedLoginVersion"] == 1
    assert render(props["Domain"]) == f"{stage}-orders-login-${{AWS::AccountId}}"


def test_the_client_calls_back_to_the_apis_docs(dev_json: dict[str, Any]) -> None:
    _, client = only(dev_json, "AWS::Cognito::UserPoolClient")
    (callback,) = client["Properties"]["CallbackURLs"]
    api_url = render(dev_json["Outputs"]["ApiUrl"]["Value"])
    assert api_url.endswith("/")
    assert render(callback) == api_url + "docs/oauth2-redirect"


def test_the_client_is_public_and_uses_the_code_grant_only(dev_json: dict[str, Any]) -> None:
    _, client = only(dev_json, "AWS::Cognito::UserPoolClient")
    props = client["Properties"]
    assert props["GenerateSecret"] is False
    assert props["AllowedOAuthFlowsUserPoolClient"] is True
    assert props["AllowedOAuthFlows"] == ["code"]  # no "implicit", no "client_credentials"
    assert props["AllowedOAuthScopes"] == ["openid"]
    assert props["SupportedIdentityProviders"] == ["COGNITO"]
    assert not props.get("LogoutURLs")


def test_the_authorizer_accepts_that_clients_tokens(dev_json: dict[str, Any]) -> None:
    pool_id, _ = only(dev_json, "AWS::Cognito::UserPool")
    client_id, _ = only(dev_json, "AWS::Cognito::UserPoolClient")
    _, authorizer = only(dev_json, "AWS::ApiGatewayV2::Authorizer")
    jwt = authorizer["Properties"]["JwtConfiguration"]
    # Access tokens carry the client id in client_id, which the authorizer checks as audience.
    assert jwt["Audience"] == [{"Ref": client_id}]
    assert (
        render(jwt["Issuer"])
        == f"https://cognito-idp.${{AWS::Region}}.amazonaws.com/${{{pool_id}}}"
    )


def test_the_redirect_page_is_public(dev_json: dict[str, Any]) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in resources(dev_json, "AWS::ApiGatewayV2::Route").values()
    }
    assert routes["GET /docs/oauth2-redirect"]["AuthorizationType"] == "NONE"


def test_the_function_knows_the_login(dev_json: dict[str, Any]) -> None:
    client_id, _ = only(dev_json, "AWS::Cognito::UserPoolClient")
    domain_id, _ = only(dev_json, "AWS::Cognito::UserPoolDomain")
    env = api_environment(dev_json)
    assert env["DOCS_OAUTH_CLIENT_ID"] == {"Ref": client_id}
    login = f"https://${{{domain_id}}}.auth.${{AWS::Region}}.amazoncognito.com"
    assert render(env["DOCS_OAUTH_AUTHORIZATION_URL"]) == f"{login}/oauth2/authorize"
    assert render(env["DOCS_OAUTH_TOKEN_URL"]) == f"{login}/oauth2/token"
    assert env["DOCS_OAUTH_SCOPES"] == "openid"


def test_bring_your_own_issuer_offers_the_bearer_scheme_only(options_json: dict[str, Any]) -> None:
    assert not resources(options_json, "AWS::Cognito::UserPoolDomain")
    assert not resources(options_json, "AWS::Cognito::UserPoolClient")
    assert not DOCS_SETTINGS & set(api_environment(options_json))
