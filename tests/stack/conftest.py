"""One deployed local stack per test run: ``make stack`` itself, headless, on a free port.

The session fixture runs ``python -m infra.local_stack`` (what ``make stack`` runs) with its own
work directory, waits for it to serve, and at the end sends it SIGINT, as Ctrl-C would, then
checks that it exited cleanly and left no process and no listener behind. Every test talks to
the stack over real HTTP through the emulated API Gateway with tokens from the emulated
Cognito pool, and brings its own data (its own skus, its own customers) to the shared stack.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.local_stack import cdk, emulator, users
from infra.local_stack.cdk import STACK
from tests.conftest import ADDRESS

REPO_ROOT = Path(__file__).resolve().parents[2]

# A fresh clone installs MiniStack's environment, bootstraps, bundles and deploys first.
READY_TIMEOUT_S = 600
STOP_TIMEOUT_S = 60
READY_LINE = "Serving until Ctrl-C."
# Reservations held one minute (the shortest the stack allows) so that the expiry job, which
# runs every minute, can be seen cancelling one within a test; every other test acts on its
# orders within seconds of placing them.
RESERVATION_MINUTES = 1


def claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (the gateway verifies; tests only read or tamper with it)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


@dataclass
class Caller:
    """A signed-in user of the deployed stack: their token, and calls through the gateway."""

    http: httpx.Client
    token: str
    username: str

    @property
    def sub(self) -> str:
        return str(claims(self.token)["sub"])

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def place(self, items: list[tuple[str, int]], key: str | None = None) -> httpx.Response:
        return self.call(
            "POST",
            "orders",
            headers={"Idempotency-Key": key} if key else {},
            json={
                "items": [{"sku": sku, "quantity": qty} for sku, qty in items],
                "shipping_address": ADDRESS,
            },
        )


@dataclass
class Stack:
    """The deployed stack as its outputs describe it, plus what the tests need to reach it."""

    outputs: dict[str, str]
    banner: str
    tool: subprocess.Popen[bytes]
    work_dir: Path
    http: httpx.Client

    @property
    def endpoint(self) -> str:
        return self.outputs["Endpoint"]

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def client(self, service: str) -> Any:
        return cdk.client(service, self.endpoint)

    def sign_in(self, username: str, password: str, client_id: str | None = None) -> Caller:
        token = users.access_token(
            self.client("cognito-idp"),
            client_id or self.outputs["UserPoolClientId"],
            username,
            password,
        )
        return Caller(self.http, token, username)

    def new_user(self, *groups: str) -> Caller:
        """A user of this test's own (an order list nobody else adds to), signed in."""
        user = users.DemoUser(f"u-{uuid.uuid4().hex[:12]}", "Test-Password-123!", groups=groups)
        idp = self.client("cognito-idp")
        for group in groups:
            with contextlib.suppress(idp.exceptions.GroupExistsException):
                idp.create_group(UserPoolId=self.outputs["UserPoolId"], GroupName=group)
        users.create_user(idp, self.outputs["UserPoolId"], user)
        return self.sign_in(user.username, user.password)

    def new_product(self, staff: Caller, stock: int = 10, price: int = 1000) -> str:
        sku = f"T-{uuid.uuid4().hex[:10].upper()}"
        created = staff.call(
            "POST",
            "products",
            json={
                "sku": sku,
                "name": f"Product {sku}",
                "price": price,
                "currency": "EUR",
                "stock": stock,
            },
        )
        assert created.status_code == 201, created.text
        return sku


def processes_in(directory: Path) -> list[str]:
    """Processes whose working directory or command line lies inside ``directory``."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(directory)) or str(directory) in cmdline:
            found.append(f"{proc.name}: {cmdline.strip()}")
    return found


def _wait_ready(tool: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if READY_LINE in text:
            return text
        if tool.poll() is not None:
            pytest.fail(f"make stack exited with {tool.returncode}:\n{text[-6000:]}")
        time.sleep(0.5)
    pytest.fail(f"make stack did not serve within {READY_TIMEOUT_S} s:\n{log.read_text()[-6000:]}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("stack")
    port = emulator.free_port()
    log = work / "make-stack.log"
    outputs_file = work / "outputs-local.json"
    with log.open("wb") as out:
        tool = subprocess.Popen(
            [
                *(sys.executable, "-m", "infra.local_stack", "--port", str(port)),
                *("--work-dir", str(work / "run"), "--outputs", str(outputs_file)),
                *("--context", f"reservation_minutes={RESERVATION_MINUTES}"),
            ],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        banner = _wait_ready(tool, log)
        outputs = json.loads(outputs_file.read_text())[STACK]
        with httpx.Client(base_url=outputs["ApiUrl"], timeout=60) as http:
            yield Stack(outputs=outputs, banner=banner, tool=tool, work_dir=work, http=http)
    finally:
        if tool.poll() is None:
            tool.send_signal(signal.SIGINT)  # what Ctrl-C sends
            with contextlib.suppress(subprocess.TimeoutExpired):
                tool.wait(timeout=STOP_TIMEOUT_S)
        left = processes_in(work)
        # Whatever went wrong, a broken run must not leave its emulator running.
        if tool.poll() is None:
            tool.kill()
            tool.wait()
        for line in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)
    # Ctrl-C cleans up: a clean exit, nothing of it running, nothing listening on its port.
    text = log.read_text(errors="replace")
    assert tool.returncode == 0, f"make stack did not stop cleanly on SIGINT:\n{text[-4000:]}"
    assert "Stopped: MiniStack and everything it started have exited." in text
    assert not left, left
    listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True, check=True).stdout
    assert f"127.0.0.1:{port} " not in listening
    assert not outputs_file.exists(), "the outputs of a stopped stack must not linger"


@pytest.fixture(scope="session")
def alice(stack: Stack) -> Caller:
    """The demo customer ``make stack`` creates."""
    return stack.sign_in(users.CUSTOMER.username, users.CUSTOMER.password)


@pytest.fixture(scope="session")
def bob(stack: Stack) -> Caller:
    """The demo staff member ``make stack`` creates (group admin only)."""
    return stack.sign_in(users.STAFF.username, users.STAFF.password)
