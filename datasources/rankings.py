"""Refreshing the ranking boards: what is due, one instance at a time, and the periodic job.

The gold boards are computed once a month has closed (the first refresh that finds no snapshot of
the last complete month computes it); the TOP3 boards whenever their latest snapshot is older than
the refresh interval. Every refresh holds a lease in the cache (Redis when configured, so that only
one of several app instances computes; the others find the snapshots fresh and read them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.cache import Cache, holding_lock
from datasources.db.engine import Sessions
from datasources.db.rankings import StoredBoard, refresh_board
from datasources.db.tables import RankingSnapshot
from domain.rankings import (
    ALL_BOARDS,
    GOLD_BOARDS,
    TRENDING_BOARDS,
    RankingBoard,
    RankingRules,
    current_window,
    gold_window,
    last_complete_month,
    month_key,
)

logger = logging.getLogger("hospital_bff.rankings")

LOCK_NAME = "rankings-refresh"
# A TOP3 board is due when it is older than this share of the interval, so that instances whose
# ticks drift apart by a few seconds do not each wait a whole extra interval.
DUE_SHARE = 0.8


class MonthNotComplete(ValueError):
    """A gold board was asked for a month that has not ended yet (in the hospital's time zone)."""


async def refresh_rankings(
    db: AsyncSession,
    *,
    now: datetime,
    rules: RankingRules,
    boards: Sequence[RankingBoard] = ALL_BOARDS,
    month: tuple[int, int] | None = None,
) -> list[StoredBoard]:
    """Compute `boards` as of `now` and store them in `db`'s transaction (one statement per board,
    plus the writes). `month` picks the month of the gold boards instead of the last complete one."""
    if month is not None and month > last_complete_month(now, rules.zone):
        raise MonthNotComplete(f"{month_key(*month)} has not ended yet")
    stored = []
    for board in boards:
        if month is not None and board in GOLD_BOARDS:
            window = gold_window(board, *month, rules.zone)
        else:
            window = current_window(board, now, rules)
        stored.append(await refresh_board(db, window=window, rules=rules, computed_at=now))
    return stored


async def due_boards(
    db: AsyncSession, *, now: datetime, rules: RankingRules, interval: timedelta
) -> list[RankingBoard]:
    """The boards a periodic refresh should compute now (one statement)."""
    gold_key = month_key(*last_complete_month(now, rules.zone))
    rows = await db.execute(
        select(
            RankingSnapshot.board,
            func.max(RankingSnapshot.computed_at),
            func.max(case((RankingSnapshot.period_key == gold_key, 1), else_=0)),
        ).group_by(RankingSnapshot.board)
    )
    latest = {board: (computed_at, has_gold_month) for board, computed_at, has_gold_month in rows}
    due = [board for board in GOLD_BOARDS if not latest.get(board, (None, 0))[1]]
    for board in TRENDING_BOARDS:
        computed_at = latest.get(board, (None, 0))[0]
        if computed_at is None or now - computed_at >= interval * DUE_SHARE or computed_at > now:
            due.append(board)
    return due


class RankingJob:
    """The in-process job that keeps the boards fresh: at start, then every `interval`."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        cache: Cache,
        clock: Callable[[], datetime],
        rules: RankingRules,
        interval: timedelta,
        lock_ttl: timedelta,
        on_refresh: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._cache = cache
        self._clock = clock
        self._rules = rules
        self._interval = interval
        self._lock_ttl = lock_ttl
        self._on_refresh = on_refresh  # told after boards were stored (e.g. to drop cached responses)
        self._task: asyncio.Task[None] | None = None
        self._ticked = asyncio.Condition()
        self.ticks = 0  # completed runs, for tests and diagnostics

    async def run_once(self) -> list[StoredBoard] | None:
        """Refresh what is due; None when another instance holds the lock (it does the work)."""
        async with holding_lock(self._cache, LOCK_NAME, ttl_seconds=self._lock_ttl.total_seconds()) as held:
            if not held:
                return None
            now = self._clock()
            async with self._sessions() as db, db.begin():
                due = await due_boards(db, now=now, rules=self._rules, interval=self._interval)
                stored = await refresh_rankings(db, now=now, rules=self._rules, boards=due) if due else []
        if stored:
            done = ", ".join(f"{s.snapshot.board} {s.snapshot.period_key}" for s in stored)
            logger.info("rankings refreshed: %s", done)
            if self._on_refresh is not None:
                await self._on_refresh()
        return stored

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                # A failed refresh leaves the previous snapshots in place; the next tick tries again.
                logger.exception("rankings refresh failed")
            async with self._ticked:
                self.ticks += 1
                self._ticked.notify_all()
            await asyncio.sleep(self._interval.total_seconds())

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="rankings-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_for_ticks(self, count: int) -> None:
        """Until `count` runs have finished (tests wait on this instead of sleeping)."""
        async with self._ticked:
            await self._ticked.wait_for(lambda: self.ticks >= count)
