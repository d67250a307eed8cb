"""How fast the demo data loads: 100,000 and 1,000,000 consults on SQLite (and PostgreSQL when
BENCH_DATABASE_URL points at a server, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres).

For each size it prints the seconds and rows/s of a full seed next to a reference measured in the
same run: generating the same rows in Python without writing them. Their ratio tells how much of
the time the database itself takes.

    .venv/bin/python bench/seed_speed.py [--scales 1 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasources.db.demo import seed as demo
from datasources.db.engine import create_engine
from datasources.db.migrate import upgrade_to_head
from datasources.db.scratch import create_database, drop_database

ANCHOR = datetime(2026, 11, 15, tzinfo=UTC)


def generate_only(scale: float) -> float:
    """The reference: build every consult row without touching a database."""
    rnd = random.Random(demo.SEED)
    departments = demo._departments()
    _, plans = demo._staff(rnd, departments)
    teams, _ = demo._teams(rnd, plans, departments)
    started = time.perf_counter()
    for _ in demo._consults(
        rnd, plans, [(t["id"], t["department_id"]) for t in teams], round(demo.BASE_CONSULTS * scale), ANCHOR
    ):
        pass
    return time.perf_counter() - started


async def seed_once(url: str, scale: float) -> float:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    started = time.perf_counter()
    await demo.seed_demo_data(engine, scale=scale, anchor=ANCHOR, force=True)
    seconds = time.perf_counter() - started
    await engine.dispose()
    return seconds


def _row(database: str, rows: int, seconds: float, reference: float) -> str:
    ratio = seconds / reference
    return f"{database:<11}{rows:>11,}{seconds:>9.1f}{rows / seconds:>11,.0f}{reference:>12.1f}{ratio:>15.2f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    args = parser.parse_args()
    pg_admin = os.environ.get("BENCH_DATABASE_URL")
    print(f"{'database':<11}{'consults':>11}{'seed s':>9}{'rows/s':>11}{'generate s':>12}{'seed/generate':>15}")
    for scale in args.scales:
        rows = round(demo.BASE_CONSULTS * scale)
        reference = generate_only(scale)
        with tempfile.TemporaryDirectory() as tmp:
            seconds = await seed_once(f"sqlite+aiosqlite:///{tmp}/bench.db", scale)
        print(_row("SQLite", rows, seconds, reference))
        if pg_admin:
            name = f"hbff_bench_{uuid.uuid4().hex[:8]}"
            url = await create_database(pg_admin, name)
            try:
                seconds = await seed_once(url, scale)
            finally:
                await drop_database(pg_admin, name)
            print(_row("PostgreSQL", rows, seconds, reference))


if __name__ == "__main__":
    asyncio.run(main())
