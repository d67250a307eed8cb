"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

import httpx

from app import create_app
from settings import Settings


async def _get(settings: Settings, path: str) -> httpx.Response:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        return await http.get(path)


async def test_healthz_and_readyz(http: httpx.AsyncClient, settings: Settings) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["cache"].startswith("ok")
    assert ready.headers["x-request-id"]


async def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings, tmp_path: Any) -> None:
    broken = settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db"})
    response = await _get(broken, "/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unreachable"
    assert (await _get(broken, "/healthz")).status_code == 200


async def test_readyz_is_degraded_not_503_when_configured_redis_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    response = await _get(broken, "/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "checks": {"database": "ok", "cache": "unreachable"}}


async def test_request_id_is_echoed_when_well_formed(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz", headers={"x-request-id": "abc-123"})).headers["x-request-id"] == "abc-123"
    assert (await http.get("/healthz", headers={"x-request-id": "bad id\n"})).headers["x-request-id"] != "bad id\n"


async def test_an_oversized_body_is_refused_before_graphql(http: httpx.AsyncClient) -> None:
    big = {"query": "{ homepage { variant } }", "variables": {"padding": "x" * 70_000}}
    response = await http.post("/graphql", json=big, headers={"x-request-id": "big-1"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert response.headers["x-request-id"] == "big-1"
