"""The two DynamoDB engines the suite runs on, and the one DynamoDB Local a test run shares.

- ``moto``: moto in-process (``mock_aws``), fresh per test. The fast default for everything.
- ``local``: DynamoDB Local, AWS's own engine (``lambda_app/local/dynamodb_local.py``). One JVM
  per test run, whatever the number of xdist workers: the process that configures pytest first
  (the xdist controller, or pytest itself without xdist) starts it, in memory (~1.5 s), and
  hands its address to the workers through the environment (``TEST_DYNAMODB_LOCAL_URL``,
  inherited when xdist spawns them); it stops it when the run ends. Each test gets a table of
  its own.

Set ``TEST_DYNAMODB_LOCAL_URL`` yourself to run the suite against a DynamoDB Local you started.
Where Java 17+ is missing, the run stops at once saying so; ``TEST_ENGINES=moto`` skips the
``local`` tests instead (an explicit choice, never a silent one).
"""

from __future__ import annotations

import os
import uuid

import pytest

from lambda_app.local.dynamodb_local import DynamoDBLocal, Unavailable

ENGINES = ("moto", "local")
URL_VARIABLE = "TEST_DYNAMODB_LOCAL_URL"
ONLY_MOTO = os.environ.get("TEST_ENGINES") == "moto"

# Run a test module on both engines: ``pytestmark = [BOTH_ENGINES]``.
BOTH_ENGINES = pytest.mark.parametrize("engine", ENGINES, indirect=True)

_launched: DynamoDBLocal | None = None


def start_for_run(config: pytest.Config) -> None:
    """In the first process of a run only: start DynamoDB Local and publish its address."""
    global _launched
    if hasattr(config, "workerinput") or os.environ.get(URL_VARIABLE) or ONLY_MOTO:
        return  # an xdist worker, one given from outside, or none wanted
    try:
        _launched = DynamoDBLocal().start()
    except Unavailable as missing:
        raise pytest.UsageError(
            f"{missing}, which the tests on DynamoDB Local use. Install Java 17+, or set "
            "TEST_ENGINES=moto to skip those tests."
        ) from None
    os.environ[URL_VARIABLE] = _launched.endpoint_url


def stop_for_run() -> None:
    global _launched
    if _launched is not None:
        _launched.stop()
        _launched = None
        os.environ.pop(URL_VARIABLE, None)


def local_endpoint() -> str:
    """The run's DynamoDB Local."""
    if ONLY_MOTO:
        pytest.skip("TEST_ENGINES=moto")
    url = os.environ.get(URL_VARIABLE)
    assert url, "DynamoDB Local was not started (tests/conftest.py: pytest_configure)"
    return url


def unique_table(prefix: str = "t") -> str:
    """A table name no other test uses (DynamoDB Local wants 3 to 255 characters)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"
