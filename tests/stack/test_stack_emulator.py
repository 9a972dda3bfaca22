"""``make stack`` itself: what it prints and writes, what the emulator's functions run on, what
it listens on, and how it fails."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from infra.local_stack import cdk, emulator

from .conftest import REPO_ROOT, Stack, processes_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stack")]

ENVIRONMENT = emulator.Environment(emulator.HOME)


def _pids_in(directory: Path) -> list[int]:
    return [int(line.split(":", 1)[0]) for line in processes_in(directory)]


def test_outputs_hold_the_local_url_and_the_endpoint(stack: Stack) -> None:
    outputs = stack.outputs
    for key in ("ApiUrl", "UserPoolId", "UserPoolClientId", "TableName", "EventBusName"):
        assert outputs[key], key
    assert outputs["Endpoint"] == f"http://127.0.0.1:{stack.port}"
    assert re.fullmatch(
        rf"{re.escape(outputs['Endpoint'])}/_aws/execute-api/[a-z0-9]+/\$default/",
        outputs["ApiUrl"],
    )


def test_the_printed_commands_get_tokens_and_call_the_api(stack: Stack) -> None:
    """The banner's commands, run as a user would paste them into bash."""
    block = stack.banner.split("call the API (bash):\n", 1)[1].split("\n\n", 1)[0]
    commands = [line.removeprefix("  ") for line in block.splitlines()]
    assert commands[0].startswith("API=")
    script = "\n".join(["set -euo pipefail", *commands[:3]])
    script += '\n[ -n "$ALICE" ] && [ -n "$BOB" ]\n'
    script += "\n".join(f"{command}; echo" for command in commands[3:])
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    product, order, listed = (json.loads(line) for line in result.stdout.splitlines())
    assert product["sku"] == "MUG-1" and product["version"] == 1
    assert order["status"] == "PENDING" and order["items"][0]["sku"] == "MUG-1"
    assert [o["id"] for o in listed["items"]] == [order["id"]]


def test_functions_run_on_the_runtimes_python_with_only_the_runtimes_sdk(stack: Stack) -> None:
    """The interpreter MiniStack runs functions with: Python 3.13 (the functions' runtime), the
    SDK at the locked version, and nothing of MiniStack's own (its packages are not on that
    interpreter's path), so a dependency missing from the asset cannot hide."""
    assert stack.http.get("health").status_code == 200  # the API function's worker is up
    workers = [
        pid
        for pid in _pids_in(stack.work_dir / "run")
        if "ministack-lambda-" in Path(f"/proc/{pid}/cmdline").read_text()
    ]
    assert workers, "no function worker is running"
    for pid in workers:
        assert Path(os.readlink(f"/proc/{pid}/exe")) == ENVIRONMENT.python.resolve()
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert not [v for v in environ if v.startswith((b"PYTHONPATH=", b"PYTHONHOME="))]

    locked = re.search(
        r"^boto3==(\S+)",
        (REPO_ROOT / "requirements" / "lambda-runtime.txt").read_text(),
        re.MULTILINE,
    )
    assert locked is not None
    probe = (
        "import importlib.util, sys, boto3\n"
        "print(sys.version_info[:2] == (3, 13), boto3.__version__)\n"
        "for name in ('ministack', 'hypercorn', 'yaml', 'cryptography', 'fastapi', 'pip'):\n"
        "    print(name, importlib.util.find_spec(name) is not None)\n"
    )
    result = subprocess.run(
        [str(ENVIRONMENT.python), "-c", probe], capture_output=True, text=True, check=True
    )
    lines = result.stdout.split("\n")
    assert lines[0] == f"True {locked[1]}"
    assert [line.split()[1] for line in lines[1:] if line] == ["False"] * 6, result.stdout


def test_everything_the_emulator_opens_listens_on_loopback_only(stack: Stack) -> None:
    """Checked with ``ss``, and with the reading of /proc that ``make stack`` itself checks."""
    stack.http.get("health")  # functions started, so their sockets count too
    pids = _pids_in(stack.work_dir / "run")
    ss = subprocess.run(["ss", "-Hltunp"], capture_output=True, text=True, check=True).stdout
    from_ss = [
        line.split()[4] for line in ss.splitlines() if any(f"pid={pid}," in line for pid in pids)
    ]
    assert f"127.0.0.1:{stack.port}" in from_ss
    assert emulator.beyond_loopback(from_ss) == [], from_ss
    assert sorted(emulator.listeners(pids)) == sorted(from_ss)


def test_a_second_make_stack_on_the_same_port_says_so_and_exits(stack: Stack) -> None:
    started = time.monotonic()
    second = subprocess.run(
        [sys.executable, "-m", "infra.local_stack", "--port", str(stack.port)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 2
    assert f"port {stack.port} on 127.0.0.1 is already in use" in second.stderr
    assert time.monotonic() - started < 60  # nothing was installed, started or deployed
    assert stack.http.get("health").status_code == 200  # and the first one is untouched


def test_a_failed_deploy_is_reported_with_its_failed_events(stack: Stack) -> None:
    """What the local switch ``metric_math_alarms`` avoids: this emulator cannot create an alarm
    on metric math. The report names the resource and the emulator's reason."""
    name = f"failing-{uuid.uuid4().hex[:8]}"
    template = {
        "Resources": {
            "RateAlarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "ComparisonOperator": "GreaterThanThreshold",
                    "EvaluationPeriods": 1,
                    "Threshold": 1,
                    "Metrics": [
                        {"Id": "rate", "Expression": "100 * errors / requests"},
                        {
                            "Id": "errors",
                            "ReturnData": False,
                            "MetricStat": {
                                "Metric": {"Namespace": "AWS/ApiGateway", "MetricName": "5xx"},
                                "Period": 300,
                                "Stat": "Sum",
                            },
                        },
                        {
                            "Id": "requests",
                            "ReturnData": False,
                            "MetricStat": {
                                "Metric": {"Namespace": "AWS/ApiGateway", "MetricName": "Count"},
                                "Period": 300,
                                "Stat": "Sum",
                            },
                        },
                    ],
                },
            }
        }
    }
    cloudformation = stack.client("cloudformation")
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
        time.sleep(0.5)
    report = cdk.failure_report(stack.endpoint, name)
    assert "RateAlarm (AWS::CloudWatch::Alarm): CREATE_FAILED" in report, report
    assert "metric math" in report.lower(), report
    cloudformation.delete_stack(StackName=name)
