"""`make bench`: our Lambda handler against baselines, side by side, in one run.

Everything runs on the Lambda runtime's Python version (infra/constructs/compute.py).

Cold start: a fresh interpreter imports a handler from its code directory (no bytecode writes,
as in Lambda's read-only /var/task) and answers one GET /health event. Stacks:
  ours   the asset `cdk synth -c target=local` writes (cdk.out/asset.<hash>: what `cdk deploy`
         ships, built for this machine's CPU), as it is; it carries its own botocore
  empty  an empty FastAPI + Mangum app with one route and a boto3 client, pip-installed plainly
  raw    a json + boto3 handler
The two baselines take boto3 from one shared directory, as a function without its own SDK
takes the Lambda runtime's copy (the whole SDK, every service's models).

Warm: POST /orders, GET /orders/{id} and a page of 20 through handler(event, context) with
API Gateway 2.0 events, DynamoDB faked at botocore's before-send, against the raw handler making
the same DynamoDB calls, and against "floor": the raw handler's work served through FastAPI +
Mangum (what the framework costs by itself). Rounds are interleaved so machine noise hits every
stack alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import capacity
from infra import assembly
from infra.bundling import bytecode_interpreter, zipped_size

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
TARGETS = {
    "ours": "lambda_app.main.handler",
    "empty": "empty_app.handler",
    "raw": "raw_handler.handler",
}
WARM = {
    "ours": "lambda_app.main.handler",
    "floor": "floor_app.handler",
    "raw": "raw_handler.handler",
}


SDK_FAMILY = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "python_dateutil")
SDK_FAMILY += ("six", "urllib3")


def _locked(name: str, lock: str = "dev.txt") -> str:
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        if line.startswith(f"{name}=="):
            return line.split("==", 1)[1].strip()
    raise SystemExit(f"{name} is not pinned in requirements/{lock}")


def synthesized_asset(work: Path) -> assembly.FunctionAsset:
    """`cdk synth -c target=local` into ``work``: the asset exactly as CDK writes it."""
    assembly.synth(work / "cdk.out", {"target": "local"})
    return assembly.the_asset(work / "cdk.out")


def build(work: Path, python: str, ours: Path) -> dict[str, Path]:
    """Code dirs for the baselines, plus the shared SDK dir; returns {name: dir}."""
    sdk, empty, raw, floor = work / "sdk", work / "empty", work / "raw", work / "floor"
    # The plain way: pip install (which compiles bytecode), nothing pruned; the same botocore as
    # ours and its boto3, moved to the shared SDK dir as the runtime's would be.
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-qq",
            "--disable-pip-version-check",
            "--target",
            str(empty),
            "-r",
            str(ROOT / "requirements" / "runtime.txt"),
            f"boto3=={_locked('boto3')}",
        ],
        check=True,
    )
    sdk.mkdir()
    for name in os.listdir(empty):
        if name.split("-")[0].removesuffix(".py") in SDK_FAMILY:
            shutil.move(empty / name, sdk / name)
    shutil.rmtree(empty / "bin", ignore_errors=True)
    shutil.copytree(empty, floor)  # the same plain install, plus the raw handler behind FastAPI
    shutil.copy(BENCH / "baselines" / "empty_app.py", empty)
    for baseline in ("floor_app.py", "raw_handler.py"):
        shutil.copy(BENCH / "baselines" / baseline, floor)
    raw.mkdir()
    shutil.copy(BENCH / "baselines" / "raw_handler.py", raw)
    for code in (empty, floor, raw):
        subprocess.run([python, "-m", "compileall", "-q", str(code)], check=True)
    return {"ours": ours, "empty": empty, "floor": floor, "raw": raw, "sdk": sdk}


def _env(code: Path, sdk: Path | None) -> dict[str, str]:
    paths = [code, sdk, BENCH] if sdk else [code, BENCH]  # ours: its own SDK, nothing else
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(map(str, paths)),
        "PYTHONDONTWRITEBYTECODE": "1",
        "TABLE_NAME": "bench",
        "CURSOR_SECRET": "bench-secret",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "n": len(ordered),
    }


def cold(python: str, dirs: dict[str, Path], runs: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {name: [] for name in TARGETS}
    cpu: dict[str, list[float]] = {name: [] for name in TARGETS}
    rss: dict[str, list[int]] = {name: [] for name in TARGETS}
    for _ in range(runs):
        for name, target in TARGETS.items():
            out = subprocess.run(
                [python, "-s", "-B", str(BENCH / "child.py"), "cold", target],
                env=_env(dirs[name], None if name == "ours" else dirs["sdk"]),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            samples[name].append(result["seconds"] * 1000)
            cpu[name].append(result["cpu_seconds"] * 1000)
            rss[name].append(result["rss_kib"])
    return {
        name: {
            "cpu": _summary(cpu[name]),
            "wall": _summary(values),
            "peak_rss_mib": statistics.median(rss[name]) / 1024,
        }
        for name, values in samples.items()
    }


def warm(python: str, dirs: dict[str, Path], rounds: int, batch: int) -> dict[str, Any]:
    workers = {
        name: subprocess.Popen(
            [python, "-s", "-B", str(BENCH / "child.py"), "warm", target],
            env=_env(dirs[name], None if name == "ours" else dirs["sdk"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name, target in WARM.items()
    }
    from bench.events import ROUTES

    timings: dict[str, dict[str, list[float]]] = {n: {r: [] for r in ROUTES} for n in workers}
    in_sdk: dict[str, dict[str, list[float]]] = {n: {r: [] for r in ROUTES} for n in workers}
    calls: dict[str, dict[str, Any]] = {n: {} for n in workers}
    try:
        for _ in range(rounds):
            for route in ROUTES:
                for name, worker in workers.items():
                    assert worker.stdin and worker.stdout
                    worker.stdin.write(json.dumps([route, batch]) + "\n")
                    worker.stdin.flush()
                    answer = json.loads(worker.stdout.readline())
                    timings[name][route] += [ns / 1000 for ns in answer["ns"]]
                    in_sdk[name][route] += [ns / 1000 for ns in answer["sdk_ns"]]
                    calls[name][route] = answer["calls"]
    finally:
        for worker in workers.values():
            if worker.stdin:
                worker.stdin.close()
            worker.wait(timeout=10)
    return {
        route: {
            name: {
                **_summary(timings[name][route]),
                "sdk_median": statistics.median(in_sdk[name][route]),
                "dynamodb_calls": calls[name][route],
            }
            for name in workers
        }
        for route in ROUTES
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--cold-runs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    parser.add_argument(
        "--capacity",
        choices=("yes", "no", "only"),
        default="yes",
        help="DynamoDB capacity per route, on DynamoDB Local (bench/capacity.py)",
    )
    args = parser.parse_args()
    if args.capacity == "only":
        report = {"dynamodb_capacity": capacity.measure()}
        capacity.print_report(report["dynamodb_capacity"])
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        started = time.monotonic()
        asset = synthesized_asset(Path(tmp))
        version = asset.python_version
        python = bytecode_interpreter(version)  # the one the synth compiled the bytecode with
        if python is None:
            raise SystemExit(f"no Python {version} (the runtime's) to run the asset on")
        print(
            f"Python {version} ({python}) on {platform.machine()}, {os.cpu_count()} cores; "
            f"ours: {asset.directory.name} ({asset.architecture})",
            flush=True,
        )
        dirs = build(Path(tmp), python, asset.directory)
        print(f"synthesized and built the stacks in {time.monotonic() - started:.0f} s", flush=True)
        sizes = {name: zipped_size(dirs[name]) for name in ("ours", "empty")}
        cold_results = cold(python, dirs, args.cold_runs)
        warm_results = warm(python, dirs, args.rounds, args.batch)

    report = {
        "machine": {
            "arch": platform.machine(),
            "cpus": os.cpu_count(),
            "python": version,
            "load_average": os.getloadavg(),
        },
        "asset": asset.directory.name,
        "cold_start_ms": cold_results,
        "warm_us": warm_results,
        "asset_bytes": {n: {"zipped": z, "unzipped": u} for n, (u, z) in sizes.items()},
    }
    if args.capacity == "yes":
        report["dynamodb_capacity"] = capacity.measure_or_skip()
    _print(report)
    if args.capacity == "yes":
        capacity.print_or_skip(report["dynamodb_capacity"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {args.output}")
    return 0


def _print(report: dict[str, Any]) -> None:
    cold_ms = report["cold_start_ms"]
    print("\nCold start: import handler + first GET /health (ms; CPU time, wall clock beside)")
    print(
        f"{'stack':<8}{'cpu med':>9}{'p99':>8}{'x empty':>9}{'x raw':>8}"
        f"{'wall med':>10}{'x empty':>9}{'peak RSS MiB':>14}"
    )
    for name, row in cold_ms.items():
        cpu, wall = row["cpu"], row["wall"]
        print(
            f"{name:<8}{cpu['median']:>9.1f}{cpu['p99']:>8.1f}"
            f"{cpu['median'] / cold_ms['empty']['cpu']['median']:>9.2f}"
            f"{cpu['median'] / cold_ms['raw']['cpu']['median']:>8.2f}"
            f"{wall['median']:>10.1f}{wall['median'] / cold_ms['empty']['wall']['median']:>9.2f}"
            f"{row['peak_rss_mib']:>14.1f}"
        )
    print("\nWarm invocations through handler(event, context) (µs of CPU time)")
    print(
        f"{'route':<26}{'ours':>7}{'p99':>7}{'floor':>7}{'p99':>7}{'raw':>7}{'p99':>7}"
        f"{'ours x raw':>11}{'floor x raw':>12}  DynamoDB calls"
    )
    for route, row in report["warm_us"].items():
        ours, floor, raw = row["ours"], row["floor"], row["raw"]
        print(
            f"{route:<26}{ours['median']:>7.0f}{ours['p99']:>7.0f}{floor['median']:>7.0f}"
            f"{floor['p99']:>7.0f}{raw['median']:>7.0f}{raw['p99']:>7.0f}"
            f"{ours['median'] / raw['median']:>11.2f}{floor['median'] / raw['median']:>12.2f}"
            f"  {ours['dynamodb_calls']}"
        )
    print("\nOf which inside the SDK's client call | outside it (medians, µs)")
    print(f"{'route':<26}{'ours':>13}{'floor':>13}{'raw':>13}")
    for route, row in report["warm_us"].items():
        cells = [
            f"{row[name]['sdk_median']:>6.0f} |{row[name]['median'] - row[name]['sdk_median']:>5.0f}"
            for name in WARM
        ]
        print(f"{route:<26}" + "".join(f"{cell:>13}" for cell in cells))
    print("\nAsset size (MiB)")
    for name, size in report["asset_bytes"].items():
        print(
            f"{name:<8} zipped {size['zipped'] / 2**20:6.2f}   unzipped {size['unzipped'] / 2**20:6.2f}"
        )


if __name__ == "__main__":
    sys.exit(main())
