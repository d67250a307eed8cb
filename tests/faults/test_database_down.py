"""The database becomes unreachable mid-run and comes back: every request answers (no 5xx) with a
clean UNAVAILABLE error, `/readyz` answers 503, and once the database is back everything answers
again from the same app, without a restart.

PostgreSQL (TEST_DATABASE_URL set): a TCP proxy between the app and the server is cut (open
connections reset, new ones refused) and restored. SQLite: the database file is swapped for a
directory of the same name, so that opening it fails as on a lost disk, and swapped back.

What the app meets (checked while writing these tests): asyncpg raises a bare ConnectionRefusedError
on connect, not wrapped by SQLAlchemy; aiosqlite raises sqlite3.OperationalError ("unable to open
database file"), wrapped as sqlalchemy.exc.OperationalError. Both must become UNAVAILABLE.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fault_support import TcpProxy
from identity_support import make_staff, sandbox_code, staff_login
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

from app import create_app
from domain.enums import AdminRole
from settings import Settings
from support import ANCHOR

QUERY_PUBLIC = """
query Public {
  homepage { featuredDepartments { position department { id name } } }
  departments(first: 50) { totalCount nodes { id name } }
}
"""
LOGIN = "mutation($code: String!) { login(code: $code) { token } }"


@dataclass
class Outage:
    database_url: str
    cut: Callable[[], None]
    restore: Callable[[], None]
    # An open SQLite connection keeps reading the file it opened, wherever it is moved: the pool must
    # be emptied to meet the outage, as happens whenever the pool replaces its connections.
    empty_pool_after_cut: bool


@pytest.fixture
def outage(backend: Any, tmp_path: Path) -> Any:
    url = make_url(backend.database_url)
    if url.get_backend_name() == "postgresql":
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        proxy.restore()
        yield Outage(url.set(port=proxy.port).render_as_string(hide_password=False), proxy.cut, proxy.restore, False)
        proxy.close()
        return
    # A copy of the test database of this test alone, taken with SQLite's backup API (WAL included).
    assert url.database
    path = tmp_path / "faults.db"
    source, target = sqlite3.connect(url.database), sqlite3.connect(path)
    source.backup(target)
    source.close()
    target.close()
    aside = tmp_path / "faults.db.aside"

    def cut() -> None:
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                Path(f"{path}{suffix}").rename(f"{aside}{suffix}")
        path.mkdir()

    def restore() -> None:
        path.rmdir()
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{aside}{suffix}").exists():
                Path(f"{aside}{suffix}").rename(f"{path}{suffix}")

    yield Outage(f"sqlite+aiosqlite:///{path}", cut, restore, True)
    if path.is_dir():
        shutil.rmtree(path)


@pytest.fixture
async def own_app(settings: Settings, outage: Outage) -> AsyncIterator[Starlette]:
    app = create_app(
        settings.model_copy(
            update={"database_url": outage.database_url, "redis_key_prefix": f"faults-db-{uuid.uuid4().hex[:8]}:"}
        ),
        clock=lambda: ANCHOR,
    )
    async with app.router.lifespan_context(app):
        yield app


async def _post(http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text  # never a 5xx
    body: dict[str, Any] = response.json()
    return body


async def test_database_goes_away_and_comes_back(
    own_app: Starlette, outage: Outage, raw_rows: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    # given: the answer read with plain SQL, and the app serving it
    departments = await raw_rows("SELECT id, name FROM departments ORDER BY id")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=own_app), base_url="http://testserver") as http:
        before = await _post(http, QUERY_PUBLIC)
        assert "errors" not in before, before["errors"]
        assert before["data"]["departments"]["nodes"] == [{"id": str(r["id"]), "name": r["name"]} for r in departments]
        assert (await http.get("/readyz")).status_code == 200
        staff = await staff_login(http, await make_staff(own_app, [AdminRole.CONTENT_EDITOR]))

        # when: the database becomes unreachable
        outage.cut()
        if outage.empty_pool_after_cut:
            await own_app.state.resources.engine.dispose()

        # then: queries and mutations answer with a clean, retryable error, never a 5xx or a masked one
        for _ in range(3):
            body = await _post(http, QUERY_PUBLIC)
            assert body["data"] is None
            codes = {error["extensions"]["code"] for error in body["errors"]}
            assert codes == {"UNAVAILABLE"}, body["errors"]
            assert all(error["extensions"]["requestId"] for error in body["errors"])
        login = await _post(http, LOGIN, {"code": sandbox_code(f"db-down-{uuid.uuid4().hex[:6]}")})
        assert [error["extensions"]["code"] for error in login["errors"]] == ["UNAVAILABLE"]
        # a staff session is checked against the account in the database: it cannot be, so UNAVAILABLE
        response = await http.post(
            "/graphql", json={"query": "{ staffMe { id } }"}, headers={"authorization": f"Bearer {staff}"}
        )
        assert response.status_code == 200, response.text
        assert [error["extensions"]["code"] for error in response.json()["errors"]] == ["UNAVAILABLE"]
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()["checks"]["database"]) == (503, "unreachable")
        assert not [r for r in caplog.records if r.name == "hospital_bff.errors" and r.levelno >= logging.ERROR]

        # when: the database is back
        outage.restore()

        # then: the same app answers again, with the same data
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()["checks"]["database"]) == (200, "ok")
        after = await _post(http, QUERY_PUBLIC)
        assert "errors" not in after, after["errors"]
        assert after["data"] == before["data"]
        login = await _post(http, LOGIN, {"code": sandbox_code(f"db-back-{uuid.uuid4().hex[:6]}")})
        assert "errors" not in login and login["data"]["login"]["token"]
