"""Shared fixtures for the infrastructure tests.

Everything here synthesizes in-process; jsii starts node once per worker (2-4 s) and every
later synth costs a fraction of a second, so the templates are session-scoped and the tests
all run in one xdist group (``pytest -n 2 --dist loadgroup``). So is ``local_asset``: the
Lambda asset for this machine, built once and shared by every test that runs it.
"""

from __future__ import annotations

import platform
from typing import Any

import pytest
from infra_helpers import REPO_ROOT, LocalAsset, build, newest_local_python, template_of


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


@pytest.fixture(scope="session")
def local_asset(tmp_path_factory: pytest.TempPathFactory) -> LocalAsset:
    """The asset for this machine's architecture (x86_64), with bytecode compiled by the newest
    of Python 3.14 (the runtime's), 3.13 and 3.12 that is installed; the SDK moved aside."""
    from infra import bundling

    if not (REPO_ROOT / "lambda_app" / "main.py").is_file():
        pytest.skip("lambda_app/main.py does not exist yet")
    if platform.machine() != "x86_64":
        pytest.skip(f"builds x86_64 wheels and runs them: this machine is {platform.machine()}")
    found = newest_local_python()
    if found is None:
        pytest.skip(
            "needs a final CPython 3.14, 3.13 or 3.12 (python3.1x on PATH, pyenv, or "
            "LAMBDA_BYTECODE_PYTHON) to build and run the asset for this machine"
        )
    version, python = found
    work = tmp_path_factory.mktemp("asset-x86_64")
    asset = LocalAsset(
        task=work / "task", runtime=work / "runtime", python=python, python_version=version
    )
    bundling.build_asset(
        asset.task,
        platform="x86_64",
        python_version=version,
        compile_with=python,
        sdk_dir=asset.runtime,
    )
    return asset
