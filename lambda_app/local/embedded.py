"""Which DynamoDB ``order-api serve`` embeds: DynamoDB Local where Java 17+ is present, else moto.

- ``local``: AWS's own engine (``dynamodb_local.py``), its data kept under ``.build/`` so a
  restart finds the catalog and the orders again.
- ``moto``: moto's server in a thread of this process (``dynamodb_server.py``), in memory.

``start_embedded`` starts the one asked for (or the default) and says, in a line for the
start-up banner, which engine it is, where its data lives and where it listens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lambda_app.local.dynamodb_local import DynamoDBLocal, why_unavailable
from lambda_app.local.dynamodb_server import EmbeddedDynamoDB

ENGINES = ("local", "moto")


@dataclass(frozen=True)
class Embedded:
    engine: str
    endpoint_url: str
    description: str
    stop: Callable[[], None]


def default_engine() -> tuple[str, str | None]:
    """("local", None) where DynamoDB Local can run, else ("moto", why not)."""
    missing = why_unavailable()
    return ("local", None) if missing is None else ("moto", missing)


def start_embedded(engine: str | None, data_dir: Path) -> Embedded:
    """Start ``engine`` (None: the default); DynamoDB Local keeps its data in ``data_dir``.
    Raises dynamodb_local.Unavailable or StartFailed when DynamoDB Local was asked for and
    cannot run."""
    fallback = None
    if engine is None:
        engine, fallback = default_engine()
    if engine == "local":
        server = DynamoDBLocal(data_dir).start()
        return Embedded(
            "local",
            server.endpoint_url,
            f"DynamoDB Local (AWS's engine) at {server.endpoint_url}, data kept in "
            f"{data_dir.resolve()}\n"
            "            DynamoDB Local has no option for its listening address: it listens on "
            f"port {server.port} of every interface (this server talks to it on 127.0.0.1 only)",
            server.stop,
        )
    if engine != "moto":
        raise ValueError(f"unknown DynamoDB engine {engine!r}; one of {', '.join(ENGINES)}")
    moto = EmbeddedDynamoDB(host="127.0.0.1").start()
    reason = f" ({fallback}: DynamoDB Local not used)" if fallback else ""
    return Embedded(
        "moto",
        moto.endpoint_url,
        f"moto at {moto.endpoint_url}, in memory: orders are lost when this server stops{reason}",
        moto.stop,
    )
