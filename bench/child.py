"""Runs inside a fresh interpreter whose PYTHONPATH is one stack's code dir + the SDK dir.

cold:  import the handler, answer GET /health once; print the time and peak RSS.
warm:  install the botocore-level fake, import the handler, then answer batches on request.
"""

from __future__ import annotations

import importlib
import json
import sys
import time


def load(target: str):  # type: ignore[no-untyped-def]
    module, _, attribute = target.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def main() -> None:
    mode, target = sys.argv[1], sys.argv[2]
    if mode == "cold":
        from events import HEALTH, Context

        start = time.perf_counter()
        handler = load(target)
        response = handler(HEALTH, Context())
        elapsed = time.perf_counter() - start
        assert response["statusCode"] == 200, response
        # VmHWM, not ru_maxrss: the latter can carry the parent's peak across exec.
        with open("/proc/self/status") as status:
            rss_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
        print(json.dumps({"seconds": elapsed, "rss_kib": rss_kib}))
        return
    import fake_dynamodb
    from events import ROUTES, Context

    fake_dynamodb.install()
    handler = load(target)
    context = Context()
    for route, event in ROUTES.items():  # warm up, and check the answers are right
        response = handler(event, context)
        assert response["statusCode"] in (200, 201), (route, response)
    for line in sys.stdin:
        route, count = json.loads(line)
        event = ROUTES[route]
        fake_dynamodb.calls.clear()
        timings = []
        for _ in range(count):
            t0 = time.perf_counter_ns()
            handler(event, context)
            timings.append(time.perf_counter_ns() - t0)
        calls = {op: n // count for op, n in fake_dynamodb.calls.items()}
        print(json.dumps({"ns": timings, "calls": calls}), flush=True)


if __name__ == "__main__":
    main()
