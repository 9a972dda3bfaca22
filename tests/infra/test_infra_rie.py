"""The asset really runs: AWS's Lambda Runtime Interface Emulator drives it, no Docker.

The emulator (``aws-lambda-rie``, the Runtime API and the invoke endpoint that Lambda's container
images use) ships inside the aws-sam-cli wheel; awslambdaric is the Python runtime client that
Lambda's managed runtime provides (so it is not in our asset, and goes on the path after it,
after it on the path). Both are pinned and cached under .build/rie/. The asset is the session's
``local_asset``: the directory a real ``cdk synth -c target=local`` wrote (x86_64 here, bytecode
for the runtime's Python, its own botocore), run on the runtime's interpreter; DynamoDB is moto's
server embedded in this process. Everything listens on 127.0.0.1 and stops at teardown.

Invocations are API Gateway HTTP API (payload 2.0) events with JWT claims, POSTed to the
emulator exactly as Lambda's invoke API would deliver them.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from infra_helpers import REPO_ROOT, LocalAsset

from tests.conftest import ADDRESS

pytestmark = [pytest.mark.xdist_group("infra"), pytest.mark.slow]

SAM_CLI_VERSION = "1.170.0"
AWSLAMBDARIC_VERSION = "4.2.2"
RIE_MEMBER = "samcli/local/rapid/aws-lambda-rie-x86_64"
CACHE = REPO_ROOT / ".build" / "rie"
REGION = "us-east-1"
TABLE = "orders-rie"
FUNCTION = "order-api-rie"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"

# tests/lambda/events.py: the AWS sample events and their builders (``lambda`` is a keyword).
events: ModuleType = importlib.import_module("tests.lambda.events")


# -- tools, downloaded once and cached under .build/rie/ ------------------------------------


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"]
    command += ["--cache-dir", str(CACHE / "pip-cache")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-4000:]}")


def _cached(final: Path, make: Any) -> Path:
    """``final``, made by ``make(scratch_dir)`` on first use and moved into place atomically
    (a concurrent run that lost the race just uses the winner's)."""
    if final.exists():
        return final
    CACHE.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=CACHE))
    try:
        built = make(scratch)
        with contextlib.suppress(OSError):
            built.rename(final)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert final.exists(), final
    return final


def _rie_binary() -> Path:
    def make(scratch: Path) -> Path:
        _pip("download", "--no-deps", "--dest", str(scratch), f"aws-sam-cli=={SAM_CLI_VERSION}")
        (wheel,) = scratch.glob("aws_sam_cli-*.whl")
        binary = scratch / "aws-lambda-rie-x86_64"
        with zipfile.ZipFile(wheel) as archive, archive.open(RIE_MEMBER) as source:
            binary.write_bytes(source.read())
        binary.chmod(0o755)
        return binary

    return _cached(CACHE / f"aws-lambda-rie-x86_64-sam-{SAM_CLI_VERSION}", make)


def _awslambdaric(python_version: str) -> Path:
    def make(scratch: Path) -> Path:
        target = scratch / "ric"
        _pip(
            "install",
            "--target",
            str(target),
            "--only-binary=:all:",
            "--platform",
            "manylinux2014_x86_64",
            "--platform",
            "manylinux_2_28_x86_64",
            "--python-version",
            python_version,
            "--implementation",
            "cp",
            "--no-compile",
            f"awslambdaric=={AWSLAMBDARIC_VERSION}",
        )
        shutil.rmtree(target / "bin", ignore_errors=True)
        return target

    tag = "cp" + python_version.replace(".", "")
    return _cached(CACHE / f"awslambdaric-{AWSLAMBDARIC_VERSION}-{tag}-x86_64", make)


# -- the emulator ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Invocation:
    raw: dict[str, Any]
    seconds: float

    @property
    def status(self) -> int:
        status: int = self.raw["statusCode"]
        return status

    @property
    def headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in (self.raw.get("headers") or {}).items()}

    def json(self) -> Any:
        assert self.raw.get("isBase64Encoded") is False, self.raw
        return json.loads(self.raw["body"])


class Emulator:
    """``aws-lambda-rie`` running ``python -m awslambdaric lambda_app.main.handler``."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log_path = log
        self.invoke_port = _free_port()
        self.api_port = _free_port()
        while self.api_port == self.invoke_port:
            self.api_port = _free_port()
        command = [
            command[0],
            # Both, always: the defaults listen on every interface.
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.invoke_port}",
            "--runtime-api-address",
            f"127.0.0.1:{self.api_port}",
            *command[1:],
        ]
        self._log_file = log.open("wb")
        # Its own process group: teardown stops the emulator and the runtime it started.
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.invoke_port}{INVOKE_PATH}"

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log_path.read_text(errors="replace")

    def wait_listening(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the emulator exited ({self.process.returncode})")
            with socket.socket() as sock:
                sock.settimeout(0.2)
                if sock.connect_ex(("127.0.0.1", self.invoke_port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"the emulator did not listen on 127.0.0.1:{self.invoke_port}")

    def invoke(self, event: Any) -> Invocation:
        request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1, our emulator)
            self.url,
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        began = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            payload = json.loads(response.read())
        elapsed = time.perf_counter() - began
        assert isinstance(payload, dict), payload
        assert "errorType" not in payload, payload  # the handler raised: Lambda's error shape
        return Invocation(payload, elapsed)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        # The runtime is the emulator's child, in the same group: make sure it is gone too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log_file.close()


@pytest.fixture(scope="module")
def dynamodb_endpoint() -> Iterator[str]:
    from lambda_app.local.dynamodb_server import EmbeddedDynamoDB
    from lambda_app.repository.client import make_client
    from lambda_app.repository.tables import ensure_table

    server = EmbeddedDynamoDB("127.0.0.1", 0).start()
    try:
        ensure_table(make_client(REGION, server.endpoint_url), TABLE)
        yield server.endpoint_url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def emulator(
    local_asset: LocalAsset, dynamodb_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Emulator]:
    if platform.machine() != "x86_64":
        pytest.skip(f"the emulator and runtime client pinned here are x86_64: {platform.machine()}")
    rie = _rie_binary()
    ric = _awslambdaric(local_asset.python_version)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        # /var/task (the asset, with its SDK), then the runtime client, as Lambda orders them.
        "PYTHONPATH": os.pathsep.join(map(str, (local_asset.task, ric))),
        "PYTHONDONTWRITEBYTECODE": "1",  # Lambda's code directory is read-only
        "TABLE_NAME": TABLE,
        "CURSOR_SECRET": "rie-cursor-secret",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        # The emulator adds the rest (AWS_LAMBDA_RUNTIME_API, _HANDLER, ..._MEMORY_SIZE, an
        # empty AWS_SESSION_TOKEN) but names the function only if told.
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "30",  # the emulator's (default 300 s): fail fast
    }
    command = [str(rie), local_asset.python, "-m", "awslambdaric", "lambda_app.main.handler"]
    logs = tmp_path_factory.mktemp("rie")
    for attempt in range(1, 4):
        running = Emulator(command, env, local_asset.task, logs / f"rie-{attempt}.log")
        try:
            running.wait_listening()
            break
        except BaseException as error:
            running.stop()
            if not isinstance(error, RuntimeError):
                raise
            # Another process took a port between our probe and the emulator's bind: retry.
            if attempt == 3:
                pytest.fail(f"{error}\n{running.output()}")
    try:
        yield running
    finally:
        running.stop()


@contextlib.contextmanager
def output_on_failure(emulator: Emulator) -> Iterator[None]:
    """Print what the emulator and the app wrote (pytest shows it with the failure)."""
    try:
        yield
    except BaseException:
        print(f"--- aws-lambda-rie and runtime output ({emulator.log_path}) ---")
        print(emulator.output()[-20000:])
        raise


def _log_lines(output: str) -> list[dict[str, Any]]:
    """The app's JSON log lines (the emulator's own lines are plain text)."""
    lines = []
    for line in output.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
    return lines


def _call(
    emulator: Emulator,
    method: str,
    path: str,
    *,
    user: str | None = None,
    groups: Any = None,
    **kwargs: Any,
) -> Invocation:
    claims = events.cognito_claims(user, groups) if user else events.NO_AUTHORIZER
    return emulator.invoke(events.http_v2(method, path, claims=claims, **kwargs))


def test_the_asset_serves_a_real_order_flow_in_the_lambda_emulator(emulator: Emulator) -> None:
    with output_on_failure(emulator):
        health = _call(emulator, "GET", "/health")
        assert health.status == 200, health.raw
        cold_seconds = health.seconds

        # Not an HTTP event (a warmer, a console test): the 400 problem, not a crash.
        for _ in range(2):
            other = emulator.invoke({})
            assert other.status == 400, other.raw
            assert other.headers["content-type"] == "application/problem+json"
            assert other.json()["status"] == 400

        sku = f"RIE-{uuid.uuid4().hex[:8].upper()}"
        product = {"sku": sku, "name": "Mug", "price": 1250, "currency": "EUR", "stock": 5}
        created = _call(
            emulator, "POST", "/products", user="staff-1", groups="[admin]", body=product
        )
        assert created.status == 201, created.raw
        assert created.headers["location"] == f"/products/{sku}"

        customer = str(uuid.uuid4())
        key = {"Idempotency-Key": f"checkout-{uuid.uuid4()}"}
        body = {"items": [{"sku": sku, "quantity": 2}], "shipping_address": ADDRESS}
        placed = _call(emulator, "POST", "/orders", user=customer, headers=key, body=body)
        assert placed.status == 201, placed.raw
        order = placed.json()
        assert order["customer_id"] == customer
        assert order["status"] == "PENDING"
        assert order["total"] == 2500
        assert order["currency"] == "EUR"
        assert order["items"] == [
            {"sku": sku, "name": "Mug", "quantity": 2, "unit_price": 1250, "line_total": 2500}
        ]
        assert placed.headers["location"] == f"/orders/{order['id']}"
        assert "idempotent-replayed" not in placed.headers
        stock = _call(emulator, "GET", f"/products/{sku}", user=customer).json()["stock"]
        assert stock == 3

        got = _call(emulator, "GET", f"/orders/{order['id']}", user=customer)
        assert got.status == 200, got.raw
        assert got.headers["etag"] == f'"{order["version"]}"'
        assert got.json() == order

        replayed = _call(emulator, "POST", "/orders", user=customer, headers=key, body=body)
        assert replayed.status == 201, replayed.raw
        assert replayed.headers["idempotent-replayed"] == "true"
        assert replayed.raw["body"] == placed.raw["body"]

        listed = _call(emulator, "GET", "/orders", user=customer)
        assert listed.status == 200, listed.raw
        assert [o["id"] for o in listed.json()["items"]] == [order["id"]]

        cancelled = _call(emulator, "POST", f"/orders/{order['id']}/cancel", user=customer)
        assert cancelled.status == 200, cancelled.raw
        assert cancelled.json()["status"] == "CANCELLED"
        stock = _call(emulator, "GET", f"/products/{sku}", user=customer).json()["stock"]
        assert stock == 5

        warm = _call(emulator, "GET", "/health")
        assert warm.status == 200

        # One container for all of it: one INIT, and only the first request paid the cold start.
        # The runtime's stdout reaches the emulator's through a pipe the emulator copies on its
        # own: the last line may trail the last response by a moment.
        deadline = time.monotonic() + 10
        while True:
            output = emulator.output()
            requests = [line for line in _log_lines(output) if line.get("message") == "request"]
            if len(requests) >= 10 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert output.count("INIT START") == 1, output
        assert len(requests) == 10, requests
        assert [line["cold_start"] for line in requests] == [True] + [False] * 9
        assert all(line["status"] < 500 for line in requests), requests
        # Reported, not asserted against a threshold (timings on a shared machine are noisy).
        print(f"cold invocation {cold_seconds * 1000:.0f} ms, warm {warm.seconds * 1000:.1f} ms")
