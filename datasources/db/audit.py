"""Writing, browsing and purging the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from datasources.db.queries.pages import Page, fetch_page
from datasources.db.tables import AuditEntry
from domain.audit import MIN_RETENTION_DAYS, ActorKind, AuditResult


@dataclass(frozen=True)
class AuditEvent:
    """Who did what to which object, and how it ended. Never carries personal data itself."""

    actor_kind: ActorKind
    actor_id: str | None
    action: str
    result: AuditResult
    target_type: str | None = None
    target_id: str | None = None
    request_id: str | None = None
    client_address: str | None = None


# Built once, on the table itself: building an INSERT on every audited read, and the ORM's bulk
# path for it, cost more than running it.
_TABLE: Table = AuditEntry.__table__  # type: ignore[assignment]  # declared mapped classes have a Table
_INSERT = insert(_TABLE)


async def record(db: AsyncSession | AsyncConnection, *, event: AuditEvent, at: datetime) -> None:
    """Append one row, inside the caller's transaction so it commits or rolls back with the change."""
    await db.execute(
        _INSERT,
        {
            "occurred_at": at,
            "actor_kind": event.actor_kind.value,
            "actor_id": event.actor_id,
            "action": event.action,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "result": event.result.value,
            "request_id": event.request_id,
            "client_address": event.client_address,
        },
    )


async def list_entries(
    db: AsyncSession, *, first: int, after: int | None, action: str | None = None
) -> Page[AuditEntry]:
    query = select(AuditEntry)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return await fetch_page(db, query, key=AuditEntry.id, first=first, after=after)


async def purge(db: AsyncConnection, *, now: datetime, retention_days: int) -> int:
    """Delete rows older than the retention period; never younger than the legal minimum."""
    cutoff = now - timedelta(days=max(retention_days, MIN_RETENTION_DAYS))
    result = await db.execute(delete(AuditEntry).where(AuditEntry.occurred_at < cutoff))
    return result.rowcount or 0
