"""Runs inside a fresh interpreter whose PYTHONPATH is one stack's code dir + the SDK dir.

cold:  import the handler, answer GET /health once; print the time and peak RSS.
warm:  install the botocore-level fake, import the handler, then answer batches on request.
Logging output goes to /dev/null: its cost is measured, its volume is not the benchmark's.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time


def load(target: str):  # type: ignore[no-untyped-def]
    module, _, attribute = target.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def main() -> None:
    mode, target = sys.argv[1], sys.argv[2]
    if mode == "cold":
        from events import HEALTH, Context

        start, cpu = time.perf_counter(), time.process_time()
        handler = load(target)
        response = handler(HEALTH, Context())
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert response["statusCode"] == 200, response
        # VmHWM, not ru_maxrss: the latter can carry the parent's peak across exec.
        with open("/proc/self/status") as status:
            rss_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
        print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "rss_kib": rss_kib}))
        return
    import fake_dynamodb
    from botocore.client import BaseClient
    from events import ROUTES, Context

    report = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the handler's log lines, for the run
    fake_dynamodb.install()
    # CPU time inside the SDK (serialize, sign, "send", parse), to tell the SDK's share of a
    # request from the framework's and the service's. Both stacks' clients go through here.
    in_sdk = [0]
    make_api_call = BaseClient._make_api_call

    def timed_api_call(self, operation_name, api_params):  # type: ignore[no-untyped-def]
        t0 = time.process_time_ns()
        try:
            return make_api_call(self, operation_name, api_params)
        finally:
            in_sdk[0] += time.process_time_ns() - t0

    BaseClient._make_api_call = timed_api_call  # type: ignore[method-assign]
    handler = load(target)
    context = Context()
    for route, event in ROUTES.items():  # warm up, and check the answers are right
        response = handler(event, context)
        assert response["statusCode"] in (200, 201), (route, response)
    for line in sys.stdin:
        route, count = json.loads(line)
        event = ROUTES[route]
        fake_dynamodb.calls.clear()
        timings, sdk = [], []
        for _ in range(count):
            # CPU time of this process: what the handler costs, robust to other processes
            # competing for a small machine's cores (Lambda gives the function its own share).
            in_sdk[0] = 0
            t0 = time.process_time_ns()
            handler(event, context)
            timings.append(time.process_time_ns() - t0)
            sdk.append(in_sdk[0])
        calls = {op: n // count for op, n in fake_dynamodb.calls.items()}
        print(json.dumps({"ns": timings, "sdk_ns": sdk, "calls": calls}), file=report, flush=True)


if __name__ == "__main__":
    main()
