"""The audit log is append-only in the database itself, and purging keeps the last six months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from datasources.db import audit
from datasources.db.audit import AuditEvent
from datasources.db.tables import AuditEntry
from domain.audit import ActorKind, AuditResult


def _event(action: str) -> AuditEvent:
    return AuditEvent(
        actor_kind=ActorKind.STAFF,
        actor_id="7",
        action=action,
        result=AuditResult.OK,
        target_type="Article",
        target_id="3",
        request_id="req-1",
        client_address="127.0.0.1",
    )


async def _ids(conn: Any, action: str) -> list[int]:
    return list((await conn.scalars(select(AuditEntry.id).where(AuditEntry.action == action))).all())


async def test_rows_cannot_be_changed_or_deleted(app: Any) -> None:
    engine = app.state.resources.engine
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await audit.record(conn, event=_event("test.immutable"), at=now)
    for statement in (
        "UPDATE audit_log SET result = 'DENIED' WHERE action = 'test.immutable'",
        "DELETE FROM audit_log WHERE action = 'test.immutable'",
    ):
        with pytest.raises(DBAPIError):
            async with engine.begin() as conn:
                await conn.execute(text(statement))
    async with engine.connect() as conn:
        results = (await conn.scalars(select(AuditEntry.result).where(AuditEntry.action == "test.immutable"))).all()
        assert results == ["OK"]


async def test_truncate_is_refused_on_postgresql(app: Any) -> None:
    engine = app.state.resources.engine
    if engine.dialect.name != "postgresql":
        # SQLite has no TRUNCATE statement; its DELETE trigger covers the same ground.
        return
    with pytest.raises(DBAPIError):
        async with engine.begin() as conn:
            await conn.execute(text("TRUNCATE audit_log"))


async def test_purge_removes_only_rows_past_retention(app: Any) -> None:
    engine = app.state.resources.engine
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await audit.record(conn, event=_event("test.purge.old"), at=now - timedelta(days=400))
        await audit.record(conn, event=_event("test.purge.kept"), at=now - timedelta(days=200))
        await audit.record(conn, event=_event("test.purge.young"), at=now - timedelta(days=150))
    async with engine.begin() as conn:
        removed = await audit.purge(conn, now=now, retention_days=365)
    async with engine.connect() as conn:
        assert removed >= 1
        assert await _ids(conn, "test.purge.old") == []
        assert len(await _ids(conn, "test.purge.kept")) == 1
        assert len(await _ids(conn, "test.purge.young")) == 1
    # a retention below the legal minimum (183 days) is raised to it: the 150-day row stays
    async with engine.begin() as conn:
        await audit.purge(conn, now=now, retention_days=30)
    async with engine.connect() as conn:
        assert await _ids(conn, "test.purge.kept") == []
        assert len(await _ids(conn, "test.purge.young")) == 1


async def test_a_failed_transaction_leaves_no_audit_row(app: Any) -> None:
    engine = app.state.resources.engine
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await audit.record(conn, event=_event("test.rolled.back"), at=datetime.now(UTC))
            raise RuntimeError("the change failed")
    async with engine.connect() as conn:
        assert await _ids(conn, "test.rolled.back") == []
