"""A short run of the load test (``python -m loadtest``) with injected DynamoDB faults: the local
server under two client processes for ~10 s, then the invariants on the data itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("load")]

ROOT = Path(__file__).resolve().parents[2]


def test_short_load_with_faults_keeps_every_invariant(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    command = [sys.executable, "-m", "loadtest", "--duration", "10", "--workers", "2"]
    run = subprocess.run(
        [*command, "--faults", "0.08", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(out.read_text())
    assert all(check["ok"] for check in results["invariants"].values()), results["invariants"]
    assert results["requests"] > 100, results
    assert sum(results["faults_injected"].values()) > 0
    routes = results["routes"]
    assert routes["POST /orders"]["statuses"].get("201", 0) > 0
    assert {"GET /products", "GET /orders", "POST /orders/{id}/cancel"} <= set(routes)
    assert not {code for r in routes.values() for code in r["statuses"] if code >= "500"} - {"503"}
    for route in routes.values():
        assert route["p50_ms"] <= route["p95_ms"] <= route["p99_ms"]
