"""CDK entry point: ``npx cdk synth|deploy -c stage=dev|prod`` (see cdk.json, docs/deploy.md)."""

from __future__ import annotations

import os

import aws_cdk as cdk

from infra.bundling import BytecodeUnavailable
from infra.config import StageConfig
from infra.stack import OrderServiceStack


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    config = StageConfig.from_context(app.node)
    OrderServiceStack(
        app,
        config.stack_name,
        config=config,
        description=f"Order service ({config.stage}): HTTP API, Lambda, DynamoDB, Cognito",
        # Environment-agnostic unless the CLI knows the account: synth needs no AWS access.
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
    )
    return app


def main() -> None:
    try:
        build_app().synth()
    except BytecodeUnavailable as refusal:  # a message for the deployer, not a traceback
        raise SystemExit(f"error: {refusal}") from None


if __name__ == "__main__":
    main()
