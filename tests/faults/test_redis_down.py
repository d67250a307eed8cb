"""Redis dies mid-run and comes back: public queries keep answering from the database (200, same
data, no 5xx), signed-in requests fail closed with UNAVAILABLE (the revocation list cannot be read),
readiness says so, the outage is logged once, and everything recovers without a restart.

The Redis here is a redis-server process of this test alone, killed and restarted for real.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fault_support import RedisServer
from identity_support import make_staff, patient_login, staff_login
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
QUERY_ME = "query { me { id } }"
QUERY_STAFF_ME = "query { staffMe { id } }"
LOGOUT = "mutation { logout }"


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def own_app(settings: Settings, redis_server: RedisServer) -> AsyncIterator[Starlette]:
    """The app on the test database, with the Redis of this test (asked again every 50 ms in an outage)."""
    app = create_app(
        settings.model_copy(
            update={
                "redis_url": redis_server.url,
                "redis_key_prefix": f"faults-{uuid.uuid4().hex[:8]}:",
                "redis_retry_seconds": 0.05,
                # with its second tier in this Redis: cached answers must not depend on it either
                "response_cache_enabled": True,
            }
        ),
        clock=lambda: ANCHOR,
    )
    async with app.router.lifespan_context(app):
        yield app


async def _post(http: httpx.AsyncClient, query: str, token: str | None = None) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await http.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text  # never a 5xx
    body: dict[str, Any] = response.json()
    return body


async def _expected_public(raw_rows: Any) -> dict[str, Any]:
    """The answer to QUERY_PUBLIC, read with plain SQL."""
    featured = await raw_rows(
        "SELECT f.position, d.id, d.name FROM featured_departments f JOIN departments d ON d.id = f.department_id "
        "WHERE f.variant = 'STANDARD' ORDER BY f.position"
    )
    departments = await raw_rows("SELECT id, name FROM departments ORDER BY id")
    return {
        "homepage": {
            "featuredDepartments": [
                {"position": r["position"], "department": {"id": str(r["id"]), "name": r["name"]}} for r in featured
            ]
        },
        "departments": {
            "totalCount": len(departments),
            "nodes": [{"id": str(r["id"]), "name": r["name"]} for r in departments[:50]],
        },
    }


def _codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]


def _outage_lines(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records if record.name == "hospital_bff.cache")


async def test_redis_dies_and_returns(
    own_app: Starlette, redis_server: RedisServer, raw_rows: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hospital_bff.cache")
    expected = await _expected_public(raw_rows)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=own_app), base_url="http://testserver") as http:
        # given: a patient and a staff member signed in while Redis runs
        patient = await patient_login(http, f"redis-down-{uuid.uuid4().hex[:6]}")
        staff_user = await make_staff(own_app, [AdminRole.CONTENT_EDITOR])
        staff = await staff_login(http, staff_user)
        assert (await _post(http, QUERY_PUBLIC))["data"] == expected
        assert (await _post(http, QUERY_ME, patient))["data"]["me"]["id"]
        assert (await _post(http, QUERY_STAFF_ME, staff))["data"]["staffMe"]["id"] == str(staff_user.account_id)
        assert (await http.get("/readyz")).status_code == 200

        # when: Redis dies
        redis_server.kill()

        # then: public data still comes, complete, again and again: what was cached from the first tier,
        # and what was not (here: other variables) from the database
        for first in (50, 50, 3, 3, 2):
            body = await _post(http, QUERY_PUBLIC.replace("first: 50", f"first: {first}"))
            assert "errors" not in body, body["errors"]
            nodes = expected["departments"]["nodes"][:first]
            assert body["data"] == {**expected, "departments": {**expected["departments"], "nodes": nodes}}
        # signed-in requests fail closed, with a code that says "try again", not "sign in again"
        for token, query in ((patient, QUERY_ME), (staff, QUERY_STAFF_ME)):
            body = await _post(http, query, token)
            assert body["data"] is None
            assert _codes(body) == ["UNAVAILABLE"]
        # a logout that cannot be recorded says so instead of pretending
        assert _codes(await _post(http, LOGOUT, patient)) == ["UNAVAILABLE"]
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()["status"], ready.json()["checks"]["cache"]) == (
            200,
            "degraded",
            "unreachable",
        )
        # one log line for the whole outage, not one per call
        assert _outage_lines(caplog, "Redis unreachable") == 1

        # when: Redis comes back (empty: it kept nothing)
        redis_server.start()

        # then: readiness recovers without a restart, and so does everything else
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()["checks"]["cache"]) == (200, "ok")
        assert _outage_lines(caplog, "Redis answers again") == 1
        assert (await _post(http, QUERY_PUBLIC))["data"] == expected
        assert (await _post(http, QUERY_ME, patient))["data"]["me"]["id"]
        # the staff session's idle clock lived in the Redis that died: that session must sign in again
        assert _codes(await _post(http, QUERY_STAFF_ME, staff)) == ["UNAUTHENTICATED"]
        # (a second account: a one-time code is never accepted twice, and the test's clock stands still)
        other_user = await make_staff(own_app, [AdminRole.CONTENT_EDITOR])
        other = await staff_login(http, other_user)
        assert (await _post(http, QUERY_STAFF_ME, other))["data"]["staffMe"]["id"] == str(other_user.account_id)
        # and revocation works again: a logout now sticks
        assert (await _post(http, LOGOUT, patient))["data"] == {"logout": True}
        assert _codes(await _post(http, QUERY_ME, patient)) == ["UNAUTHENTICATED"]
        assert _outage_lines(caplog, "Redis unreachable") == 1
