"""Shared fixtures: a real database (SQLite, or PostgreSQL when TEST_DATABASE_URL is set), a real
cache (memory, or Redis when TEST_REDIS_URL is set), the app behind its HTTP endpoint, and a
statement counter.

In CI (CI=true) a configured PostgreSQL or Redis that cannot be reached fails the run; nothing
that needs them is ever skipped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import event, text
from starlette.applications import Starlette

from app import create_app
from datasources.db.demo import seed_demo_data
from datasources.db.engine import create_engine
from datasources.db.migrate import upgrade_to_head
from datasources.db.scratch import create_database, drop_database
from settings import ROOT, Settings, load_settings
from support import ANCHOR, HIGH_RATE_LIMITS, TEST_SCALE, drop_redis_keys


@dataclass(frozen=True)
class Backend:
    database_url: str
    redis_url: str | None
    redis_prefix: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
async def backend(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Backend]:
    """A fresh database (and Redis key prefix) for this run, migrated and seeded."""
    run_id = uuid.uuid4().hex[:10]
    admin_url = os.environ.get("TEST_DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL") or None
    created_database = None
    if admin_url:
        created_database = f"hbff_test_{run_id}"
        try:
            database_url = await create_database(admin_url, created_database)
        except (OSError, asyncpg.PostgresError) as exc:
            pytest.fail(f"TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {exc}", pytrace=False)
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    if redis_url:
        client = Redis.from_url(redis_url)
        try:
            await client.ping()
        except Exception as exc:
            pytest.fail(f"TEST_REDIS_URL is set but Redis cannot be reached: {exc}", pytrace=False)
        finally:
            await client.aclose()

    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    await seed_demo_data(engine, scale=TEST_SCALE, anchor=ANCHOR)
    await engine.dispose()
    prefix = f"hbff-test-{run_id}:"
    yield Backend(database_url, redis_url, prefix)

    if redis_url:
        await drop_redis_keys(redis_url, prefix)
    if created_database and admin_url:
        await drop_database(admin_url, created_database)


@pytest.fixture(scope="session")
def settings(backend: Backend) -> Settings:
    return load_settings(
        database_url=backend.database_url,
        redis_url=backend.redis_url,
        redis_key_prefix=backend.redis_prefix,
        seed_demo_data=False,
        ranking_refresh_seconds=0,  # tests refresh the boards themselves, at the clock they choose
        # Off unless a test turns it on: tests run the job function with a clock they move.
        consult_jobs_enabled=False,
        # The suite makes thousands of requests from one address: limits high enough never to throttle
        # it. tests/ratelimit tests the real defaults on apps of their own.
        **HIGH_RATE_LIMITS,
        # Off in the shared app, so that no test reads an answer another test left in the cache; the
        # cache's own tests run apps with it on.
        response_cache_enabled=False,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings, clock=lambda: ANCHOR)
    async with application.router.lifespan_context(application):
        yield application


class GraphQLClient:
    """Talks to /graphql over real HTTP semantics (httpx through the ASGI transport)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}})
        assert response.headers["content-type"].startswith("application/"), response.text
        body: dict[str, Any] = response.json()
        return body

    async def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a request that must succeed without errors."""
        body = await self.execute(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def error_codes(self, query: str, variables: dict[str, Any] | None = None) -> list[str]:
        body = await self.execute(query, variables)
        assert body.get("errors"), f"expected errors, got {body}"
        return [error.get("extensions", {}).get("code") for error in body["errors"]]


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield GraphQLClient(http)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []


@pytest.fixture
def assert_num_queries(app: Starlette) -> Any:
    """`with assert_num_queries(n): ...` fails, listing every statement, when the count differs."""
    engine = app.state.resources.engine.sync_engine

    @contextmanager
    def counting(expected: int) -> Iterator[StatementCounter]:
        counter = StatementCounter()

        def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            counter.statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", record)
        if len(counter.statements) != expected:
            listing = "\n\n".join(f"[{i}] {s}" for i, s in enumerate(counter.statements, 1))
            pytest.fail(f"expected {expected} SQL statements, ran {len(counter.statements)}:\n\n{listing}")

    return counting


@pytest.fixture
def raw_rows(app: Starlette) -> Any:
    """Plain SQL reads for computing expected values independently of the code under test."""
    engine = app.state.resources.engine

    async def fetch(sql: str, **params: Any) -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            result = await conn.execute(text(sql), params)
            return [dict(row._mapping) for row in result]

    return fetch


@pytest.fixture(scope="session")
def live_server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn process serving the app over TCP on the test database."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": backend.database_url,
        "REDIS_URL": backend.redis_url or "",
        "REDIS_KEY_PREFIX": backend.redis_prefix,
        "RANKING_REFRESH_SECONDS": "0",
        "ENV": "dev",
        "CONSULT_JOBS_ENABLED": "false",
        **{name.upper(): str(value) for name, value in HIGH_RATE_LIMITS.items()},
    }
    # The server's output goes to a file: a pipe nobody reads would fill up and stall the server.
    log = tmp_path_factory.mktemp("live") / "server.log"
    log_file = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log_file.close()
            pytest.fail(f"live server did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    yield base
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log_file.close()
