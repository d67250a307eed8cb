"""Migrations match the model on this database; the demo data is deterministic and idempotent."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from datasources.db.demo import seed_demo_data
from datasources.db.demo.seed import BASE_CONSULTS
from datasources.db.engine import create_engine
from datasources.db.migrate import alembic_config
from datasources.db.tables import Base, Consult, ConsultOrder
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
    # Other tests place consult orders, each with its consult row: the demo's are those without one.
    demo = select(func.count()).select_from(Consult).where(Consult.id.not_in(select(ConsultOrder.consult_id)))
    async with engine.connect() as conn:
        before = await conn.scalar(select(func.count()).select_from(Consult))
    report = await seed_demo_data(engine, scale=TEST_SCALE, anchor=ANCHOR)
    assert report.skipped
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Consult)) == before
        assert await conn.scalar(demo) == round(BASE_CONSULTS * TEST_SCALE)


async def test_same_seed_gives_the_same_rows(tmp_path: Any) -> None:
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


async def _migrate(url: str, direction: str, revision: str) -> None:
    engine = create_engine(url)
    config = alembic_config()

    def run(connection: Any) -> None:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def test_featured_link_kind_migration_fills_in_and_reverts(empty_database: str) -> None:
    # given: a database at 0003 with three featured departments: a web override, a page override, none
    await _migrate(empty_database, "upgrade", "0003")
    engine = create_engine(empty_database)
    try:
        async with engine.begin() as conn:
            for i in (1, 2, 3):
                await conn.execute(
                    text(
                        "INSERT INTO departments (id, code, name, description, location, registration_kind, "
                        "registration_target) VALUES (:i, :code, :code, '', '', 'MINI_PROGRAM_PAGE', '/p')"
                    ),
                    {"i": i, "code": f"D{i}"},
                )
            await conn.execute(
                text(
                    "INSERT INTO featured_departments (department_id, position, image_url, blurb, link_target) "
                    "VALUES (:i, :position, '', '', :target)"
                ),
                [
                    {"i": 1, "position": 1, "target": "https://www.hospital.example/cardiology"},
                    {"i": 2, "position": 2, "target": "/pages/special/stroke?from=home"},
                    {"i": 3, "position": 3, "target": None},
                ],
            )
        # when
        await _migrate(empty_database, "upgrade", "head")
        # then: every override has the kind its target shows; no override, no kind
        async with engine.connect() as conn:
            kinds = (await conn.execute(text("SELECT link_kind FROM featured_departments ORDER BY position"))).all()
        assert [k for (k,) in kinds] == ["WEB_PAGE", "MINI_PROGRAM_PAGE", None]
        # and the column only takes the kinds of links there are
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE featured_departments SET link_kind = 'SMOKE_SIGNAL'"))
        # when: going back
        await _migrate(empty_database, "downgrade", "0003")
        # then: the column is gone, the rows stay
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda c: [col["name"] for col in inspect(c).get_columns("featured_departments")]
            )
            assert "link_kind" not in columns
            assert await conn.scalar(text("SELECT COUNT(*) FROM featured_departments")) == 3
    finally:
        await engine.dispose()
    await _migrate(empty_database, "upgrade", "head")
