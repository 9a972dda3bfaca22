"""Helpers for tests/infra (a uniquely named module: tests/ has other conftest.py files)."""

from __future__ import annotations

import json
import os
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
