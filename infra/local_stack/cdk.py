"""The CDK CLI (from the npm lock) pointed at the emulator: bootstrap, deploy, outputs.

Nothing here changes the stack: ``cdk deploy -c target=local`` synthesizes this same app, and
what ``target=local`` changes is listed in ``infra/config.py``. The CLI talks to the emulator
through ``AWS_ENDPOINT_URL`` with dummy credentials; a developer's own AWS profile and
configuration are kept out of its environment, so nothing can reach a real account.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3

from infra import bundling
from infra.local_stack.emulator import HOME, exclusive

CDK = bundling.REPO_ROOT / "node_modules" / ".bin" / "cdk"
STACK = "dev-order-service"  # the app's default stage (cdk.json): StageConfig.stack_name
# MiniStack's account and the Region everything is deployed to.
ACCOUNT = "000000000000"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
CONTEXT = ("-c", "target=local")
# The last Lambda asset a local deploy built (``asset.<hash>``): CDK skips bundling when the
# cloud assembly already holds an asset of that hash, and the hash covers every input.
ASSET_CACHE = HOME / "assets"
_API_URL = re.compile(r"^https://(?P<api_id>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com/")


class DeployError(RuntimeError):
    """A CDK command failed; the message says what failed (for a deploy: its failed events)."""


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for the emulator (dummy credentials, the stack's Region)."""
    make: Any = boto3.client  # typed per literal service name; ours is any of several
    return make(service, endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)


def cli_environment(endpoint: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "CDK_DEFAULT_"))
    }
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"],
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        # No profile, no SSO, no role from ~/.aws: the dummy credentials above or nothing.
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        # Node 20's end-of-life banner from jsii says nothing about this stack.
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
    )
    return env


def run_cli(args: Sequence[str], endpoint: str) -> int:
    """Run ``cdk ARGS`` in its own process group, which is ended if this process is interrupted
    (Ctrl-C): the CLI's children (the app's synth, jsii's node) go with it."""
    if not CDK.is_file():
        raise DeployError(f"{CDK} is missing: run `make install` first")
    process = subprocess.Popen(
        [str(CDK), *args, "--no-notices"],
        cwd=bundling.REPO_ROOT,
        env=cli_environment(endpoint),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        return process.wait()
    except BaseException:
        for signum in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, signum)
                process.wait(timeout=5)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        raise


def bootstrap(endpoint: str, work_dir: Path) -> None:
    """The CDK CLI's own ``cdk bootstrap`` of the emulator's account and Region.

    ``--app ""``: the environment is named, so the app need not be synthesized to find it
    (that synth would cost ~15 s; ``deploy`` synthesizes anyway). cdk.json's context, the
    bootstrap qualifier included, still applies. Its own ``--output`` too: the CLI locks the
    cloud assembly directory, and the repository's ``cdk.out`` may be another CLI's.
    """
    args = [
        "bootstrap",
        f"aws://{ACCOUNT}/{REGION}",
        "--app",
        "",
        "--output",
        str(_assembly(work_dir)),
    ]
    if run_cli(args, endpoint) != 0:
        raise DeployError("cdk bootstrap failed (its output is above)")


def _assembly(work_dir: Path) -> Path:
    return work_dir / "cdk.out"


def deploy(
    endpoint: str, stack: str, work_dir: Path, context: Sequence[str] = ()
) -> dict[str, str]:
    """``cdk deploy -c target=local`` (plus ``context``, ``KEY=VALUE`` each) into the emulator;
    the stack's outputs (the CLI's own).

    The cloud assembly goes to ``work_dir`` (one per run: runs never share one), seeded with the
    last asset built for this target so that an unchanged asset is not bundled again.
    """
    assembly = _assembly(work_dir)
    outputs_file = work_dir / "cdk-outputs.json"
    with exclusive("assets"):
        _seed_assets(assembly)
    code = run_cli(
        [
            "deploy",
            stack,
            *CONTEXT,
            *(arg for item in context for arg in ("-c", item)),
            "--output",
            str(assembly),
            "--require-approval",
            "never",
            "--progress",
            "events",
            "--outputs-file",
            str(outputs_file),
        ],
        endpoint,
    )
    if code != 0:
        raise DeployError(failure_report(endpoint, stack))
    with exclusive("assets"):
        _keep_assets(assembly)
    outputs: dict[str, str] = json.loads(outputs_file.read_text())[stack]
    return outputs


def failure_report(endpoint: str, stack: str) -> str:
    """The failed CloudFormation events of ``stack``, oldest first."""
    try:
        events = client("cloudformation", endpoint).describe_stack_events(StackName=stack)
    except Exception as error:  # the stack may not exist at all
        return f"cdk deploy failed, and the stack's events cannot be read ({error})"
    failed = [
        f"  {event['LogicalResourceId']} ({event['ResourceType']}): "
        f"{event['ResourceStatus']}: {event.get('ResourceStatusReason', '')}"
        for event in reversed(events["StackEvents"])
        if str(event["ResourceStatus"]).endswith("_FAILED")
    ]
    return "cdk deploy failed. Failed CloudFormation events:\n" + (
        "\n".join(failed) or "  (none recorded: see the CLI's output above)"
    )


def _seed_assets(assembly: Path) -> None:
    assembly.mkdir(parents=True, exist_ok=True)
    for cached in sorted(ASSET_CACHE.glob("asset.*")):
        # Hard links: instant, and CDK only reads an asset it finds in place.
        shutil.copytree(cached, assembly / cached.name, copy_function=os.link)


def _keep_assets(assembly: Path) -> None:
    built = {path.name: path for path in assembly.glob("asset.*") if path.is_dir()}
    cached = {path.name for path in ASSET_CACHE.glob("asset.*")}
    if set(built) == cached:
        return
    shutil.rmtree(ASSET_CACHE, ignore_errors=True)
    ASSET_CACHE.mkdir(parents=True)
    for name, path in built.items():
        # Copied under another name, then renamed: an interrupted copy is never mistaken for
        # a complete asset (CDK would deploy whatever it finds under the asset's name).
        partial = ASSET_CACHE / f".{name}.partial"
        shutil.copytree(path, partial, copy_function=os.link)
        partial.rename(ASSET_CACHE / name)


def local_api_url(endpoint: str, api_url: str) -> str:
    """The API's URL through the emulator's gateway, from the stack's (AWS-form) ``ApiUrl``.

    The path form works for every client; ``{id}.execute-api.localhost`` needs a resolver that
    knows ``*.localhost``, which Python's and glibc's do not.
    """
    match = _API_URL.match(api_url)
    if match is None:
        raise DeployError(f"ApiUrl {api_url!r} is not an execute-api URL")
    return f"{endpoint}/_aws/execute-api/{match['api_id']}/$default/"


def local_outputs(endpoint: str, outputs: dict[str, str]) -> dict[str, str]:
    """The stack's outputs as a local user needs them: ``ApiUrl`` local, plus ``Endpoint``."""
    return {**outputs, "ApiUrl": local_api_url(endpoint, outputs["ApiUrl"]), "Endpoint": endpoint}
