"""Snapshots: a board is stored with its period, rules and inputs; recomputing a period replaces it."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from ranking_support import consult, replace_consults
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from datasources.db.engine import ensure_math_functions, session_factory
from datasources.db.rankings import refresh_board
from datasources.db.tables import RankingEntry, RankingSnapshot
from domain.rankings import RankingBoard, RankingRules, current_window

NOW = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)


async def test_recomputing_a_period_replaces_its_snapshot(world: AsyncEngine) -> None:
    ranking_engine = world
    rules = RankingRules()
    window = current_window(RankingBoard.DOCTOR_POPULARITY, NOW, rules)
    sessions = session_factory(ranking_engine)
    # given: a snapshot computed at 12:00
    await replace_consults(
        ranking_engine, [consult(staff=s, paid=NOW - timedelta(hours=s), status="PAID") for s in (1, 2)]
    )
    async with sessions() as db, db.begin():
        first = await refresh_board(db, window=window, rules=rules, computed_at=NOW)
    assert [(e.rank, e.subject_id) for e in first.entries] == [(1, 1), (2, 2)]
    # when: the same day's board is computed again, later, over other consults
    later = NOW + timedelta(minutes=5)
    await replace_consults(ranking_engine, [consult(staff=3, paid=NOW - timedelta(hours=1), status="PAID")])
    async with sessions() as db, db.begin():
        await refresh_board(db, window=window, rules=rules, computed_at=later)
    # then: one snapshot for the day, holding the new entries, rules and inputs
    async with sessions() as db:
        snapshots = (await db.scalars(select(RankingSnapshot).where(RankingSnapshot.board == window.board))).all()
        entries = (await db.scalars(select(RankingEntry).order_by(RankingEntry.rank))).all()
        orphans = await db.scalar(
            select(func.count()).select_from(RankingEntry).where(RankingEntry.snapshot_id != snapshots[0].id)
        )
    assert [(s.period_key, s.computed_at, s.starts_at, s.ends_at) for s in snapshots] == [
        ("2026-11-15", later, NOW - timedelta(days=7), NOW)
    ]
    assert RankingRules.from_json(snapshots[0].rules) == rules
    assert [(e.rank, e.subject_id) for e in entries] == [(1, 3)]
    assert entries[0].inputs == {"consults": 1, "appreciations": 0, "heat": round(math.exp(-1 / 72), 6)}
    assert orphans == 0


class _NoMathSqlite:
    """A DB-API connection to an SQLite built without math functions: exp() is unknown."""

    def __init__(self) -> None:
        self.real = sqlite3.connect(":memory:")
        self.registered: dict[str, Any] = {}

    def cursor(self) -> Any:
        outer = self

        class Cursor:
            def execute(self, sql: str) -> None:
                if "exp(" in sql and "exp" not in outer.registered:
                    raise sqlite3.OperationalError("no such function: exp")

            def close(self) -> None:
                pass

        return Cursor()

    def create_function(self, name: str, arity: int, function: Any, *, deterministic: bool) -> None:
        assert deterministic, "a deterministic function may be used in indexes and is cached by SQLite"
        self.registered[name] = function
        self.real.create_function(name, arity, function, deterministic=deterministic)


def test_sqlite_without_math_functions_gets_a_deterministic_exp() -> None:
    connection = _NoMathSqlite()
    ensure_math_functions(connection)
    assert set(connection.registered) == {"exp"}
    assert connection.real.execute("SELECT exp(-1), exp(NULL), exp(1000)").fetchone() == (math.exp(-1), None, math.inf)


def test_sqlite_with_math_functions_keeps_its_own() -> None:
    class WithMath(_NoMathSqlite):
        def cursor(self) -> Any:
            return self.real.cursor()

    connection = WithMath()
    ensure_math_functions(connection)
    assert connection.registered == {}
