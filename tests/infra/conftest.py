"""Shared fixtures for the infrastructure tests.

Everything here synthesizes in-process; jsii starts node once per worker (2-4 s) and every
later synth costs a fraction of a second, so the templates are session-scoped and the tests
all run in one xdist group (``pytest -n 2 --dist loadgroup``).
"""

from __future__ import annotations

from typing import Any

import pytest
from infra_helpers import build, template_of


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
