"""Stage configuration from context: pure Python, no synth."""

from __future__ import annotations

from typing import Any

import infra_helpers  # noqa: F401  (puts the repository root on sys.path)
import pytest

from infra.config import StageConfig

pytestmark = pytest.mark.xdist_group("infra")


class FakeNode:
    def __init__(self, **context: Any) -> None:
        self.context = context

    def try_get_context(self, key: str) -> Any:
        return self.context.get(key)


def test_defaults_to_dev() -> None:
    config = StageConfig.from_context(FakeNode())
    assert config.stage == "dev"
    assert config.stack_name == "dev-order-service"
    assert config.name("table") == "dev-orders-table"
    assert not config.deletion_protection
    assert config.uses_cognito


def test_prod() -> None:
    import aws_cdk as cdk

    config = StageConfig.from_context(FakeNode(stage="prod"))
    assert config.removal_policy == cdk.RemovalPolicy.RETAIN
    assert config.deletion_protection and config.point_in_time_recovery
    assert config.cors_origins == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://a.example, https://b.example,", ("https://a.example", "https://b.example")),
        (["https://a.example"], ("https://a.example",)),
        ("", ()),
    ],
)
def test_cors_origins(value: Any, expected: tuple[str, ...]) -> None:
    assert StageConfig.from_context(FakeNode(cors_origins=value)).cors_origins == expected


@pytest.mark.parametrize(
    "context",
    [
        {"stage": "staging"},
        {"jwt_issuer": "https://issuer.example"},
        {"jwt_audience": "x"},
        {"jwt_issuer": "http://issuer.example", "jwt_audience": "x"},
        {"stage": "prod", "cors_origins": "*"},
    ],
)
def test_rejects_bad_context(context: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the messages are for humans
        StageConfig.from_context(FakeNode(**context))


def test_options_default_off() -> None:
    config = StageConfig.from_context(FakeNode())
    assert config.snapstart is False
    assert config.alarm_email is None
    assert config.log_level == "INFO"
    assert config.metrics_namespace == "OrderService/dev"
    assert StageConfig.from_context(FakeNode(stage="prod")).metrics_namespace == (
        "OrderService/prod"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("True", True), (True, True), ("1", True), ("false", False), (False, False)],
)
def test_snapstart_flag(value: Any, expected: bool) -> None:
    assert StageConfig.from_context(FakeNode(snapstart=value)).snapstart is expected


@pytest.mark.parametrize(
    "context",
    [
        {"snapstart": "maybe"},
        {"alarm_email": "not-an-address"},
        {"log_level": "LOUD"},
        {"target": "cloud"},
    ],
)
def test_rejects_bad_options(context: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the messages are for humans
        StageConfig.from_context(FakeNode(**context))


def test_the_asset_is_built_for_graviton_in_aws_and_for_this_machine_locally() -> None:
    import platform

    assert StageConfig.from_context(FakeNode()).asset_platform == "aarch64"
    local = StageConfig.from_context(FakeNode(target="local"))
    assert local.is_local
    host = "aarch64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    assert local.asset_platform == host
