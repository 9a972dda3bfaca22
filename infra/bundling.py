"""Build the Lambda asset without Docker: wheels for the target platform, the app, bytecode.

``build_asset()`` is plain Python; ``LocalPythonBundling`` wraps it for CDK's ``ILocalBundling``
hook, so ``cdk synth`` never needs Docker. The tests and ``make bench`` run the asset that a real
``cdk synth`` produced (infra/assembly.py), never a build of their own. What ends up in it:

1. The locked runtime requirements (``requirements/runtime.txt``), binary wheels only, for the
   target platform and CPython version: ``uv pip install --target ... --python-platform ...``.
   That includes botocore, the exact version the tests run: the function imports ours, never the
   Lambda runtime's (whose version changes under a deployed function).
2. What the handler never imports is removed (``_prune``): botocore's models of every service
   but the ones the functions call (``SDK_SERVICES``), and the rest listed in ``PRUNE``.
3. ``lambda_app`` (without tests, caches and the local-only ``serve`` parts).
4. Bytecode, compiled by an interpreter of exactly the runtime's version (``.pyc`` files are
   version-specific; Lambda's code directory is read-only, so without them every cold start
   compiles every module). ``bytecode_interpreter`` finds one, or has uv install it. Hash-based
   and unchecked, so the zip's timestamps do not matter.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_PACKAGE = "lambda_app"
RUNTIME_REQUIREMENTS = Path("requirements") / "runtime.txt"
# Bump when the bundler's output changes for the same inputs: it is part of the asset hash.
BUNDLER_VERSION = "1"

# The platform uv installs wheels for, per Lambda architecture. Lambda's python3.12+ runtimes
# run on Amazon Linux 2023 (glibc 2.34): manylinux_2_28 and older wheels (manylinux2014) load.
PLATFORMS: dict[str, str] = {
    "aarch64": "aarch64-manylinux_2_28",
    "x86_64": "x86_64-manylinux_2_28",
}

# The services whose clients the functions make (lambda_app/repository/client.py,
# lambda_app/events/stream.py): botocore keeps their models, and drops the other ~450 (28 MB).
# In Lambda credentials come from the environment, so no STS or SSO client is ever made.
SDK_SERVICES = ("dynamodb", "events")

# Installed but never imported by the handler. Each entry is checked, not guessed:
# - pydantic/v1: FastAPI only probes it inside ``try: from pydantic import v1 / except
#   ImportError`` (fastapi/_compat/shared.py); pydantic itself only imports it for v1-style
#   ``__get_validators__`` types, which neither the app nor FastAPI use (FastAPI's EmailStr
#   fallback defines ``__get_pydantic_core_schema__``). tests/infra imports the app and renders
#   /openapi.json from the pruned asset to prove it.
# - pydantic/mypy.py: the mypy plugin. anyio/pytest_plugin.py: a pytest entry point.
# - bin/: console scripts with this machine's shebang.
# - idna: anyio imports it only inside its socket/TLS name resolution (anyio/_core/_sockets.py),
#   which serves outgoing connections; the handler never opens one through anyio.
# - annotated_types/test_cases.py: the package's test data; nothing imports it.
# - .lock: uv's lock file for the target directory.
PRUNE = (
    "bin",
    ".lock",
    "pydantic/v1",
    "pydantic/mypy.py",
    "anyio/pytest_plugin.py",
    "idna",
    "annotated_types/test_cases.py",
)
# Parts of lambda_app that only `order-api serve` uses (the embedded moto server, the CLI): the
# handler never imports them, and tests/infra imports the handler from the asset to prove it.
APP_EXCLUDE = ("local", "cli.py")
# Must never be in the asset. email_validator: fastapi switches EmailStr behaviour when it is
# importable. boto3 and s3transfer: nothing of ours imports them (clients are made through
# botocore's session), and a boto3 beside our botocore would mix two SDK releases.
FORBIDDEN = ("email_validator", "boto3", "s3transfer")


class BundlingError(RuntimeError):
    """The asset could not be built (the install failed, a forbidden package appeared, ...)."""


def _log(message: str) -> None:
    print(f"[bundling] {message}", file=sys.stderr, flush=True)


def interpreter_version(python: str | os.PathLike[str]) -> tuple[str, bool] | None:
    """``("3.13", is_final_release)`` for an interpreter, or None if it does not run."""
    try:
        out = subprocess.run(
            [str(python), "-c", "import sys; v = sys.version_info; print(v[0], v[1], v[3])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{out[0]}.{out[1]}", out[2] == "final"


def find_interpreter(python_version: str) -> str | None:
    """An interpreter of exactly ``python_version`` (e.g. "3.13"), final release, or None.

    Looks at ``$LAMBDA_BYTECODE_PYTHON``, ``python3.X`` on PATH, then pyenv's versions.
    Pre-releases are skipped: their bytecode magic number can differ from the final release's.
    """
    candidates: list[str] = []
    if env := os.environ.get("LAMBDA_BYTECODE_PYTHON"):
        candidates.append(env)
    if on_path := shutil.which(f"python{python_version}"):
        candidates.append(on_path)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    pattern = str(pyenv_root / "versions" / f"{python_version}.*" / "bin" / "python")
    candidates += sorted(glob.glob(pattern), reverse=True)
    for candidate in candidates:
        found = interpreter_version(candidate)
        if found == (python_version, True):
            return candidate
    return None


def find_uv() -> str | None:
    """uv on PATH, else the one the Makefile pins beside the venv's interpreter (.venv/bin/uv)."""
    if on_path := shutil.which("uv"):
        return on_path
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if os.access(beside, os.X_OK) else None


def _uv_find(uv: str, python_version: str) -> str | None:
    """The uv-managed CPython ``python_version``, if uv has installed one."""
    try:
        result = subprocess.run(
            [uv, "python", "find", "--managed-python", "--no-project", python_version],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path = result.stdout.strip()
    if result.returncode != 0 or not path:
        return None
    return path if interpreter_version(path) == (python_version, True) else None


def uv_interpreter(python_version: str) -> str | None:
    """CPython ``python_version`` installed by uv (``uv python install``), or None if there is no
    uv or it cannot get one. uv downloads CPython builds from their own release site, not from a
    package index: on a machine that reaches only package registries this fails."""
    uv = find_uv()
    if uv is None:
        return None
    if found := _uv_find(uv, python_version):
        return found
    _log(f"no Python {python_version} on this machine: `uv python install {python_version}`")
    try:
        result = subprocess.run(
            # --no-bin: nothing goes on the user's PATH; the bundler asks uv where it is.
            [uv, "python", "install", "--no-bin", python_version],
            capture_output=True,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        _log(f"uv python install {python_version} failed: {error}")
        return None
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["no output"]
        # uv's first line says what failed, its last one the root cause (no network, say).
        reason = lines[0].strip() + (f" ({lines[-1].strip()})" if len(lines) > 1 else "")
        _log(f"uv python install {python_version} failed: {reason}")
        return None
    return _uv_find(uv, python_version)


@functools.cache
def bytecode_interpreter(python_version: str) -> str | None:
    """The interpreter that compiles the asset's bytecode: one already installed
    (``find_interpreter``), else one uv installs; None if neither works. Asked once per process:
    every function shares the asset."""
    return find_interpreter(python_version) or uv_interpreter(python_version)


class BytecodeUnavailable(BundlingError):
    """A prod asset would ship without bytecode (and nobody said that is fine)."""


def no_bytecode(python_version: str, *, refuse: bool) -> None:
    """What happens when no interpreter can compile the bytecode: ``refuse`` (prod) raises, at
    synth time and outside jsii's bundling callback so that ``cdk synth`` stops; otherwise
    (dev) one warning line, and the asset ships sources only."""
    cost = "every cold start would compile every module (about 2.4x the INIT)"
    if refuse:
        raise BytecodeUnavailable(
            f"no Python {python_version} to compile the asset's bytecode with (none installed, "
            f"and uv could not install one): {cost}. Install Python "
            f"{python_version} (python{python_version} on PATH, pyenv, or "
            "LAMBDA_BYTECODE_PYTHON=/path/to/python), or ship without bytecode anyway with "
            "-c allow_missing_bytecode=true."
        )
    _log(
        f"WARNING: no Python {python_version} (none installed, uv could not install one): "
        f"this asset has no bytecode, so {cost}; prod would refuse it (docs/deploy.md)."
    )


def _source_files(root: Path) -> Iterable[Path]:
    for path in sorted((root / APP_PACKAGE).rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not _ignored(rel.parts, path.name):
            yield path


def _ignored(parts: tuple[str, ...], name: str) -> bool:
    """``parts``: path relative to the repository root, starting with ``lambda_app``."""
    return (
        (len(parts) > 1 and parts[0] == APP_PACKAGE and parts[1] in APP_EXCLUDE)
        or "__pycache__" in parts
        or "tests" in parts
        or name.endswith((".pyc", ".pyo"))
        or name in (".DS_Store",)
    )


def asset_hash(
    *,
    platform: str,
    python_version: str,
    compile_bytecode: bool = False,
    root: Path = REPO_ROOT,
) -> str:
    """Hash of every input of ``build_asset``: CDK uses it instead of fingerprinting a directory.

    Cheap (the app's sources and one lock file), and it changes exactly when the output would.
    """
    digest = hashlib.sha256()
    for part in (
        BUNDLER_VERSION,
        platform,
        python_version,
        str(compile_bytecode),
    ):
        digest.update(part.encode() + b"\0")
    digest.update(Path(__file__).read_bytes())
    digest.update((root / RUNTIME_REQUIREMENTS).read_bytes())
    for path in _source_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _install(target: Path, *, requirements: Path, platform: str, python_version: str) -> None:
    """The locked wheels for the target platform and CPython, as files in ``target``: uv's
    ``pip install --target`` (pip's equivalent took ~10x as long, mostly asking the index)."""
    uv = find_uv()
    if uv is None:
        raise BundlingError("uv not found (on PATH or beside this interpreter): run `make install`")
    command = [uv, "pip", "install", "--quiet", "--target", str(target)]
    command += ["--python-platform", PLATFORMS[platform], "--python-version", python_version]
    # Wheels only; no bytecode (it would be this interpreter's, and _compile makes the right one);
    # copies, not links into uv's cache.
    command += ["--only-binary", ":all:", "--link-mode", "copy", "-r", str(requirements)]
    result = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, check=False
    )
    if result.returncode != 0:
        raise BundlingError(
            f"uv pip install failed ({result.returncode}):\n{result.stderr[-4000:]}"
        )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _prune(target: Path) -> None:
    for rel in PRUNE:
        _remove(target / rel)
    for cache in list(target.rglob("__pycache__")):
        _remove(cache)
    for stub in target.rglob("*.pyi"):
        stub.unlink()
    # botocore's models: only the functions' services (a directory each) and the files every
    # client reads (endpoints, partitions, retry and default configuration) stay.
    for entry in (target / "botocore" / "data").iterdir():
        if entry.is_dir() and entry.name not in SDK_SERVICES:
            shutil.rmtree(entry)


def _copy_app(root: Path, target: Path) -> None:
    source = root / APP_PACKAGE
    if not (source / "__init__.py").is_file():
        raise BundlingError(f"{source} is not a package")

    def ignore(directory: str, names: list[str]) -> set[str]:
        parts = Path(directory).relative_to(root).parts
        return {name for name in names if _ignored((*parts, name), name)}

    shutil.copytree(source, target / APP_PACKAGE, ignore=ignore, dirs_exist_ok=True)


def _compile(target: Path, python: str, python_version: str) -> None:
    found = interpreter_version(python)
    if found is None or found[0] != python_version:
        raise BundlingError(f"{python} is not Python {python_version}: bytecode would be useless")
    result = subprocess.run(
        [
            python,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            # Lambda's code directory is read-only and the zip's timestamps are not the
            # sources': a hash-based pyc that is never re-checked is exactly right.
            "--invalidation-mode",
            "unchecked-hash",
            # Tracebacks show /var/task/... like Lambda's own paths, not this machine's.
            "-s",
            str(target),
            "-p",
            "/var/task",
            str(target),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BundlingError(f"compileall failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def build_asset(
    output_dir: str | os.PathLike[str],
    *,
    platform: str,
    python_version: str,
    compile_with: str | None = None,
    root: str | os.PathLike[str] = REPO_ROOT,
) -> Path:
    """Build the Lambda asset into ``output_dir`` (created; should be empty).

    platform: ``"aarch64"`` or ``"x86_64"``; python_version: ``"3.13"``.
    compile_with: an interpreter of exactly ``python_version`` to compile bytecode, or None.
    """
    if platform not in PLATFORMS:
        raise BundlingError(f"unknown platform {platform!r}; expected one of {sorted(PLATFORMS)}")
    root_path = Path(root)
    target = Path(output_dir)
    target.mkdir(parents=True, exist_ok=True)
    _install(
        target,
        requirements=root_path / RUNTIME_REQUIREMENTS,
        platform=platform,
        python_version=python_version,
    )
    for name in FORBIDDEN:
        if (target / name).exists():
            raise BundlingError(f"{name} must not be in the asset; check requirements/runtime.txt")
    _prune(target)
    _copy_app(root_path, target)
    if compile_with:
        _compile(target, compile_with, python_version)
    return target


def zipped_size(directory: str | os.PathLike[str]) -> tuple[int, int]:
    """(unzipped bytes, zipped bytes at deflate level 9, like CDK's asset zip)."""
    import zipfile

    directory = Path(directory)
    unzipped = 0
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "asset.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for path in sorted(directory.rglob("*")):
                if path.is_file():
                    unzipped += path.stat().st_size
                    zf.write(path, path.relative_to(directory))
        return unzipped, archive.stat().st_size


@jsii.implements(cdk.ILocalBundling)
class LocalPythonBundling:
    """CDK's local bundling hook around ``build_asset`` (no Docker).

    Never raises across the jsii boundary: on failure it prints why and returns False (CDK then
    tries Docker, which fails loudly on a machine without it). Refusals that must stop a synth
    (``no_bytecode``) happen before, where the stack is built.
    """

    def __init__(self, *, platform: str, python_version: str, compile_with: str | None) -> None:
        self.platform = platform
        self.python_version = python_version
        self.compile_with = compile_with

    def try_bundle(
        self, output_dir: str, options: cdk.BundlingOptions | None = None, **_: Any
    ) -> bool:
        # jsii calls this with the options struct as one positional argument; the generated
        # Python interface spells the struct out as keywords, which **_ accepts (type checkers).
        # Whether to compile bytecode was decided before (no_bytecode): a refusal raised here
        # would not stop the synth, CDK would only fall back to Docker.
        try:
            build_asset(
                output_dir,
                platform=self.platform,
                python_version=self.python_version,
                compile_with=self.compile_with,
            )
            unzipped, zipped = zipped_size(output_dir)
            _log(f"asset: {unzipped / 2**20:.1f} MiB unzipped, {zipped / 2**20:.2f} MiB zipped")
            return True
        except Exception:
            _log("local bundling failed:\n" + traceback.format_exc())
            return False
