"""``python -m loadtest``: start the local server, drive it from several processes for a bounded
time, then check the invariants on the data itself and report throughput and latency per route.

Exits 1 if an invariant fails. Results go to load-results/results.json (see --out).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from loadtest.workload import run_worker

QUANTILES = (0.5, 0.95, 0.99)


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def _scan(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**params)  # the checker reads everything; the service never scans
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def check_invariants(
    server: Any, initial_stock: dict[str, int], reports: list[dict[str, Any]], faults: bool
) -> dict[str, dict[str, Any]]:
    from lambda_app.repository import codec, keys

    items = _scan(server.inspector, server.settings.table_name)
    products = {
        p.sku: p
        for p in (codec.item_to_product(i) for i in items if i["SK"]["S"] == keys.PRODUCT_SK)
    }
    orders = [codec.item_to_order(i) for i in items if i["SK"]["S"] == keys.ORDER_SK]
    idempotency_records = sum(1 for i in items if i["SK"]["S"] == keys.IDEMPOTENCY_SK)
    results: dict[str, dict[str, Any]] = {}

    # 1. Stock: initial + restocked = current + reserved by live (non-cancelled) orders.
    reserved: Counter[str] = Counter()
    for order in orders:
        if order.status.value != "CANCELLED":
            for line in order.items:
                reserved[line.sku] += line.quantity
    restocked: Counter[str] = Counter()
    for report in reports:
        restocked.update(report["restocked"])
    stock_errors = {
        sku: {
            "initial": initial_stock.get(sku, 0),
            "restocked": restocked[sku],
            "current": product.stock,
            "live_orders": reserved[sku],
        }
        for sku, product in products.items()
        if initial_stock.get(sku, 0) + restocked[sku] != product.stock + reserved[sku]
        or product.stock < 0
    }
    results["stock_conserved"] = {"ok": not stock_errors, "mismatches": stock_errors}

    # 2. One order per Idempotency-Key; no order the clients did not (or could not) learn of.
    keys_seen: dict[str, list[str]] = {}
    unknown: set[str] = set()
    for report in reports:
        keys_seen.update(report["keys"])
        unknown.update(report["unknown_keys"])
    multiple = {k: ids for k, ids in keys_seen.items() if len(ids) > 1}
    known_ids = {order_id for ids in keys_seen.values() for order_id in ids}
    stored_ids = {order.id for order in orders}
    load_orders = {o.id for o in orders if o.customer_id.startswith("w")}
    untracked = load_orders - known_ids
    unknown_without_answer = unknown - {k for k, ids in keys_seen.items() if ids}
    results["one_order_per_key"] = {
        "ok": not multiple
        and known_ids <= stored_ids
        and len(untracked) <= len(unknown_without_answer)
        and idempotency_records == len(load_orders),
        "keys": len(keys_seen),
        "orders": len(load_orders),
        "idempotency_records": idempotency_records,
        "keys_with_several_orders": multiple,
        "orders_answered_but_missing": sorted(known_ids - stored_ids),
        "orders_never_answered": len(untracked),
        "keys_never_answered": len(unknown_without_answer),
    }

    # 3. Concurrent If-Match edits: at most one winner; every 412 left the order unchanged.
    rounds = [r for report in reports for r in report["edit_rounds"]]
    bad_rounds = [
        r
        for r in rounds
        if r["won"] > 1
        or r["after"] is None
        or r["after"] != r["before"] + r["won"]
        or any(v != r["before"] + r["won"] for v in r["current_versions_in_412"])
        or r["won"] + r["stale"] + r["unknown"] != 3
    ]
    results["if_match_rounds"] = {
        "ok": not bad_rounds,
        "rounds": len(rounds),
        "rounds_with_a_winner": sum(1 for r in rounds if r["won"] == 1),
        "failures": bad_rounds[:20],
    }

    # 4. No 5xx but the 503s the injected faults explain; every error is problem+json.
    statuses: Counter[int] = Counter()
    for report in reports:
        for counts in report["statuses"].values():
            statuses.update({int(code): n for code, n in counts.items()})
    unexpected = [u for report in reports for u in report["unexpected"]]
    server_errors = {code: n for code, n in statuses.items() if code >= 500}
    allowed = {503} if faults else set()
    results["no_unexpected_5xx"] = {
        "ok": not unexpected and set(server_errors) <= allowed,
        "server_errors": server_errors,
        "examples": unexpected[:10],
    }
    violations = [v for report in reports for v in report["violations"]]
    results["client_visible_rules"] = {"ok": not violations, "violations": violations[:20]}
    return results


def summarize(reports: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for report in reports:
        for route, values in report["latencies"].items():
            latencies[route] += values
        for route, counts in report["statuses"].items():
            statuses[route].update({int(code): n for code, n in counts.items()})
    routes = {}
    for route in sorted(latencies):
        values = sorted(latencies[route])
        routes[route] = {
            "requests": len(values),
            "rps": round(len(values) / wall, 1),
            **{f"p{round(q * 100)}_ms": round(_quantile(values, q) * 1000, 2) for q in QUANTILES},
            "max_ms": round(values[-1] * 1000, 2),
            "statuses": dict(sorted(statuses[route].items())),
        }
    total = sum(r["requests"] for r in routes.values())
    return {"requests": total, "rps": round(total / wall, 1), "routes": routes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument("--workers", type=int, default=4, help="client processes (4)")
    parser.add_argument(
        "--faults",
        type=float,
        nargs="?",
        const=0.05,
        default=0.0,
        metavar="RATE",
        help="inject DynamoDB faults into RATE of the calls (0.05 if no RATE given)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("load-results/results.json"))
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 3600 or not 1 <= args.workers <= 32 or not 0 <= args.faults < 1:
        parser.error("--duration 0..3600 s, --workers 1..32, --faults 0..1")

    from loadtest.server import LocalServer

    args.out.parent.mkdir(parents=True, exist_ok=True)
    server_log = args.out.with_name(args.out.stem + "-server.log")
    print(
        f"load: {args.workers} workers for {args.duration:g} s, faults {args.faults:.0%}; "
        f"server log {server_log}",
        flush=True,
    )
    with server_log.open("w") as log, contextlib.redirect_stdout(log):
        server = LocalServer(args.faults, args.seed).start()
        try:
            initial = {
                sku: server.app.state.services.products.get(sku).stock
                for sku in (
                    "TSHIRT-BLK-M",
                    "TSHIRT-WHT-L",
                    "HOODIE-GRY-M",
                    "MUG-LOGO",
                    "STICKER-PACK",
                    "CAP-NAVY",
                )
            }
            server.faults.enabled = args.faults > 0
            started = time.monotonic()
            context = multiprocessing.get_context("spawn")
            jobs = [(i, server.base_url, args.duration, args.seed) for i in range(args.workers)]
            with context.Pool(args.workers) as pool:
                reports = pool.map(run_worker, jobs)
            wall = time.monotonic() - started
            server.faults.enabled = False
            invariants = check_invariants(server, initial, reports, args.faults > 0)
            injected = dict(server.faults.injected)
        finally:
            server.stop()
    results = {
        "command": "python -m loadtest " + " ".join(sys.argv[1:] if argv is None else argv),
        "duration_s": round(wall, 2),
        "workers": args.workers,
        "fault_rate": args.faults,
        "faults_injected": injected,
        **summarize(reports, wall),
        "invariants": invariants,
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    _print(results)
    failed = [name for name, result in invariants.items() if not result["ok"]]
    if failed:
        print("INVARIANTS FAILED: " + ", ".join(failed), file=sys.stderr)
        return 1
    print(f"all invariants hold; results in {args.out}")
    return 0


def _print(results: dict[str, Any]) -> None:
    print(
        f"\n{results['requests']} requests in {results['duration_s']} s = {results['rps']} req/s "
        f"({results['workers']} workers, faults injected: {results['faults_injected'] or 'none'})"
    )
    print(f"{'route':<28}{'req':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  statuses")
    for route, r in results["routes"].items():
        print(
            f"{route:<28}{r['requests']:>7}{r['rps']:>8}{r['p50_ms']:>9}{r['p95_ms']:>9}"
            f"{r['p99_ms']:>9}  {r['statuses']}"
        )
    for name, result in results["invariants"].items():
        detail = {k: v for k, v in result.items() if k != "ok" and v not in ({}, [], None)}
        print(f"{'ok  ' if result['ok'] else 'FAIL'} {name}: {json.dumps(detail)[:300]}")


if __name__ == "__main__":
    sys.exit(main())
