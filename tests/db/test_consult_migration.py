"""The consult-order migration goes up and down on SQLite and PostgreSQL; the transition log is
append-only; demo data is never replaced while orders point at it."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from datasources.db.demo import SeedOutcome, seed_demo_data
from datasources.db.engine import create_engine
from datasources.db.migrate import alembic_config
from support import ANCHOR

CONSULT_TABLES = {
    "consult_orders",
    "consult_order_transitions",
    "consult_order_experts",
    "consult_opinions",
    "consult_consent_documents",
    "rapid_duty",
}


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


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_the_consult_migration_goes_down_and_up_again(empty_database: str) -> None:
    await _migrate(empty_database, "upgrade", "head")
    assert await _tables(empty_database) >= CONSULT_TABLES
    engine = create_engine(empty_database)
    try:
        async with engine.connect() as conn:
            consent = (await conn.execute(text("SELECT service, version, title FROM consult_consent_documents"))).all()
        assert [tuple(row) for row in consent] == [("VIDEO", "1.0", "视频问诊知情同意书")]
    finally:
        await engine.dispose()
    await _migrate(empty_database, "downgrade", "0004")
    assert not CONSULT_TABLES & await _tables(empty_database)
    await _migrate(empty_database, "upgrade", "head")
    assert await _tables(empty_database) >= CONSULT_TABLES


async def _one_order(conn: Any) -> None:
    now = ANCHOR.replace(tzinfo=None) if conn.dialect.name == "sqlite" else ANCHOR
    statements = [
        "INSERT INTO departments (id, code, name, description, location, registration_kind, registration_target) "
        "VALUES (1, 'GP', '全科医学科', '', '', 'MINI_PROGRAM_PAGE', '/p')",
        "INSERT INTO consults (id, service, patient_id, department_id, status, price_cents, created_at) "
        "VALUES (1, 'RAPID', 1, 1, 'CREATED', 1000, :now)",
        "INSERT INTO patient_accounts (id, openid, created_at) VALUES (1, 'o-test', :now)",
        "INSERT INTO consult_orders (id, order_no, account_id, consult_id, idempotency_key, request_digest, service, "
        "department_id, mdt_department_ids, patient_name, patient_gender, patient_birth_date, price_cents, "
        "description, payment_state, service_state, refund_state, pay_deadline, report_ids, preferred_times, "
        "created_at, updated_at) VALUES (1, 'HB1', 1, 1, 'key-00001', 'd', 'RAPID', 1, '[]', '张三', 'MALE', "
        "'1980-01-01', 1000, 'x', 'UNPAID', 'AWAITING_PAYMENT', 'NONE', :now, '[]', '[]', :now, :now)",
        "INSERT INTO consult_order_transitions (order_id, field, to_state, action, actor_kind, occurred_at) "
        "VALUES (1, 'SERVICE', 'AWAITING_PAYMENT', 'CREATE', 'PATIENT', :now)",
    ]
    for statement in statements:
        await conn.execute(text(statement), {"now": now})


async def test_the_transition_log_is_append_only(empty_database: str) -> None:
    await _migrate(empty_database, "upgrade", "head")
    engine = create_engine(empty_database)
    try:
        async with engine.begin() as conn:
            await _one_order(conn)
        for statement in (
            "UPDATE consult_order_transitions SET to_state = 'PAID'",
            "DELETE FROM consult_order_transitions",
        ):
            with pytest.raises(DBAPIError) as refused:
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
            assert "append-only" in str(refused.value.orig)
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT to_state FROM consult_order_transitions")) == "AWAITING_PAYMENT"
    finally:
        await engine.dispose()


async def test_demo_data_is_not_replaced_while_orders_point_at_it(empty_database: str) -> None:
    from datasources.db.migrate import upgrade_to_head

    engine = create_engine(empty_database)
    try:
        await upgrade_to_head(engine)
        await seed_demo_data(engine, scale=0.001, anchor=ANCHOR)
        async with engine.begin() as conn:
            now = ANCHOR.replace(tzinfo=None) if conn.dialect.name == "sqlite" else ANCHOR
            await conn.execute(
                text("INSERT INTO rapid_duty (staff_id, on_duty, changed_at) VALUES (1, true, :now)"), {"now": now}
            )
        report = await seed_demo_data(engine, scale=0.002, anchor=ANCHOR, force=True)
        assert report.outcome is SeedOutcome.NOT_DEMO_DATA
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT COUNT(*) FROM consults")) == 100
    finally:
        await engine.dispose()
