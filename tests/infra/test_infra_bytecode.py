"""Bytecode on every ordinary deploy: what ``npx cdk synth`` does when the deploying machine has
no interpreter of the runtime's version.

Each synth runs the real CDK CLI on a PATH without any Python 3.13 and an empty pyenv, so the
bundler must ask uv for one. uv is faked at the process boundary, as an executable on PATH
(infra_helpers.no_python_environment): one "installs" CPython 3.13 (a link to a real one, so
the bytecode really is compiled; that is how the session's ``prod_synth`` is made, checked in
test_infra_asset.py), the other fails as uv fails without network access to its CPython
downloads.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from infra_helpers import no_python_environment

from infra import assembly
from infra.constructs.compute import RUNTIME_PYTHON_VERSION

# Its own group: these synths share nothing with the infra group's fixtures, so may run beside them.
pytestmark = [pytest.mark.xdist_group("bytecode"), pytest.mark.slow]

VERSION = RUNTIME_PYTHON_VERSION
TAG = "cpython-" + VERSION.replace(".", "")


def _synth(tmp_path: Path, env: dict[str, str], **context: str) -> tuple[str, Path]:
    outdir = tmp_path / "cdk.out"
    result = assembly.synth(outdir, context, env=env)
    return result.stderr, assembly.the_asset(outdir).directory


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "WARNING" in line and "bytecode" in line]


def test_without_any_interpreter_a_prod_synth_refuses(tmp_path: Path) -> None:
    env, calls = no_python_environment(tmp_path, None)
    with pytest.raises(assembly.SynthFailed) as failed:
        _synth(tmp_path, env, stage="prod")
    message = str(failed.value)
    assert f"error: no Python {VERSION} to compile the asset's bytecode with" in message
    assert "-c allow_missing_bytecode=true" in message
    assert "Traceback" not in message  # a message for the deployer, not a stack trace
    assert f"python install --no-bin {VERSION}" in calls.read_text()
    assert not list((tmp_path / "cdk.out").glob("asset.*"))


def test_without_any_interpreter_prod_ships_sources_when_told_and_dev_warns(
    tmp_path: Path,
) -> None:
    env, _ = no_python_environment(tmp_path, None)
    stderr, asset = _synth(tmp_path, env, stage="prod", allow_missing_bytecode="true")
    assert len(_warnings(stderr)) == 1, stderr
    assert (asset / "lambda_app" / "main.py").is_file()
    assert not list(asset.rglob("*.pyc"))
    # dev: the same asset (same platform, no bytecode: same hash, so CDK does not bundle it
    # again in this cloud assembly), and one line of warning instead of a refusal.
    stderr, dev_asset = _synth(tmp_path, env, stage="dev")
    (warning,) = _warnings(stderr)
    assert f"no Python {VERSION}" in warning and "prod would refuse it" in warning
    assert dev_asset == asset
