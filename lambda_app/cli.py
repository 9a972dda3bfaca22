"""``order-api``: run the service locally, or create its table."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from lambda_app.local.expiry_loop import ExpiryLoop


def _serve(args: argparse.Namespace) -> int:
    if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:
        print(
            "order-api serve is for local development; refusing to run inside Lambda.",
            file=sys.stderr,
        )
        return 2
    try:
        import uvicorn

        from lambda_app.local import dynamodb_local
        from lambda_app.local.embedded import start_embedded
    except ImportError:
        print(
            "order-api serve needs the local extra: pip install 'lambda_app[local]'",
            file=sys.stderr,
        )
        return 2
    from lambda_app.api.app import create_app
    from lambda_app.local.seed import seed_catalog
    from lambda_app.repository.client import make_client
    from lambda_app.repository.tables import ensure_table
    from lambda_app.settings import Settings

    # Local credentials only: nothing here may reach a real AWS account by accident.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    # Ctrl-C, SIGTERM or a closed terminal end the process through `finally`, which stops the
    # embedded DynamoDB, without a traceback. uvicorn re-raises the signal it handled once it has
    # shut down: Python's default for SIGTERM would end the process on the spot.
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, _exit_on_signal)
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    if endpoint and args.dynamodb:
        print(
            f"order-api serve: --dynamodb {args.dynamodb} embeds a DynamoDB, but one is given "
            "(--endpoint-url or AWS_ENDPOINT_URL_DYNAMODB): use one or the other",
            file=sys.stderr,
        )
        return 2
    # Read (and checked) before anything starts: a bad setting stops serve at once.
    settings = Settings(
        AWS_ENDPOINT_URL_DYNAMODB=endpoint,
        ORDER_API_DEV_AUTH=True,
        ORDER_API_OFFLOAD=True,
        ORDER_API_DOCS_OFFLINE=True,
    )
    try:
        embedded = None if endpoint else start_embedded(args.dynamodb, Path(args.data_dir))
    except (dynamodb_local.Unavailable, dynamodb_local.StartFailed) as error:
        print(f"order-api serve: {error}", file=sys.stderr)
        return 2
    expiry = None
    try:
        if embedded is not None:
            endpoint = embedded.endpoint_url
            settings = settings.model_copy(update={"dynamodb_endpoint_url": endpoint})
        client = make_client(settings.region, endpoint)
        created = ensure_table(client, settings.table_name)
        app = create_app(settings, client)
        if embedded is not None and created:
            seed_catalog(app.state.services.products)  # once: a restart keeps what is there
        expiry = _expiry_loop(client, settings.table_name)
        base = f"http://{args.host}:{args.port}"
        print(
            f"Order API on {base}, table {settings.table_name}\n"
            f"  DynamoDB: {embedded.description if embedded else endpoint}\n"
            f"  Docs: {base}/docs\n"
            f"  Try:  curl -s {base}/products -H 'X-Dev-User: alice'\n"
            f"        curl -s {base}/orders -H 'X-Dev-User: alice' -H 'Content-Type: application/json' "
            """-d '{"items":[{"sku":"MUG-LOGO","quantity":1}],"shipping_address":{"name":"Alice","""
            """"line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}'\n"""
            f"  Staff: add -H 'X-Dev-Groups: admin'\n"
            f"  Reservations: a PENDING order holds its stock {settings.reservation_minutes} min "
            "(RESERVATION_MINUTES); expired ones are cancelled every 30 s",
            flush=True,
        )
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        if expiry is not None:
            expiry.stop()
        if embedded is not None:
            embedded.stop()
    return 0


def _exit_on_signal(number: int, _frame: object) -> None:
    raise SystemExit(128 + number)


def _expiry_loop(client: DynamoDBClient, table_name: str) -> ExpiryLoop:
    """The scheduled expiry job's run, every 30 s in a thread of this process."""
    from lambda_app.local.expiry_loop import ExpiryLoop
    from lambda_app.repository.dynamodb import DynamoRepository
    from lambda_app.service.expiry import ReservationExpiry

    return ExpiryLoop(ReservationExpiry(DynamoRepository(client, table_name))).start()


def _add_deadlines(args: argparse.Namespace) -> int:
    from lambda_app.repository.client import make_client
    from lambda_app.repository.dynamodb import DynamoRepository
    from lambda_app.service.expiry import ReservationExpiry
    from lambda_app.settings import Settings

    settings = Settings()
    endpoint = args.endpoint_url or settings.dynamodb_endpoint_url
    repository = DynamoRepository(make_client(settings.region, endpoint), settings.table_name)
    added = ReservationExpiry(repository).add_deadlines(settings.reservation)
    print(
        f"{added} PENDING orders in {settings.table_name} got a reservation deadline "
        f"(placed + {settings.reservation_minutes} min)"
    )
    return 0


def _create_table(args: argparse.Namespace) -> int:
    from lambda_app.repository.client import make_client
    from lambda_app.repository.tables import ensure_table
    from lambda_app.settings import Settings

    settings = Settings()
    endpoint = args.endpoint_url or settings.dynamodb_endpoint_url
    created = ensure_table(make_client(settings.region, endpoint), settings.table_name)
    print(f"Table {settings.table_name} {'created' if created else 'already exists'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="order-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API locally with dev identity headers")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--endpoint-url", help="use this DynamoDB instead of an embedded one")
    serve.add_argument(
        "--dynamodb",
        choices=("local", "moto"),
        help="the embedded DynamoDB: local = DynamoDB Local, AWS's engine (needs Java 17+; keeps "
        "its data in --data-dir), moto = in memory (default: local where Java 17+ is present)",
    )
    serve.add_argument(
        "--data-dir",
        default=".build/dynamodb-local",
        help="where DynamoDB Local keeps its data (default: %(default)s)",
    )
    serve.set_defaults(run=_serve)
    create = commands.add_parser("create-table", help="create the table (idempotent)")
    create.add_argument("--endpoint-url", help="DynamoDB endpoint (default: boto3's own)")
    create.set_defaults(run=_create_table)
    adopt = commands.add_parser(
        "add-reservation-deadlines",
        help="once after upgrading: give PENDING orders placed before reservations expired a "
        "deadline (placed + RESERVATION_MINUTES)",
    )
    adopt.add_argument("--endpoint-url", help="DynamoDB endpoint (default: boto3's own)")
    adopt.set_defaults(run=_add_deadlines)
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except ValidationError as error:
        # A setting out of range (RESERVATION_MINUTES=0): say which and why, then stop.
        for problem in error.errors():
            message = str(problem["msg"]).removeprefix("Value error, ")
            name = ".".join(str(part) for part in problem["loc"])
            print(
                f"order-api: {message if name in message else f'{name}: {message}'}",
                file=sys.stderr,
            )
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
