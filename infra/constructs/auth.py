"""Who may call the API: a Cognito user pool + app client, or a JWT issuer you bring.

The HTTP API's JWT authorizer verifies the token; the app reads ``sub`` and
``cognito:groups`` from the verified claims (group ``admin`` = staff). With Cognito, the pool
has a hosted-login domain and the app client signs people in on the API's /docs (OAuth 2.0
authorization code, PKCE, no client secret): ``authorizer_for`` makes the client once the API's
URL, its callback, exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.config import StageConfig

ADMIN_GROUP = "admin"
# What /docs asks the hosted login for; the API's routes require no particular scope.
DOCS_SCOPES = (cognito.OAuthScope.OPENID,)
Authorizer = authorizers.HttpJwtAuthorizer | authorizers.HttpUserPoolAuthorizer


@dataclass(frozen=True)
class DocsLogin:
    """What /docs needs to sign people in (the function's DOCS_OAUTH_* settings)."""

    client_id: str
    authorization_url: str
    token_url: str
    scopes: str


class Auth(Construct):
    """Exposes ``authorizer_for`` (for the API) and, with Cognito, ``user_pool``, ``domain``,
    and after that call ``client`` and ``docs_login``."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.admin_group = ADMIN_GROUP
        self.user_pool: cognito.UserPool | None = None
        self.domain: cognito.UserPoolDomain | None = None
        self.client: cognito.UserPoolClient | None = None
        self.docs_login: DocsLogin | None = None
        self._authorizer: Authorizer | None = None

        if not config.uses_cognito:
            # A token of someone else's issuer: /docs offers the bearer scheme only.
            assert config.jwt_issuer is not None
            self._authorizer = authorizers.HttpJwtAuthorizer(
                "JwtAuthorizer",
                config.jwt_issuer,
                jwt_audience=list(config.jwt_audience),
            )
            return

        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=config.name("users"),
            # Staff create accounts (docs/deploy.md); a storefront that wants sign-up turns
            # this on together with its own abuse protection.
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=cdk.Duration.days(3),
            ),
            # Users may enrol an authenticator app (TOTP); SMS is off (cost, SIM swapping).
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            # Threat protection (compromised credentials, adaptive authentication) needs the
            # Plus plan, billed per monthly active user: on in prod, off in dev.
            feature_plan=cognito.FeaturePlan.PLUS
            if config.is_prod
            else cognito.FeaturePlan.ESSENTIALS,
            standard_threat_protection_mode=(
                cognito.StandardThreatProtectionMode.FULL_FUNCTION if config.is_prod else None
            ),
            deletion_protection=config.deletion_protection,
            removal_policy=config.removal_policy,
        )
        cdk.Validations.of(self.user_pool).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-COG2",
                reason=(
                    "MFA is OPTIONAL (TOTP) rather than REQUIRED: customers of a storefront "
                    "cannot be forced through authenticator enrolment; staff accounts enrol TOTP "
                    "(docs/deploy.md) and prod adds Cognito threat protection (Plus plan)."
                ),
            )
        )
        if not config.is_prod:
            for rule in ("AwsSolutions-COG8",):
                cdk.Validations.of(self.user_pool).acknowledge(
                    cdk.Acknowledgment(
                        id=rule,
                        reason=(
                            "dev stage: threat protection needs the Plus feature plan, billed "
                            "per active user with no free tier; prod enables it (FULL_FUNCTION)."
                        ),
                    )
                )

        cognito.UserPoolGroup(
            self,
            "AdminGroup",
            user_pool=self.user_pool,
            group_name=ADMIN_GROUP,
            description="Staff: manage the catalog and every customer's orders.",
        )
        # The hosted login (classic hosted UI; managed login v2 needs a branding resource) at a
        # Cognito prefix domain, unique per Region across all accounts: stage + account id.
        self.domain = self.user_pool.add_domain(
            "LoginDomain",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=cdk.Fn.join("-", [config.name("login"), cdk.Aws.ACCOUNT_ID])
            ),
            managed_login_version=cognito.ManagedLoginVersion.CLASSIC_HOSTED_UI,
        )

    def authorizer_for(self, *, docs_redirect_url: str) -> Authorizer:
        """The API's authorizer. With Cognito this makes the app client, whose callback is the
        API's /docs/oauth2-redirect, and the authorizer that accepts its tokens. Called once, by
        the API, after its URL exists: the client depends on the API and the authorizer on the
        client, never the other way round."""
        if self.user_pool is None:
            assert self._authorizer is not None
            return self._authorizer
        assert self.domain is not None
        assert self.client is None, "authorizer_for makes the app client: call it once"
        self.client = self.user_pool.add_client(
            "ApiClient",
            user_pool_client_name=self.config.name("api-client"),
            # A public client (SPA, CLI, /docs): no secret. USER_PASSWORD_AUTH lets the CLI in
            # docs/deploy.md get a token; SRP is what browser SDKs use.
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),
            # Sign-in on /docs: the authorization code grant only (Swagger UI sends a PKCE
            # challenge with it); no implicit grant, which hands tokens over in the URL.
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=list(DOCS_SCOPES),
                callback_urls=[docs_redirect_url],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=cdk.Duration.hours(1),
            id_token_validity=cdk.Duration.hours(1),
            refresh_token_validity=cdk.Duration.days(30),
        )
        login = self.domain.base_url()
        self.docs_login = DocsLogin(
            client_id=self.client.user_pool_client_id,
            authorization_url=f"{login}/oauth2/authorize",
            token_url=f"{login}/oauth2/token",
            scopes=" ".join(scope.scope_name for scope in DOCS_SCOPES),
        )
        # Cognito access tokens carry the app client id in ``client_id`` (no ``aud``); API
        # Gateway's JWT authorizer checks either against the audience list.
        self._authorizer = authorizers.HttpUserPoolAuthorizer(
            "CognitoAuthorizer",
            self.user_pool,
            user_pool_clients=[self.client],
        )
        return self._authorizer
