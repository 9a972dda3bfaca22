"""The local server as ``order-api serve`` runs it: the app under uvicorn against an embedded
DynamoDB, both on 127.0.0.1, in threads of this process; stopped by ``stop()``."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import uvicorn

from lambda_app.api.app import create_app
from lambda_app.local.dynamodb_server import EmbeddedDynamoDB
from lambda_app.local.seed import seed_catalog
from lambda_app.repository.client import make_client
from lambda_app.repository.tables import ensure_table
from lambda_app.settings import Settings
from loadtest.faults import FaultInjector

TABLE = "orders-load"


class LocalServer:
    def __init__(self, fault_rate: float = 0.0, seed: int = 7) -> None:
        # Local credentials only: nothing here may reach a real AWS account.
        os.environ["AWS_ACCESS_KEY_ID"] = "local"
        os.environ["AWS_SECRET_ACCESS_KEY"] = "local"  # noqa: S105 - not a secret
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)
        self.dynamo = EmbeddedDynamoDB(host="127.0.0.1").start()
        endpoint = self.dynamo.endpoint_url
        self.settings = Settings(
            TABLE_NAME=TABLE,
            AWS_ENDPOINT_URL_DYNAMODB=endpoint,
            ORDER_API_DEV_AUTH=True,
            ORDER_API_OFFLOAD=True,
            AWS_REGION="us-east-1",
        )
        # Its own client for the app (faults go there); another, clean one to check the data.
        self.client: Any = make_client(self.settings.region, endpoint)
        self.inspector: Any = make_client(self.settings.region, endpoint)
        ensure_table(self.inspector, TABLE)
        self.app = create_app(self.settings, self.client)
        seed_catalog(self.app.state.services.products)
        self.faults = FaultInjector(fault_rate, seed).install(self.client)
        self.faults.enabled = False
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            self.app, lifespan="off", log_level="error", access_log=False, backlog=256
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._socket.getsockname()
        return f"http://{host}:{port}"

    def start(self) -> LocalServer:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=15)
        self._socket.close()
        self.dynamo.stop()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
