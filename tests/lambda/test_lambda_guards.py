"""Inside Lambda, the local-development identity cannot be switched on by any route."""

from __future__ import annotations

import importlib
import sys

import pytest
from moto import mock_aws
from pydantic import ValidationError

from lambda_app import cli
from lambda_app.settings import Settings


@pytest.fixture
def in_lambda(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "order-api-test")
    monkeypatch.setenv("CURSOR_SECRET", "lambda-test-cursor-secret")
    monkeypatch.delenv("ORDER_API_DEV_AUTH", raising=False)
    return monkeypatch


def test_settings_refuse_dev_auth_from_the_environment(in_lambda: pytest.MonkeyPatch) -> None:
    in_lambda.setenv("ORDER_API_DEV_AUTH", "true")
    with pytest.raises(ValidationError, match="cannot be enabled inside AWS Lambda"):
        Settings()


def test_settings_refuse_dev_auth_passed_directly(in_lambda: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="cannot be enabled inside AWS Lambda"):
        Settings(ORDER_API_DEV_AUTH=True)


def test_settings_in_lambda_default_to_no_dev_auth_and_inline_calls(
    in_lambda: pytest.MonkeyPatch,
) -> None:
    settings = Settings()
    assert settings.dev_auth is False
    assert settings.offload_blocking_calls is False


def test_settings_in_lambda_require_a_cursor_secret(in_lambda: pytest.MonkeyPatch) -> None:
    in_lambda.delenv("CURSOR_SECRET")
    with pytest.raises(ValidationError, match="CURSOR_SECRET"):
        Settings()


def test_the_function_refuses_to_start_with_dev_auth(in_lambda: pytest.MonkeyPatch) -> None:
    in_lambda.setenv("ORDER_API_DEV_AUTH", "true")
    saved = sys.modules.pop("lambda_app.main", None)
    try:
        with mock_aws(), pytest.raises(ValidationError, match="inside AWS Lambda"):
            importlib.import_module("lambda_app.main")
    finally:
        sys.modules.pop("lambda_app.main", None)
        if saved is not None:
            sys.modules["lambda_app.main"] = saved


def test_serve_refuses_to_run_inside_lambda(
    in_lambda: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve"]) == 2
    assert "refusing to run inside Lambda" in capsys.readouterr().err


def test_serve_refuses_even_with_an_endpoint(
    in_lambda: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve", "--endpoint-url", "http://127.0.0.1:9"]) == 2
    assert "refusing" in capsys.readouterr().err
