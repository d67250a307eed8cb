"""Two separate uvicorn processes on one PostgreSQL and one Redis serve the same answers: the same
homepage and data, a write through one seen through the other, and one session state (a logout
through one is a logout everywhere).

Needs PostgreSQL and Redis: several instances on a SQLite file or an in-process cache is not a
supported deployment (see README, "Running several instances").
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fault_support import LiveServer, live_servers, server_env
from identity_support import codes, gql, make_staff, patient_login, staff_login
from sqlalchemy import delete, insert, select
from starlette.applications import Starlette

from datasources.db.tables import FeaturedDepartment
from domain.enums import AdminRole

QUERY_HOME = """query { homepage { featuredDepartments { position blurb department { id name } } } }"""
QUERY_PUBLIC = """query { departments(first: 50) { totalCount nodes { id name } }
  staff(first: 10) { totalCount nodes { id name } } }"""
SET_FEATURED = """mutation($items: [FeaturedDepartmentInput!]!) {
  setFeaturedDepartments(variant: STANDARD, items: $items) { __typename } }"""


@pytest.fixture
def shared_backend(backend: Any) -> Any:
    if not (os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL")):
        pytest.skip(
            "several instances need PostgreSQL and Redis: this test runs in the PostgreSQL + Redis pass "
            "(TEST_DATABASE_URL and TEST_REDIS_URL set; CI runs both passes)"
        )
    return backend


@pytest.fixture
async def instances(shared_backend: Any, tmp_path: Path) -> AsyncIterator[list[LiveServer]]:
    env = server_env(shared_backend.database_url, shared_backend.redis_url, shared_backend.redis_prefix)
    with live_servers(2, env, tmp_path) as servers:
        yield servers


@pytest.fixture
async def saved_featured(app: Starlette) -> AsyncIterator[list[dict[str, Any]]]:
    """The shared database's featured departments, put back after the test changes them."""
    engine = app.state.resources.engine
    async with engine.connect() as conn:
        saved = [dict(row._mapping) for row in await conn.execute(select(FeaturedDepartment))]
    yield saved
    async with engine.begin() as conn:
        await conn.execute(delete(FeaturedDepartment))
        if saved:
            await conn.execute(insert(FeaturedDepartment), saved)


async def _data(http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


async def test_two_instances_answer_alike_and_share_writes_and_sessions(
    instances: list[LiveServer], app: Starlette, raw_rows: Any, saved_featured: list[dict[str, Any]]
) -> None:
    one, two = instances
    async with httpx.AsyncClient(base_url=one.base) as a, httpx.AsyncClient(base_url=two.base) as b:
        # the same homepage and the same public data from both
        assert await _data(a, QUERY_HOME) == await _data(b, QUERY_HOME)
        public = await _data(a, QUERY_PUBLIC)
        assert public == await _data(b, QUERY_PUBLIC)
        departments = await raw_rows("SELECT id, name FROM departments ORDER BY id")
        assert public["departments"]["nodes"] == [{"id": str(r["id"]), "name": r["name"]} for r in departments]

        # when: an editor changes the homepage through the first instance
        editor = await make_staff(app, [AdminRole.CONTENT_EDITOR])
        token = await staff_login(a, editor, at=datetime.now(UTC))  # the live servers run on the wall clock
        chosen = [departments[-1], departments[0]]  # differs from the seeded order
        image = saved_featured[0]["image_url"]
        items = [{"departmentId": str(r["id"]), "imageUrl": image, "blurb": f"blurb {i}"} for i, r in enumerate(chosen)]
        body = await gql(a, SET_FEATURED, {"items": items}, token)
        assert body["data"]["setFeaturedDepartments"]["__typename"] == "HomepageConfigSuccess", body

        # then: the second instance shows the change at once, as does the first
        expected = [
            {"position": i, "blurb": f"blurb {i}", "department": {"id": str(r["id"]), "name": r["name"]}}
            for i, r in enumerate(chosen)
        ]
        # (the second drops its cached homepage when the invalidation reaches it over Redis pub/sub:
        # published before the first instance answered, it arrives within milliseconds)
        assert await _featured_soon(b, expected) == expected
        assert (await _data(a, QUERY_HOME))["homepage"]["featuredDepartments"] == expected

        # sessions are shared: signed in through one, recognised by the other; signed out through the
        # other, rejected by the first
        patient = await patient_login(a, f"instances-{uuid.uuid4().hex[:6]}")
        assert "errors" not in await gql(b, "query { me { id } }", token=patient)
        staff_me = await gql(b, "query { staffMe { id } }", token=token)
        assert staff_me["data"]["staffMe"]["id"] == str(editor.account_id)
        assert (await gql(b, "mutation { logout }", token=patient))["data"] == {"logout": True}
        assert codes(await gql(a, "query { me { id } }", token=patient)) == ["UNAUTHENTICATED"]


async def _featured_soon(http: httpx.AsyncClient, expected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The featured departments an instance shows, asked again for up to two seconds until they are
    `expected` (an invalidation from another instance arrives asynchronously)."""
    deadline = asyncio.get_running_loop().time() + 2
    while True:
        shown: list[dict[str, Any]] = (await _data(http, QUERY_HOME))["homepage"]["featuredDepartments"]
        if shown == expected or asyncio.get_running_loop().time() > deadline:
            return shown
        await asyncio.sleep(0.02)
