"""``make stack``: deploy this CDK app into MiniStack on 127.0.0.1 and serve it until Ctrl-C.

Starts the emulator (installing its environment first if needed), runs ``cdk bootstrap`` and
``cdk deploy -c target=local``, creates the demo customer and staff member, writes the stack's
outputs (``ApiUrl`` as a local URL, plus the emulator's ``Endpoint``) to
``.build/outputs-local.json``, prints how to get a token and call the API, and waits. Ctrl-C
(or SIGTERM, SIGHUP) stops the emulator and everything it started, and removes its state.

Exit status: 0 after Ctrl-C, 1 if the deploy or the emulator failed, 2 if the port is taken.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from infra import bundling
from infra.local_stack import cdk, emulator, users
from infra.local_stack.cdk import STACK

OUTPUTS = bundling.REPO_ROOT / ".build" / "outputs-local.json"
RUNS = emulator.HOME / "runs"


class Stopped(Exception):
    """SIGTERM or SIGHUP: stop like Ctrl-C."""


def _stop_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make stack",
        description="Deploy the stack into a local AWS emulator (MiniStack) and serve it.",
    )
    parser.add_argument(
        "--port", type=int, default=emulator.DEFAULT_PORT, help="emulator port on 127.0.0.1"
    )
    parser.add_argument(
        "--outputs", type=Path, default=OUTPUTS, help="where to write the stack's outputs"
    )
    parser.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="more CDK context for the deploy, e.g. reservation_minutes=1 (repeatable)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="emulator state, logs, cloud assembly (default: a fresh directory, removed at exit)",
    )
    args = parser.parse_args(argv)
    for item in args.context:
        key = item.partition("=")[0]
        if "=" not in item or not key:
            parser.error(f"--context takes KEY=VALUE, got {item!r}")
        if key == "target":
            parser.error("--context target=...: make stack always deploys target=local")
    return args


def token_command(endpoint: str, client_id: str, user: users.DemoUser) -> str:
    """A shell command that prints ``user``'s access token: Cognito's InitiateAuth over curl
    (an unsigned call, as against the real service), the JSON read by python3."""
    request = json.dumps(
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": client_id,
            "AuthParameters": {"USERNAME": user.username, "PASSWORD": user.password},
        },
        separators=(",", ":"),
    )
    extract = 'import json,sys; print(json.load(sys.stdin)["AuthenticationResult"]["AccessToken"])'
    return (
        f"curl -s {endpoint}/ -H 'Content-Type: application/x-amz-json-1.1' "
        "-H 'X-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth' "
        f"-d {shlex.quote(request)} | python3 -c {shlex.quote(extract)}"
    )


def banner(outputs: dict[str, str], outputs_file: Path) -> str:
    endpoint, api = outputs["Endpoint"], outputs["ApiUrl"]
    customer, staff = users.CUSTOMER, users.STAFF
    product = '{"sku":"MUG-1","name":"Mug","price":1200,"currency":"EUR","stock":10}'
    order = (
        '{"items":[{"sku":"MUG-1","quantity":2}],"shipping_address":{"name":"Alice",'
        '"line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}'
    )
    json_header = "-H 'Content-Type: application/json'"
    commands = [
        f"API={shlex.quote(api)}",
        f"ALICE=$({token_command(endpoint, outputs['UserPoolClientId'], customer)})",
        f"BOB=$({token_command(endpoint, outputs['UserPoolClientId'], staff)})",
        f'curl -s -X POST "${{API}}products" -H "Authorization: Bearer $BOB" {json_header} '
        f"-d {shlex.quote(product)}",
        f'curl -s -X POST "${{API}}orders" -H "Authorization: Bearer $ALICE" {json_header} '
        f"-H 'Idempotency-Key: first-try' -d {shlex.quote(order)}",
        'curl -s "${API}orders" -H "Authorization: Bearer $ALICE"',
    ]
    lines = [
        "",
        f"Stack {STACK} is deployed into MiniStack at {endpoint}.",
        f"  API:      {api}   (public: {api}docs)",
        f"  Outputs:  {outputs_file}",
        f"  Users:    {customer.username} / {customer.password} (customer), "
        f"{staff.username} / {staff.password} (staff: group {', '.join(staff.groups)})",
        "",
        "Get a token for each user and call the API (bash):",
        *(f"  {command}" for command in commands),
        "",
        "Serving until Ctrl-C.",
    ]
    return "\n".join(lines)


@contextmanager
def _timed(what: str) -> Iterator[None]:
    """Prints how long a step took: the figures docs/deploy.md quotes come from these lines."""
    started = time.monotonic()
    yield
    print(f"make stack: {what} in {time.monotonic() - started:.1f} s", flush=True)


def _check_loopback(running: emulator.MiniStack) -> None:
    exposed = emulator.beyond_loopback(emulator.listeners(running.processes()))
    if exposed:
        raise emulator.EmulatorError(f"MiniStack listens beyond loopback: {exposed}")


def serve(args: argparse.Namespace) -> int:
    running: emulator.MiniStack | None = None
    work_dir = args.work_dir
    own_work_dir = work_dir is None
    wrote_outputs = False
    try:
        emulator.ensure_port_free(args.port)
        with _timed("MiniStack's environment ready"):
            env = emulator.install()
        if own_work_dir:
            RUNS.mkdir(parents=True, exist_ok=True)
            work_dir = Path(tempfile.mkdtemp(dir=RUNS, prefix=f"{args.port}-"))
        work_dir.mkdir(parents=True, exist_ok=True)
        print(f"Starting MiniStack on {emulator.HOST}:{args.port} ...", flush=True)
        with _timed("MiniStack started"):
            running = emulator.start(env, args.port, work_dir)
        _check_loopback(running)
        endpoint = running.endpoint
        with _timed("cdk bootstrap done"):
            cdk.bootstrap(endpoint, work_dir)
        with _timed("cdk deploy done"):
            outputs = cdk.local_outputs(
                endpoint, cdk.deploy(endpoint, STACK, work_dir, args.context)
            )
        idp = cdk.client("cognito-idp", endpoint)
        for user in users.DEMO_USERS:
            users.create_user(idp, outputs["UserPoolId"], user)
        args.outputs.parent.mkdir(parents=True, exist_ok=True)
        args.outputs.write_text(json.dumps({STACK: outputs}, indent=2) + "\n")
        wrote_outputs = True
        _check_loopback(running)
        print(banner(outputs, args.outputs), flush=True)
        while running.running():
            time.sleep(0.5)
        print(f"MiniStack exited unexpectedly:\n{running.log_tail()}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Stopped):
        return 0
    except emulator.PortInUse as error:
        print(f"make stack: {error}", file=sys.stderr)
        return 2
    except (emulator.EmulatorError, cdk.DeployError) as error:
        print(f"make stack: {error}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        if running is not None:
            print("Stopping MiniStack ...", flush=True)
            with _timed("MiniStack stopped"):
                running.stop()
        if wrote_outputs:
            args.outputs.unlink(missing_ok=True)
        if own_work_dir and work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)
        if running is not None:
            print("Stopped: MiniStack and everything it started have exited.", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    # Ctrl-C stops it even where SIGINT came in ignored (a parent that ignores it, such as a
    # test runner's worker, passes that on, and Python then installs no handler of its own).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGHUP, _stop_on_signal)
    return serve(args)


if __name__ == "__main__":
    status = main()
    # Everything this command started is stopped by now. Importing the app's modules started
    # jsii's node process, a child in the terminal's process group that a Ctrl-C has ended
    # too; jsii's exit hook would fail writing to it. Leave without exit hooks: the process's
    # end closes the pipe, which ends that node process if it is still there.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
