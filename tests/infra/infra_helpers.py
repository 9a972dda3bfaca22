"""Helpers for tests/infra (a uniquely named module: tests/ has other conftest.py files)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `infra` is not an installed package
    sys.path.insert(0, str(REPO_ROOT))
# Node 20's end-of-life banner from jsii says nothing about this code (see docs/deploy.md).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def cdk_json_context() -> dict[str, Any]:
    """The context `npx cdk synth` uses (feature flags!), so tests see the same template."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


def build(tmp_dir: Path, **context: Any) -> Any:
    """A fresh App (bundling skipped, no validation plugins) with the order service stack."""
    import aws_cdk as cdk

    from infra.app import build_app

    app = cdk.App(
        context={**cdk_json_context(), "aws:cdk:bundling-stacks": [], **context},
        outdir=str(tmp_dir),
    )
    return build_app(app)


def stack_of(app: Any) -> Any:
    from infra.stack import OrderServiceStack

    (stack,) = [child for child in app.node.children if isinstance(child, OrderServiceStack)]
    return stack


def template_of(app: Any) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_stack(stack_of(app))


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def only(template: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, type_)
    assert len(found) == 1, f"expected exactly one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


@dataclass(frozen=True)
class LocalAsset:
    """The asset a real ``cdk synth -c target=local`` produced (this machine's CPU), and an
    interpreter of the runtime's Python version to run it on.

    ``task`` is Lambda's /var/task: the asset directory itself (``cdk.out/asset.<hash>``). It
    carries its own botocore, so nothing goes on the path after it but what Lambda's runtime
    itself provides (the runtime interface client, for the emulator).
    """

    task: Path
    python: str
    python_version: str


FAKE_UV = """#!/bin/sh
# A stand-in for uv's interpreter commands: records each call; `python install` links {real} (or
# fails), `python find --managed-python` reports what was installed. The rest (the bundler's
# `pip install`) goes to the real uv.
here="$(dirname "$0")"
echo "$*" >> "$here/calls"
case "$1 $2" in
  "python install")
    if [ -n "{real}" ]; then mkdir -p "$here/managed" && ln -sf "{real}" "$here/managed/python"; exit 0; fi
    echo "error: Failed to download CPython {version}: dns error" >&2; exit 1 ;;
  "python find")
    if [ -e "$here/managed/python" ]; then echo "$here/managed/python"; exit 0; fi
    echo "error: No interpreter found for Python {version} in managed installations" >&2
    exit 2 ;;
  "python "*) echo "error: unexpected call" >&2; exit 1 ;;
esac
exec "{uv}" "$@"
"""


def no_python_environment(tmp_path: Path, real_python: str | None) -> tuple[dict[str, str], Path]:
    """An environment with no CPython of the runtime's version (nothing on PATH, an empty pyenv)
    and a fake uv that "installs" ``real_python`` (a link to it) or, given None, fails; and the
    file the fake records its calls in."""
    from infra.bundling import find_uv
    from infra.constructs.compute import RUNTIME_PYTHON_VERSION as version

    real_uv = find_uv()
    assert real_uv, "uv: run make install"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    uv = fake_bin / "uv"
    uv.write_text(FAKE_UV.format(real=real_python or "", version=version, uv=real_uv))
    uv.chmod(0o755)
    kept = [
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry
        and not (Path(entry) / f"python{version}").exists()
        and not (Path(entry) / "uv").exists()
        and "pyenv" not in entry
    ]
    (tmp_path / "pyenv").mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("LAMBDA_BYTECODE_PYTHON", "PYENV_VERSION")
    }
    env.update(PATH=os.pathsep.join([str(fake_bin), *kept]), PYENV_ROOT=str(tmp_path / "pyenv"))
    assert shutil.which(f"python{version}", path=env["PATH"]) is None
    return env, fake_bin / "calls"


@dataclass(frozen=True)
class SynthRun:
    """A real ``npx cdk synth``: the asset it wrote, what it printed, and what it asked uv."""

    asset: Any  # infra.assembly.FunctionAsset
    stderr: str
    uv_calls: list[str]
