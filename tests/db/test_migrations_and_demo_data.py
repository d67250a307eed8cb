"""Migrations match the model on this database; the demo data is deterministic and idempotent."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from datasources.db.demo import seed_demo_data
from datasources.db.demo.seed import BASE_CONSULTS
from datasources.db.tables import Base, Consult
from support import ANCHOR, TEST_SCALE


async def test_migrations_leave_nothing_for_autogenerate(app: Any) -> None:
    engine = app.state.resources.engine

    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_seeding_again_with_the_same_data_set_changes_nothing(app: Any) -> None:
    engine = app.state.resources.engine
    report = await seed_demo_data(engine, scale=TEST_SCALE, anchor=ANCHOR)
    assert report.skipped
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Consult)) == round(BASE_CONSULTS * TEST_SCALE)


async def test_same_seed_gives_the_same_rows(tmp_path: Any) -> None:
    from datasources.db.engine import create_engine
    from datasources.db.migrate import upgrade_to_head

    fingerprints = []
    for name in ("a", "b"):
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / name}.db")
        await upgrade_to_head(engine)
        report = await seed_demo_data(engine, scale=0.01, anchor=ANCHOR)
        assert not report.skipped and report.consults == 1000
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(Consult.staff_id, Consult.status, Consult.created_at, Consult.rating).order_by(Consult.id)
            )
            fingerprints.append([tuple(r) for r in rows])
        await engine.dispose()
    assert fingerprints[0] == fingerprints[1]
    assert len(fingerprints[0]) == 1000
