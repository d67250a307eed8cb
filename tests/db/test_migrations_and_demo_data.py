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
from datasources.db.tables import Base, Consult, ConsultOrder, include_name
from support import ANCHOR, TEST_SCALE


async def test_migrations_leave_nothing_for_autogenerate(app: Any) -> None:
    engine = app.state.resources.engine

    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": include_name})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_seeding_again_with_the_same_data_set_changes_nothing(app: Any) -> None:
    engine = app.state.resources.engine
    # Other tests add consults of signed-in patients and consult orders (each with its consult row):
    # the demo's consults have neither an account nor an order.
    demo = (
        select(func.count())
        .select_from(Consult)
        .where(Consult.account_id.is_(None), Consult.id.not_in(select(ConsultOrder.consult_id)))
    )
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
        await _migrate(empty_database, "upgrade", "0004")
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


async def test_encyclopedia_migration_indexes_existing_articles_for_search(empty_database: str) -> None:
    # given: a database at 0004 with an article whose body is HTML
    await _migrate(empty_database, "upgrade", "0004")
    engine = create_engine(empty_database)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO articles (id, category, title, summary, cover_url, body, status, author, "
                    "published_at, created_at) VALUES (1, 'SCIENCE', '冬季保健', '摘要', '', "
                    "'<p>很多<b>高血压</b>患者&amp;家属</p><script>var x = 1;</script>', 'PUBLISHED', '', "
                    ":t, :t)"
                ),
                {"t": ANCHOR if engine.dialect.name == "postgresql" else ANCHOR.replace(tzinfo=None)},
            )
        # when
        await _migrate(empty_database, "upgrade", "head")
        # then: its text is searchable, without markup or script
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT search_text FROM articles")) == "冬季保健 摘要 很多高血压患者&家属"
            if engine.dialect.name == "sqlite":
                found = await conn.scalar(text("SELECT rowid FROM articles_fts WHERE articles_fts MATCH '\"高血压\"'"))
            else:
                found = await conn.scalar(text("SELECT id FROM articles WHERE search_text LIKE '%高血压%'"))
            assert found == 1
        # and back: the columns and search objects go, the article stays
        await _migrate(empty_database, "downgrade", "0004")
        async with engine.connect() as conn:
            columns = await conn.run_sync(lambda c: [col["name"] for col in inspect(c).get_columns("articles")])
            assert "search_text" not in columns
            assert "articles_fts" not in await conn.run_sync(lambda c: inspect(c).get_table_names())
            assert await conn.scalar(text("SELECT COUNT(*) FROM articles")) == 1
    finally:
        await engine.dispose()


async def test_variant_migration_copies_featured_and_entries_to_the_elder_homepage(empty_database: str) -> None:
    # given: a database at 0300 with one featured department and one entry
    await _migrate(empty_database, "upgrade", "0300")
    engine = create_engine(empty_database)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO departments (id, code, name, description, location, registration_kind, "
                    "registration_target) VALUES (1, 'D1', 'D1', '', '', 'MINI_PROGRAM_PAGE', '/p')"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO featured_departments (department_id, position, image_url, blurb) "
                    "VALUES (1, 0, 'https://i/1.jpg', '胸痛中心')"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO homepage_entries (kind, title, icon_url, link_kind, target, visible, position) "
                    "VALUES ('POINTS_MALL', '积分商城', '', 'MINI_PROGRAM_PAGE', '/pages/points/index', :y, 0)"
                ),
                {"y": True},
            )
        # when
        await _migrate(empty_database, "upgrade", "0301")
        # then: both variants have them
        async with engine.connect() as conn:
            featured = (
                await conn.execute(text("SELECT variant, blurb FROM featured_departments ORDER BY variant"))
            ).all()
            entries = (await conn.execute(text("SELECT variant, title FROM homepage_entries ORDER BY variant"))).all()
        assert [tuple(r) for r in featured] == [("ELDER", "胸痛中心"), ("STANDARD", "胸痛中心")]
        assert [tuple(r) for r in entries] == [("ELDER", "积分商城"), ("STANDARD", "积分商城")]
        # and a department appears once per variant only
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO featured_departments (variant, department_id, position, image_url, blurb) "
                        "VALUES ('ELDER', 1, 1, '', '')"
                    )
                )
        # when: going back, the standard rows stay
        await _migrate(empty_database, "downgrade", "0300")
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT COUNT(*) FROM featured_departments")) == 1
            assert await conn.scalar(text("SELECT COUNT(*) FROM homepage_entries")) == 1
    finally:
        await engine.dispose()
