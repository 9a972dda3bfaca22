"""`order-api serve` and its embedded DynamoDB, as a newcomer meets them with `make run`: DynamoDB
Local where Java is present (data kept between runs, stopped with the server however it ends),
moto where it is not, and clear refusals where neither can work."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADDRESS
from tests.e2e.test_serve import ORDER_API, free_port, wait_healthy

# No xdist group: every test has its own process, port and data, so either worker may run it.
pytestmark = [pytest.mark.slow]

ALICE = {"X-Dev-User": "alice"}


def environment(**changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"TABLE_NAME", "CURSOR_SECRET"}}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def without_java(tmp_path: Path) -> dict[str, str]:
    """No java on PATH (an empty directory) and no JAVA_HOME: a machine without Java."""
    empty = tmp_path / "no-java-bin"
    empty.mkdir(exist_ok=True)
    return environment(PATH=str(empty), JAVA_HOME=None)


class Serve:
    """One `order-api serve` process, read up to the end of its start-up banner."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(ORDER_API), "serve", "--port", str(self.port), *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        self.banner = ""
        deadline = time.monotonic() + 60
        while "Staff:" not in self.banner and time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break  # it exited
            self.banner += line

    def dynamodb_local_port(self) -> int:
        match = re.search(
            r"DynamoDB Local \(AWS's engine\) at http://127\.0\.0\.1:(\d+)", self.banner
        )
        assert match, self.banner
        return int(match.group(1))

    def wait_healthy(self) -> None:
        wait_healthy(self.base)

    def stop(self, how: signal.Signals) -> int:
        if self.process.poll() is None:
            self.process.send_signal(how)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            assert self.process.stdout is not None
            self.process.stdout.close()


@contextmanager
def serving(cwd: Path, env: dict[str, str], *args: str) -> Iterator[Serve]:
    server = Serve(cwd, env, *args)
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def jvms_using(data_dir: Path) -> list[int]:
    """Processes whose command line names this data directory (DynamoDB Local's -dbPath)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(data_dir.resolve()).encode() in command:
                found.append(int(entry.name))
    return found


def place(base: str, key: str) -> dict[str, object]:
    placed = httpx.post(
        f"{base}/orders",
        headers={**ALICE, "Idempotency-Key": key},
        json={"items": [{"sku": "MUG-LOGO", "quantity": 3}], "shipping_address": ADDRESS},
    )
    assert placed.status_code == 201, placed.text
    return dict(placed.json())


def mug_stock(base: str) -> int:
    return int(httpx.get(f"{base}/products/MUG-LOGO", headers=ALICE).json()["stock"])


def test_runs_in_a_row_keep_the_catalog_and_the_orders_and_always_stop_dynamodb_local(
    tmp_path: Path,
) -> None:
    data = tmp_path / ".build" / "dynamodb-local"  # the default, under the working directory
    with serving(tmp_path, environment()) as first:
        assert "DynamoDB: DynamoDB Local (AWS's engine)" in first.banner, first.banner
        assert f"data kept in {data.resolve()}" in first.banner
        assert "no option for its listening address" in first.banner
        assert "every interface" in first.banner
        first.wait_healthy()
        seeded = mug_stock(first.base)
        order = place(first.base, "run-1")
        assert mug_stock(first.base) == seeded - 3

        # A second server on the same data is refused, and leaves the first one alone.
        with serving(tmp_path, environment()) as second:
            assert second.stop(signal.SIGTERM) == 2
            assert "another DynamoDB Local keeps its data in" in second.banner
        assert mug_stock(first.base) == seeded - 3

        port = first.dynamodb_local_port()
        assert jvms_using(data)
        assert first.stop(signal.SIGINT) == 128 + signal.SIGINT  # Ctrl-C
    assert not listening(port)
    assert jvms_using(data) == []
    assert (data / "shared-local-instance.db").is_file()

    with serving(tmp_path, environment()) as again:
        again.wait_healthy()
        mine = httpx.get(f"{again.base}/orders", headers=ALICE).json()["items"]
        assert mine == [order]  # the order survived the restart
        assert mug_stock(again.base) == seeded - 3  # and the catalog was not seeded again
        replay = httpx.post(
            f"{again.base}/orders",
            headers={**ALICE, "Idempotency-Key": "run-1"},
            json={"items": [{"sku": "MUG-LOGO", "quantity": 3}], "shipping_address": ADDRESS},
        )
        assert replay.headers.get("idempotent-replayed") == "true"
        port = again.dynamodb_local_port()
        assert again.stop(signal.SIGTERM) == 128 + signal.SIGTERM
    assert not listening(port)
    assert jvms_using(data) == []

    # A third run that cannot start its API (the port is taken) stops DynamoDB Local too.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = subprocess.run(
            [str(ORDER_API), "serve", "--port", str(taken.getsockname()[1])],
            cwd=tmp_path,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    assert done.returncode != 0, done.stdout
    match = re.search(r"DynamoDB Local \(AWS's engine\) at http://127\.0\.0\.1:(\d+)", done.stdout)
    assert match, done.stdout + done.stderr
    assert not listening(int(match.group(1)))
    assert jvms_using(data) == []


def test_without_java_it_serves_on_moto_and_says_why(tmp_path: Path) -> None:
    with serving(tmp_path, without_java(tmp_path)) as server:
        assert "DynamoDB: moto at http://127.0.0.1:" in server.banner, server.banner
        assert "in memory" in server.banner
        assert "no Java 17+" in server.banner
        server.wait_healthy()
        place(server.base, "no-java")
        assert mug_stock(server.base) == 200 - 3
        assert server.stop(signal.SIGTERM) == 128 + signal.SIGTERM
    assert not (tmp_path / ".build").exists()


def test_moto_when_asked_for_even_with_java(tmp_path: Path) -> None:
    with serving(tmp_path, environment(), "--dynamodb", "moto") as server:
        assert "DynamoDB: moto at" in server.banner, server.banner
        assert "DynamoDB Local not used" not in server.banner
        server.wait_healthy()
        assert server.stop(signal.SIGTERM) == 128 + signal.SIGTERM


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--dynamodb", "local"), "needs Java 17+"),
        (("--dynamodb", "moto", "--endpoint-url", "http://127.0.0.1:9"), "use one or the other"),
    ],
)
def test_impossible_requests_are_refused_clearly(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = subprocess.run(
        [str(ORDER_API), "serve", "--port", str(free_port()), *args],
        cwd=tmp_path,
        env=without_java(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done
    assert message in done.stderr
    assert "Traceback" not in done.stderr
