"""SignedInRoute calls an endpoint that takes nothing but the request directly, without FastAPI's
request handler; every other endpoint, and every route with dependencies, keeps that handler."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.testclient import TestClient
from starlette.responses import Response

from lambda_app.api import errors
from lambda_app.api.deps import Services, SignedInRoute, session_of

USER = {"X-Dev-User": "ada"}


def _refuse() -> None:
    raise HTTPException(status_code=403, detail="refused by the router's dependency")


def _app(**router_options: Any) -> FastAPI:
    router = APIRouter(route_class=SignedInRoute, **router_options)

    @router.get("/who/{name}")
    async def who(request: Request) -> Response:
        session = session_of(request)
        return Response(f"{session.caller.id} {request.path_params['name']}")

    @router.get("/count")
    async def count(request: Request, n: int = Query(ge=1)) -> Response:
        return Response(f"{session_of(request).caller.id} {n}")

    app = FastAPI()
    app.state.services = Services(
        products=None,  # type: ignore[arg-type]  # not called by these endpoints
        orders=None,  # type: ignore[arg-type]
        admin_group="admin",
        dev_auth=True,
        offload=False,
    )
    app.router.routes.extend(router.routes)
    errors.install(app)
    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(_app())


def test_a_request_only_endpoint_answers_with_the_session(client: TestClient) -> None:
    response = client.get("/who/x?ignored=1", headers=USER)
    assert (response.status_code, response.text) == (200, "ada x")


def test_a_request_only_endpoint_still_refuses_a_stranger(client: TestClient) -> None:
    response = client.get("/who/x")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_declared_parameters_are_still_validated_by_fastapi(client: TestClient) -> None:
    assert client.get("/count?n=3", headers=USER).text == "ada 3"
    assert client.get("/count?n=0", headers=USER).status_code == 422


def test_dependencies_of_the_router_still_run_for_request_only_endpoints() -> None:
    client = TestClient(_app(dependencies=[Depends(_refuse)]))
    assert client.get("/who/x", headers=USER).status_code == 403
    assert client.get("/count?n=3", headers=USER).status_code == 403
