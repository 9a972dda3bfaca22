"""Shared fixtures for the infrastructure tests.

The templates synthesize in-process; jsii starts node once per worker (2-4 s) and every later
synth costs a fraction of a second, so they are session-scoped and the tests all run in one
xdist group (``pytest -n 2 --dist loadgroup``). The assets are shared too: ``local_synth`` and
``prod_synth`` are real ``npx cdk synth`` runs with bundling, once each per test run across the
workers (a file lock: ``_once_per_run``), and the tests read the asset directories those synths
wrote (infra/assembly.py): the bytes ``cdk deploy`` ships, never a build of the tests' own.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import REPO_ROOT, LocalAsset, SynthRun, build, no_python_environment, template_of

from infra import assembly
from infra.constructs.compute import RUNTIME_PYTHON_VERSION


@pytest.fixture(scope="session")
def dev_template(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return template_of(build(tmp_path_factory.mktemp("cdk-dev"), stage="dev"))


@pytest.fixture(scope="session")
def prod_template(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return template_of(build(tmp_path_factory.mktemp("cdk-prod"), stage="prod"))


@pytest.fixture(scope="session")
def options_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every optional context key at once: one extra synth covers all the options."""
    app = build(
        tmp_path_factory.mktemp("cdk-options"),
        stage="dev",
        cors_origins="https://shop.example.com,https://admin.example.com",
        jwt_issuer="https://issuer.example.com/",
        jwt_audience="orders-api,orders-admin",
        snapstart="true",
        alarm_email="ops@example.com",
        log_level="debug",
    )
    return template_of(app).to_json()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def dev_json(dev_template: Any) -> dict[str, Any]:
    return dev_template.to_json()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def prod_json(prod_template: Any) -> dict[str, Any]:
    return prod_template.to_json()  # type: ignore[no-any-return]


def _once_per_run(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], dict[str, Any]]
) -> tuple[Path, dict[str, Any]]:
    """``make(workdir)`` once per test run, whichever xdist worker asks first; the others wait
    on a file lock and reuse its directory and result. (A session fixture runs once per worker,
    and with pytest 9.2 xdist 3.8 no longer keeps an ``xdist_group`` on one worker.)"""
    if not (REPO_ROOT / "lambda_app" / "main.py").is_file():
        pytest.skip("lambda_app/main.py does not exist yet")
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's, shared
    workdir, done = root / name, root / f"{name}.json"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(workdir, ignore_errors=True)  # a worker that died half-way
            workdir.mkdir()
            done.write_text(json.dumps(make(workdir)))
    return workdir, json.loads(done.read_text())


@pytest.fixture(scope="session")
def local_synth(tmp_path_factory: pytest.TempPathFactory) -> assembly.FunctionAsset:
    """``npx cdk synth -c target=local``: the asset for this machine's CPU, as deployed to a
    local emulator (and the one this machine can run). Bytecode by the Python 3.13 installed."""

    def make(workdir: Path) -> dict[str, Any]:
        assembly.synth(workdir / "cdk.out", {"target": "local"})
        return {}

    workdir, _ = _once_per_run(tmp_path_factory, "cdk-local", make)
    return assembly.the_asset(workdir / "cdk.out")


@pytest.fixture(scope="session")
def prod_synth(tmp_path_factory: pytest.TempPathFactory) -> SynthRun:
    """``npx cdk synth -c stage=prod``: the asset AWS runs (arm64). Synthesized where no Python
    3.13 is installed and a fake uv "installs" one (a link to the real one): the same bytes, and
    the bundler's uv branch exercised on the way (test_infra_asset.py checks it)."""
    from infra import bundling

    real = bundling.find_interpreter(RUNTIME_PYTHON_VERSION)
    if real is None:
        pytest.skip(f"needs a CPython {RUNTIME_PYTHON_VERSION} for the fake uv to 'install'")

    def make(workdir: Path) -> dict[str, Any]:
        env, calls = no_python_environment(workdir, real)
        stderr = assembly.synth(workdir / "cdk.out", {"stage": "prod"}, env=env).stderr
        return {"stderr": stderr, "uv_calls": calls.read_text().splitlines()}

    workdir, result = _once_per_run(tmp_path_factory, "cdk-prod", make)
    return SynthRun(assembly.the_asset(workdir / "cdk.out"), result["stderr"], result["uv_calls"])


@pytest.fixture(scope="session")
def local_asset(local_synth: assembly.FunctionAsset) -> LocalAsset:
    """The local synth's asset and the runtime's interpreter (the one its bytecode is for)."""
    from infra import bundling

    python = bundling.bytecode_interpreter(local_synth.python_version)
    if python is None:
        pytest.skip(f"no CPython {local_synth.python_version} here to run the asset on")
    return LocalAsset(
        task=local_synth.directory, python=python, python_version=local_synth.python_version
    )
