"""A database of the ranking tests' own (SQLite, or PostgreSQL with TEST_DATABASE_URL), migrated
and holding the small hospital of ranking_support; each test writes the consults it describes."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from ranking_support import build_world
from sqlalchemy.ext.asyncio import AsyncEngine

from datasources.db.engine import create_engine
from datasources.db.migrate import upgrade_to_head
from datasources.db.scratch import create_database, drop_database


@pytest.fixture(scope="session")
async def ranking_engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    admin_url = os.environ.get("TEST_DATABASE_URL")
    name = f"hbff_test_rankings_{uuid.uuid4().hex[:10]}"
    if admin_url:
        url = await create_database(admin_url, name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('rankings') / 'rankings.db'}"
    engine = create_engine(url)
    await upgrade_to_head(engine)
    await build_world(engine)
    yield engine
    await engine.dispose()
    if admin_url:
        await drop_database(admin_url, name)


@pytest.fixture
async def world(ranking_engine: AsyncEngine) -> AsyncEngine:
    """The small hospital with no consults and no snapshots."""
    await build_world(ranking_engine)
    return ranking_engine
