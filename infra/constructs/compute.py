"""What every function of the service shares: runtime, architecture, the asset, log groups."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import bundling
from infra.config import StageConfig

# Python 3.13, not the newest runtime (3.14): the tests run the built asset, the Lambda adapter's
# asyncio hooks and the SDK on the function's own interpreter, and 3.13 is the newest CPython that
# can be had on the machines this project is built and tested on (pyenv; no 3.14 build exists
# there). A runtime nothing here can run would ship code no test has ever executed. Move to 3.14
# when the test machines can run it. Bytecode in the asset must match this version.
RUNTIME = lambda_.Runtime.PYTHON_3_13
RUNTIME_PYTHON_VERSION = "3.13"
RUNTIME_REASON = (
    "Python 3.13 rather than the newest runtime: the tests run the built asset (the Lambda "
    "adapter's asyncio hooks, the SDK) on the function's own interpreter, and 3.13 is the newest "
    "CPython the project's build and test machines have (infra/constructs/compute.py)."
)
# Graviton in AWS: ~20% cheaper per GB-second than x86_64, and every dependency ships manylinux
# aarch64 wheels. (``target=local`` builds for the host instead: StageConfig.asset_platform.)
_ARCHITECTURES = {"aarch64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}


def architecture(config: StageConfig) -> lambda_.Architecture:
    """The functions' architecture: the CPU the asset is built for."""
    return _ARCHITECTURES[config.asset_platform]


def acknowledge_runtime(function: lambda_.Function) -> None:
    """cdk-nag's newest-runtime rule (L1), acknowledged with the reason for RUNTIME."""
    cdk.Validations.of(function).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-L1", reason=RUNTIME_REASON)
    )


def lambda_code(
    scope: Construct, config: StageConfig, runtime_python_version: str = RUNTIME_PYTHON_VERSION
) -> lambda_.Code:
    """The asset, bundled locally (infra/bundling.py); Docker is only CDK's fallback.

    The bytecode interpreter is settled here, not in the bundling callback: whether the asset
    has bytecode is part of its hash, and a prod synth without it must stop with an error,
    which jsii's callback cannot raise. Template-only synths (bundling skipped) look for none.
    """
    platform = config.asset_platform
    compile_with = None
    if cdk.Stack.of(scope).bundling_required:
        compile_with = bundling.bytecode_interpreter(runtime_python_version)
        if compile_with is None:
            bundling.no_bytecode(runtime_python_version, refuse=config.requires_bytecode)
    return lambda_.Code.from_asset(
        str(bundling.REPO_ROOT),
        # Our own hash of exactly the bundler's inputs: CDK never fingerprints the repository.
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=bundling.asset_hash(
            platform=platform,
            python_version=runtime_python_version,
            compile_bytecode=compile_with is not None,
        ),
        bundling=cdk.BundlingOptions(
            image=RUNTIME.bundling_image,
            platform="linux/arm64" if platform == "aarch64" else "linux/amd64",
            local=bundling.LocalPythonBundling(
                platform=platform,
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


def function_log_group(
    scope: Construct, construct_id: str, config: StageConfig, function_name: str
) -> logs.LogGroup:
    """The function's own log group: retention by stage, created before the function logs."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=f"/aws/lambda/{function_name}",
        retention=config.log_retention,
        removal_policy=config.removal_policy,
    )


def function_role(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    log_group: logs.LogGroup,
    statements: list[iam.PolicyStatement],
) -> iam.Role:
    """A function's own role: exactly ``statements`` plus writing to its log group and X-Ray.
    No managed policies, no wildcard actions."""
    return iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
        inline_policies={
            "least-privilege": iam.PolicyDocument(
                statements=[
                    *statements,
                    iam.PolicyStatement(
                        sid="Logs",
                        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                        resources=[log_group.log_group_arn],
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
