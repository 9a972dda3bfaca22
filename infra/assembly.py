"""The cloud assembly a real ``cdk synth`` writes, and the Lambda asset directories in it.

The tests and ``make bench`` run the bytes that ``cdk deploy`` uploads, not a build of their
own: ``synth`` runs the project's CDK CLI exactly as a deployer does (bundling included), and
``function_assets`` finds each function's asset directory (``asset.<hash>``) through the
template's own metadata (``aws:asset:path``), as the CLI does when it publishes assets.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Not imported from infra.bundling: that imports aws_cdk, which starts node (seconds) for nothing.
REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_CLI = REPO_ROOT / "node_modules" / ".bin" / "cdk"  # package.json pins it; `npx cdk` runs it


class SynthFailed(RuntimeError):
    """``cdk synth`` exited non-zero; the message ends with what it printed."""


@dataclass(frozen=True)
class FunctionAsset:
    """One Lambda function of a synthesized stack and the asset directory it deploys."""

    logical_id: str
    handler: str
    runtime: str  # "python3.13"
    architecture: str  # "x86_64" or "arm64", as in the template
    directory: Path

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")


def synth(
    outdir: str | os.PathLike[str],
    context: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """``npx cdk synth -o outdir -c key=value ...`` from the repository root; raises SynthFailed.
    ``env``: the whole environment of the CLI (default: this process's)."""
    command = [str(CDK_CLI), "synth", "--quiet", "--no-notices", "--output", str(outdir)]
    for key, value in (context or {}).items():
        command += ["--context", f"{key}={value}"]
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise SynthFailed(
            f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-6000:]}"
        )
    return result


def function_assets(outdir: str | os.PathLike[str]) -> list[FunctionAsset]:
    """Every Lambda function in the assembly's stacks, with the asset directory it deploys."""
    root = Path(outdir)
    manifest = json.loads((root / "manifest.json").read_text())
    found: list[FunctionAsset] = []
    for artifact in manifest["artifacts"].values():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        template = json.loads((root / artifact["properties"]["templateFile"]).read_text())
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            metadata = resource.get("Metadata", {})
            properties = resource["Properties"]
            found.append(
                FunctionAsset(
                    logical_id=logical_id,
                    handler=properties["Handler"],
                    runtime=properties["Runtime"],
                    architecture=(properties.get("Architectures") or ["x86_64"])[0],
                    directory=root / metadata["aws:asset:path"],
                )
            )
    return found


def the_asset(outdir: str | os.PathLike[str]) -> FunctionAsset:
    """The one asset every function of the stack deploys (they share it); the API function's
    entry describes it. Raises if the functions do not share one asset."""
    functions = function_assets(outdir)
    directories = {function.directory for function in functions}
    if len(directories) != 1:
        raise SynthFailed(f"expected one asset shared by every function, found {directories}")
    (api,) = [f for f in functions if f.handler == "lambda_app.main.handler"]
    return api
