"""How fast the ranking boards are computed: all six over 1,000,000 consults on SQLite (and on
PostgreSQL when BENCH_DATABASE_URL points at a server, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres).

It seeds the demo data of the given scale (10 = 1,000,000 consults) into a throwaway database, then
times each board's statement, and a whole refresh (six statements plus writing the snapshots, in
one transaction, as the periodic job does). Each time is the best of --repeat warm runs. Next to it,
a reference measured in the same run on the same rows: a plain full scan,
SELECT COUNT(*), SUM(price_cents) FROM consults. Their ratio says how many full scans a board costs.
The target is a whole refresh under 3 s on one core.

    .venv/bin/python bench/rankings_speed.py [--scale 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from datasources.db.demo import seed as demo
from datasources.db.engine import create_engine, session_factory
from datasources.db.migrate import upgrade_to_head
from datasources.db.rankings import compute_board
from datasources.db.scratch import create_database, drop_database
from datasources.rankings import refresh_rankings
from domain.rankings import ALL_BOARDS, RankingBoard, RankingRules, current_window

ANCHOR = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)  # the demo history ends here; "now" for the boards
SCAN = text("SELECT COUNT(*), SUM(price_cents) FROM consults")


async def best_of(repeat: int, run: Callable[[], Awaitable[object]]) -> float:
    await run()  # warm the caches: the boards run every few minutes on a warm database
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        times.append(time.perf_counter() - started)
    return min(times)


async def measure(engine: AsyncEngine, database: str, rows: int, repeat: int) -> None:
    sessions = session_factory(engine)
    rules = RankingRules()

    async def scan() -> None:
        async with sessions() as db:
            await db.execute(SCAN)

    reference = await best_of(repeat, scan)
    print(_row(database, "full scan (reference)", rows, reference, reference))

    async def one(board: RankingBoard) -> None:
        async with sessions() as db:
            await compute_board(db, window=current_window(board, ANCHOR, rules), rules=rules)

    for board in ALL_BOARDS:
        print(_row(database, board.value, rows, await best_of(repeat, functools.partial(one, board)), reference))

    async def everything() -> None:
        async with sessions() as db, db.begin():
            await refresh_rankings(db, now=ANCHOR, rules=rules)

    print(_row(database, "refresh all six (+ writes)", rows, await best_of(repeat, everything), reference))


async def seeded(url: str, scale: float) -> AsyncEngine:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    started = time.perf_counter()
    await demo.seed_demo_data(engine, scale=scale, anchor=ANCHOR, force=True)
    if engine.dialect.name == "postgresql":
        # What autovacuum does soon after a bulk load; SQLite is left without statistics, as it runs.
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
    seconds = time.perf_counter() - started
    print(f"# {engine.dialect.name}: seeded {demo.consult_count(scale):,} consults in {seconds:.0f} s")
    return engine


def _row(database: str, what: str, rows: int, seconds: float, reference: float) -> str:
    return f"{database:<11}{what:<28}{rows:>11,}{seconds:>9.3f}{rows / seconds:>14,.0f}{seconds / reference:>11.1f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=10, help="demo scale: 10 = 1,000,000 consults")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (the best counts)")
    args = parser.parse_args()
    rows = demo.consult_count(args.scale)
    pg_admin = os.environ.get("BENCH_DATABASE_URL")
    print(f"{'database':<11}{'what':<28}{'consults':>11}{'s':>9}{'consults/s':>14}{'× scan':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        engine = await seeded(f"sqlite+aiosqlite:///{tmp}/bench.db", args.scale)
        try:
            await measure(engine, "SQLite", rows, args.repeat)
        finally:
            await engine.dispose()
    if pg_admin:
        name = f"hbff_bench_{uuid.uuid4().hex[:8]}"
        url = await create_database(pg_admin, name)
        try:
            engine = await seeded(url, args.scale)
            try:
                await measure(engine, "PostgreSQL", rows, args.repeat)
            finally:
                await engine.dispose()
        finally:
            await drop_database(pg_admin, name)


if __name__ == "__main__":
    asyncio.run(main())
