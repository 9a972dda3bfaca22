"""MiniStack, the local AWS emulator: its environment, and its process on 127.0.0.1.

MiniStack runs every Python function with its own interpreter (``sys.executable``), whatever
the function's ``Runtime`` says, and the function inherits that interpreter's ``sys.path``. So
its environment (``.build/ministack/``) has two parts:

- ``venv/``: a Python 3.13 venv (the functions' runtime version, ``infra/constructs/compute.py``)
  holding only what Lambda's Python runtime adds to the standard library: the AWS SDK
  (``requirements/lambda-runtime.txt``). MiniStack runs, and spawns functions, with this
  interpreter, so a function sees its asset plus exactly that; a dependency missing from the
  asset fails here as it would in Lambda.
- ``lib/``: MiniStack and its own dependencies (``requirements/ministack.txt``), put on the
  path of MiniStack's process only (``LAUNCHER``), never through the environment, which the
  functions inherit.

The process gets a clean environment, its own state and temporary directory (the functions'
unpacked code goes there too), and its own process group, so ``stop()`` ends it and every
function worker it started.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from infra import bundling
from infra.constructs.compute import RUNTIME_PYTHON_VERSION

HOST = "127.0.0.1"
DEFAULT_PORT = 4566
HOME = bundling.REPO_ROOT / ".build" / "ministack"
LOCK_FILE = bundling.REPO_ROOT / "requirements" / "ministack.txt"
# What the Lambda Python runtime provides besides the standard library: the AWS SDK.
RUNTIME_SDK_LOCK_FILE = bundling.REPO_ROOT / "requirements" / "lambda-runtime.txt"
# Bump when the layout of the environment changes: part of its fingerprint.
ENVIRONMENT_VERSION = "1"
# MiniStack's own process: its packages on the path here only, then its usual entry point.
LAUNCHER = "import sys; sys.path.insert(0, sys.argv.pop(1)); from ministack.app import main; main()"
# Variables MiniStack (and so every function) inherits from the caller; everything else is
# set here. Lambda gives functions no user site-packages and no PYTHONPATH.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15


class EmulatorError(RuntimeError):
    """MiniStack could not be installed, started or kept to loopback."""


class PortInUse(EmulatorError):
    pass


@dataclass(frozen=True)
class Environment:
    """MiniStack's environment under ``root`` (see the module docstring)."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "venv" / "bin" / "python"

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def stamp(self) -> Path:
        return self.root / ".installed"


@contextmanager
def exclusive(name: str, root: Path = HOME) -> Iterator[None]:
    """One process at a time past this point (``make stack`` and ``make test`` may run at once)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / f".{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EmulatorError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")


def install(root: Path = HOME) -> Environment:
    """The environment, (re)built from the lock files when they changed; fast when they did not."""
    python = bundling.find_interpreter(RUNTIME_PYTHON_VERSION)
    if python is None:
        raise EmulatorError(
            f"MiniStack runs the functions on its own interpreter, so it needs Python "
            f"{RUNTIME_PYTHON_VERSION} (the functions' runtime) and none was found: install it "
            f"(e.g. `pyenv install {RUNTIME_PYTHON_VERSION}`), put python{RUNTIME_PYTHON_VERSION} "
            "on PATH, or set LAMBDA_BYTECODE_PYTHON to one."
        )
    uv = Path(sys.executable).with_name("uv")
    if not uv.is_file():
        raise EmulatorError(f"{uv} is missing: run `make install` first")
    env = Environment(root)
    digest = hashlib.sha256()
    for part in (
        ENVIRONMENT_VERSION,
        python,
        LOCK_FILE.read_text(),
        RUNTIME_SDK_LOCK_FILE.read_text(),
    ):
        digest.update(str(part).encode() + b"\0")
    fingerprint = digest.hexdigest()
    with exclusive("install", root):
        if env.stamp.is_file() and env.stamp.read_text() == fingerprint:
            return env
        print(f"Installing MiniStack into {root} ...", flush=True)
        env.stamp.unlink(missing_ok=True)
        for old in (root / "venv", env.lib):
            shutil.rmtree(old, ignore_errors=True)
        # No pip, no setuptools: Lambda's runtime offers functions neither.
        _run([python, "-m", "venv", "--without-pip", str(root / "venv")])
        pip = [str(uv), "pip", "install", "--quiet", "--python", str(env.python)]
        _run([*pip, "--requirement", str(RUNTIME_SDK_LOCK_FILE)])
        _run([*pip, "--target", str(env.lib), "--requirement", str(LOCK_FILE)])
        env.stamp.write_text(fingerprint)
    return env


def ensure_port_free(port: int) -> None:
    """Raise PortInUse if anything listens on ``port`` on loopback (or on every interface)."""
    with socket.socket() as probe:
        answered = probe.connect_ex((HOST, port)) == 0
    error = None
    if not answered:
        with socket.socket() as probe:
            # As servers bind (MiniStack's too): the connections a previous run left in
            # TIME_WAIT do not hold the port, a listener does.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
            except OSError as failed:
                error = failed.strerror
    if answered or error:
        raise PortInUse(
            f"port {port} on {HOST} is already in use ({error or 'something answers there'}): "
            "another `make stack` or emulator is running there. Stop it, or pick another "
            "port: make stack ARGS='--port 4567'"
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class MiniStack:
    """A running MiniStack; ``stop()`` ends it and everything it started."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pgid(self) -> int:
        # Started as a session leader: its process group id is its pid.
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def processes(self) -> list[int]:
        """Every live process in MiniStack's process group (itself and its function workers)."""
        return group_members(self.pgid)

    def stop(self) -> None:
        """SIGTERM to the whole group, SIGKILL to whatever is left after STOP_TIMEOUT_S."""
        _signal_group(self.pgid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal_group(self.pgid, signal.SIGKILL)
            self.process.wait()
        # Function workers end when MiniStack closes their stdin; make sure they did.
        while members := group_members(self.pgid):
            now = time.monotonic()
            if now > deadline + 5:
                raise EmulatorError(f"processes {members} of MiniStack's group did not end")
            if now > deadline:
                _signal_group(self.pgid, signal.SIGKILL)
            time.sleep(0.1)


def _signal_group(pgid: int, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes whose process group is ``pgid``, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def environment(port: int, work_dir: Path) -> dict[str, str]:
    """MiniStack's whole environment (the functions inherit it, plus their own variables)."""
    state, tmp = work_dir / "state", work_dir / "tmp"
    state.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        **{name: os.environ[name] for name in INHERITED if name in os.environ},
        # MiniStack binds every interface unless told otherwise.
        "BIND_HOST": HOST,
        "GATEWAY_PORT": str(port),
        # Cognito's signing keys and other state; the functions' unpacked code and the pid
        # file go to the temporary directory: all of it inside this run's work directory.
        "STATE_DIR": str(state),
        "TMPDIR": str(tmp),
        # Its IoT service opens an MQTT (mTLS) listener on 0.0.0.0:8883 by default, and its
        # Transfer service an SFTP one on 0.0.0.0; this stack uses neither.
        "IOT_MTLS_ENABLED": "0",
        "SFTP_ENABLED": "0",
        "PYTHONNOUSERSITE": "1",
    }


def start(env: Environment, port: int, work_dir: Path) -> MiniStack:
    """Start MiniStack on 127.0.0.1:``port`` and wait until it answers."""
    ensure_port_free(port)
    log = work_dir / "ministack.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(env.python), "-I", "-c", LAUNCHER, str(env.lib)],
            cwd=work_dir,
            env=environment(port, work_dir),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    emulator = MiniStack(process=process, port=port, log=log)
    try:
        _wait_ready(emulator)
    except BaseException:
        emulator.stop()
        raise
    return emulator


def _wait_ready(emulator: MiniStack) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not emulator.running():
            raise EmulatorError(f"MiniStack exited at start:\n{emulator.log_tail()}")
        try:
            health = f"{emulator.endpoint}/_ministack/health"  # http://127.0.0.1 only
            with urllib.request.urlopen(health, timeout=2):  # noqa: S310
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise EmulatorError(f"MiniStack did not answer in {READY_TIMEOUT_S} s:\n{emulator.log_tail()}")


def _socket_inodes(pids: list[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:  # ended meanwhile
            continue
        for fd in fds:
            with suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    return inodes


def _address(hex_address: str) -> str:
    """``0100007F:1F90`` -> ``127.0.0.1:8080``; IPv6 as ``[::1]:8080`` (kernel byte order)."""
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return f"{socket.inet_ntop(socket.AF_INET, raw[::-1])}:{int(port, 16)}"
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return f"[{socket.inet_ntop(socket.AF_INET6, words)}]:{int(port, 16)}"


# /proc/net/* socket states: TCP's LISTEN; UDP has no listening state, an unconnected bound
# socket (CLOSE, no remote address) is what receives datagrams from anyone.
_LISTENING = {"tcp": "0A", "tcp6": "0A", "udp": "07", "udp6": "07"}


def listeners(pids: list[int]) -> list[str]:
    """The local addresses (``host:port``) on which any of ``pids`` accepts TCP connections or
    UDP datagrams: what ``ss -ltunp`` shows for them, read from /proc (no iproute2 needed)."""
    inodes = _socket_inodes(pids)
    found = []
    for table, listening in _LISTENING.items():
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            columns = line.split()
            local, remote, state, inode = columns[1], columns[2], columns[3], columns[9]
            unconnected = set(remote.split(":")[1]) == {"0"}
            if inode in inodes and state == listening and unconnected:
                found.append(_address(local))
    return found


def beyond_loopback(addresses: list[str]) -> list[str]:
    """The addresses that are not on 127.0.0.0/8 or [::1]."""
    return [
        address
        for address in addresses
        if not (address.startswith("127.") or address.startswith("[::1]:"))
    ]
