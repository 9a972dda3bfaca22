"""One `order-api serve` for the tests that use it as a person would (its /docs, a generated
client): a real process on a free loopback port, started as `make run` starts it. Each test
keeps to its own customers and products."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ORDER_API = Path(sys.executable).with_name("order-api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running `order-api serve` (dev identity, embedded DynamoDB)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"TABLE_NAME", "CURSOR_SECRET"}}
    data = tmp_path_factory.mktemp("dev-server-data")  # not the repository's .build: fresh data
    process = subprocess.Popen(
        [str(ORDER_API), "serve", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "order-api serve exited"
            assert time.monotonic() < deadline, "order-api serve did not come up"
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
