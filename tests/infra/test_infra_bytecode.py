"""Bytecode on every ordinary deploy: what ``npx cdk synth`` does when the deploying machine has
no interpreter of the runtime's version.

Each test runs the real CDK CLI on a PATH without any Python 3.13 and an empty pyenv, so the
bundler must ask uv for one. uv is faked at the process boundary, as an executable on PATH:
one "installs" CPython 3.13 (a link to a real one, so the bytecode really is compiled), the
other fails as uv fails without network access to its CPython downloads.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from infra import assembly, bundling
from infra.constructs.compute import RUNTIME_PYTHON_VERSION

# Its own group: these synths share nothing with the infra group's, so the other worker runs them.
pytestmark = [pytest.mark.xdist_group("bytecode"), pytest.mark.slow]

VERSION = RUNTIME_PYTHON_VERSION
TAG = "cpython-" + VERSION.replace(".", "")

FAKE_UV = """#!/bin/sh
# A stand-in for uv: records each call; `python install` links {real} (or fails), and
# `python find --managed-python` reports what was installed.
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
esac
echo "error: unexpected call" >&2; exit 1
"""


def _environment(tmp_path: Path, real_python: str | None) -> tuple[dict[str, str], Path]:
    """An environment where the only way to CPython ``VERSION`` is the fake uv."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    uv = fake_bin / "uv"
    uv.write_text(FAKE_UV.format(real=real_python or "", version=VERSION))
    uv.chmod(0o755)
    kept = [
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry
        and not (Path(entry) / f"python{VERSION}").exists()
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
    assert shutil.which(f"python{VERSION}", path=env["PATH"]) is None
    return env, fake_bin / "calls"


def _synth(tmp_path: Path, env: dict[str, str], **context: str) -> tuple[str, Path]:
    outdir = tmp_path / "cdk.out"
    result = assembly.synth(outdir, context, env=env)
    return result.stderr, assembly.the_asset(outdir).directory


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "WARNING" in line and "bytecode" in line]


@pytest.fixture
def real_python() -> str:
    found = bundling.find_interpreter(VERSION)
    if found is None:
        pytest.skip(f"needs a real CPython {VERSION} for the fake uv to 'install'")
    return found


def test_uv_installs_the_interpreter_and_the_asset_has_bytecode(
    tmp_path: Path, real_python: str
) -> None:
    env, calls = _environment(tmp_path, real_python)
    stderr, asset = _synth(tmp_path, env, stage="prod")
    assert f"python install --no-bin {VERSION}" in calls.read_text().splitlines()
    assert not _warnings(stderr)
    assert (asset / "lambda_app" / "__pycache__" / f"main.{TAG}.pyc").is_file()
    assert (asset / "botocore" / "__pycache__" / f"client.{TAG}.pyc").is_file()


def test_without_any_interpreter_a_prod_synth_refuses(tmp_path: Path) -> None:
    env, calls = _environment(tmp_path, None)
    with pytest.raises(assembly.SynthFailed) as failed:
        _synth(tmp_path, env, stage="prod")
    message = str(failed.value)
    assert f"error: no Python {VERSION} to compile the asset's bytecode with" in message
    assert "-c allow_missing_bytecode=true" in message
    assert "Traceback" not in message  # a message for the deployer, not a stack trace
    assert f"python install --no-bin {VERSION}" in calls.read_text()
    assert not list((tmp_path / "cdk.out").glob("asset.*"))


def test_prod_ships_without_bytecode_only_when_told(tmp_path: Path) -> None:
    env, _ = _environment(tmp_path, None)
    stderr, asset = _synth(tmp_path, env, stage="prod", allow_missing_bytecode="true")
    assert len(_warnings(stderr)) == 1, stderr
    assert (asset / "lambda_app" / "main.py").is_file()
    assert not list(asset.rglob("*.pyc"))


def test_a_dev_synth_without_any_interpreter_warns_in_one_line(tmp_path: Path) -> None:
    env, _ = _environment(tmp_path, None)
    stderr, asset = _synth(tmp_path, env, stage="dev")
    (warning,) = _warnings(stderr)  # one line
    assert f"no Python {VERSION}" in warning and "prod would refuse it" in warning
    assert not list(asset.rglob("*.pyc"))
