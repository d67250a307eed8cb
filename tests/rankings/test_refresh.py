"""Refreshing the boards: what is due when, one instance at a time, the periodic job, the CLI."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from identity_support import Clock
from ranking_support import consult, replace_consults
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

import cli
from app import create_app
from datasources.cache import Cache, create_cache
from datasources.db.engine import session_factory
from datasources.db.tables import AuditEntry, RankingSnapshot
from datasources.rankings import LOCK_NAME, MonthNotComplete, RankingJob, due_boards, refresh_rankings
from datasources.response_cache import CachedResponse, ResponseCache
from domain.rankings import ALL_BOARDS, GOLD_BOARDS, TRENDING_BOARDS, RankingBoard, RankingRules
from settings import Settings, load_settings

NOW = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)
RULES = RankingRules()
INTERVAL = timedelta(minutes=5)


@pytest.fixture
async def cache(backend: Any) -> AsyncIterator[Cache]:
    """The cache the app uses in this run (Redis in CI), under a prefix of these tests' own."""
    shared = create_cache(backend.redis_url, backend.redis_prefix + "rankings-tests:")
    yield shared
    await shared.delete("lock:" + LOCK_NAME)
    await shared.close()


@pytest.fixture
async def world(world: AsyncEngine) -> AsyncEngine:
    """The small hospital with one reviewed consult and no snapshots."""
    await replace_consults(world, [consult(staff=1, completed=NOW - timedelta(days=20), rating=5)])
    return world


def ranking_settings(engine: AsyncEngine, **overrides: Any) -> Settings:
    return load_settings(
        database_url=engine.url.render_as_string(hide_password=False), seed_demo_data=False, **overrides
    )


async def snapshots(engine: AsyncEngine) -> list[tuple[RankingBoard, str, datetime]]:
    async with session_factory(engine)() as db:
        rows = await db.execute(
            select(RankingSnapshot.board, RankingSnapshot.period_key, RankingSnapshot.computed_at).order_by(
                RankingSnapshot.id
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_what_is_due_follows_the_interval_and_the_closing_of_months(world: AsyncEngine) -> None:
    sessions = session_factory(world)

    async def due(now: datetime) -> list[RankingBoard]:
        async with sessions() as db:
            return await due_boards(db, now=now, rules=RULES, interval=INTERVAL)

    # nothing computed yet: everything is due
    assert await due(NOW) == list(ALL_BOARDS)
    async with sessions() as db, db.begin():
        await refresh_rankings(db, now=NOW, rules=RULES)
    # just computed: nothing; most of an interval later: the TOP3 boards; the gold board waits for the month
    assert await due(NOW + timedelta(minutes=1)) == []
    assert await due(NOW + INTERVAL * 0.8) == list(TRENDING_BOARDS)
    assert await due(NOW + timedelta(days=10)) == list(TRENDING_BOARDS)
    # 00:00 on 1 December in Shanghai (16:00 UTC on 30 November): November has closed
    assert await due(datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == list(GOLD_BOARDS + TRENDING_BOARDS)
    assert await due(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == list(TRENDING_BOARDS)


async def test_the_gold_boards_of_a_past_month_can_be_recomputed_but_not_of_an_open_one(world: AsyncEngine) -> None:
    async with session_factory(world)() as db, db.begin():
        stored = await refresh_rankings(db, now=NOW, rules=RULES, boards=GOLD_BOARDS, month=(2026, 9))
        assert [(s.snapshot.board, s.snapshot.period_key) for s in stored] == [
            (RankingBoard.GOLD_DEPARTMENTS, "2026-09"),
            (RankingBoard.GOLD_STAFF, "2026-09"),
        ]
        with pytest.raises(MonthNotComplete):
            await refresh_rankings(db, now=NOW, rules=RULES, boards=GOLD_BOARDS, month=(2026, 11))


async def test_only_one_instance_refreshes_at_a_time(world: AsyncEngine, cache: Cache) -> None:
    def job() -> RankingJob:
        return RankingJob(
            sessions=session_factory(world),
            cache=cache,
            clock=lambda: NOW,
            rules=RULES,
            interval=INTERVAL,
            lock_ttl=timedelta(seconds=60),
        )

    # given: another instance holds the lock
    token = await cache.acquire_lock(LOCK_NAME, ttl_seconds=60)
    assert token is not None
    # when / then: this one leaves the work to it
    assert await job().run_once() is None
    assert await snapshots(world) == []
    await cache.release_lock(LOCK_NAME, token)
    # when two instances tick together, the boards are computed once
    first, second = await asyncio.gather(job().run_once(), job().run_once())
    results = sorted([first, second], key=lambda r: len(r or []))
    assert results[0] in (None, []), "the other instance was locked out, or found everything fresh"
    assert results[1] is not None and len(results[1]) == len(ALL_BOARDS)
    assert len(await snapshots(world)) == len(ALL_BOARDS)


async def test_the_app_runs_the_refresh_job_when_configured(world: AsyncEngine) -> None:
    # given: an app whose job refreshes every five minutes, on a clock the test moves
    clock = Clock(NOW)
    application = create_app(ranking_settings(world, ranking_refresh_seconds=300), clock=clock)
    async with application.router.lifespan_context(application):
        job: RankingJob = application.state.resources.rankings
        # when: the job has run once, at start-up
        await asyncio.wait_for(job.wait_for_ticks(1), timeout=60)
        # then: every board is there, computed at the app's time
        assert {(board, at) for board, _, at in await snapshots(world)} == {(board, NOW) for board in ALL_BOARDS}
    assert job.ticks >= 1


async def test_the_job_is_off_when_the_interval_is_zero(world: AsyncEngine) -> None:
    application = create_app(ranking_settings(world, ranking_refresh_seconds=0), clock=lambda: NOW)
    async with application.router.lifespan_context(application):
        await asyncio.sleep(0.05)
        assert application.state.resources.rankings.ticks == 0
    assert await snapshots(world) == []


async def test_the_cli_prints_each_board_and_audits_the_run(
    world: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: two doctors' consults last month
    await replace_consults(
        world,
        [consult(staff=1, completed=datetime(2026, 10, 5, tzinfo=UTC)) for _ in range(3)]
        + [consult(staff=3, completed=datetime(2026, 10, 5, tzinfo=UTC), rating=5) for _ in range(5)],
    )
    # when
    code = await cli.refresh_rankings(ranking_settings(world), boards=[RankingBoard.GOLD_STAFF], now=NOW)
    # then
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "金牌医生 GOLD_STAFF 2026-10 (2026年10月): 2 entries",
        "  1. 医生3: 10月接诊 5 次，好评率 100.0% (score 5)",
        "  2. 医生1: 10月接诊 3 次 (score 3)",
    ]
    async with session_factory(world)() as db:
        audited = (await db.execute(select(AuditEntry.actor_kind, AuditEntry.action, AuditEntry.target_id))).all()
    assert ("SYSTEM", "rankings.refresh", "GOLD_STAFF") in [tuple(row) for row in audited]


async def test_the_cli_backfills_past_months_of_the_gold_boards(
    world: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    months = [(2026, 10), (2026, 9), (2026, 8)]
    code = await cli.refresh_rankings(ranking_settings(world), boards=list(ALL_BOARDS), months=months, now=NOW)
    assert code == 0
    assert [(board, key) for board, key, _ in await snapshots(world)] == [
        (board, f"{year}-{month:02d}") for year, month in months for board in GOLD_BOARDS
    ]
    assert "金牌科室 GOLD_DEPARTMENTS 2026-08 (2026年8月): 0 entries" in capsys.readouterr().out


def test_the_cli_refuses_a_month_for_trending_boards_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["refresh-rankings", "--board", "BEST_TEAM", "--month", "2026-10"]) == 2
    assert "gold boards only" in capsys.readouterr().err


async def test_the_cli_drops_the_cached_boards_of_every_server(world: AsyncEngine) -> None:
    # Servers share cached answers through Redis; a refresh from the command line must reach them too.
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("needs TEST_REDIS_URL: runs in the PostgreSQL + Redis pass of .ci/run")
    settings = ranking_settings(world, redis_url=redis_url, redis_key_prefix=f"hbff-test-cli-{uuid.uuid4().hex[:8]}:")
    server = ResponseCache(redis_url=redis_url, prefix=settings.redis_key_prefix)

    async def cached(tag: str) -> str:
        key = f"test:{tag}"
        entry = CachedResponse(body=b"{}", content_type="application/json", max_age=300, tags=frozenset({tag}))
        await server.get_or_compute(key, lambda: _ready(entry))
        return key

    try:
        board, home, other = await cached("rankings"), await cached("homepage"), await cached("articles")
        code = await cli.refresh_rankings(settings, boards=[RankingBoard.GOLD_STAFF], now=NOW)
        assert code == 0
        # a fresh reader on the same Redis sees what is left
        reader = ResponseCache(redis_url=redis_url, prefix=settings.redis_key_prefix)
        try:
            assert [await reader.get(key) is None for key in (board, home, other)] == [True, True, False]
        finally:
            await reader.close()
    finally:
        await server.close()


async def _ready(entry: CachedResponse) -> CachedResponse:
    return entry
