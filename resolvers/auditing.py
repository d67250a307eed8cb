"""Writing audit rows from resolvers, with who/where taken from the request context."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db import audit
from datasources.db.audit import AuditEvent
from datasources.identity.viewer import ViewerKind
from domain.audit import ActorKind, AuditResult
from schema.context import Info

_ACTOR = {
    ViewerKind.ANONYMOUS: ActorKind.ANONYMOUS,
    ViewerKind.PATIENT: ActorKind.PATIENT,
    ViewerKind.STAFF: ActorKind.STAFF,
}


async def write_audit(
    info: Info,
    db: AsyncSession,
    *,
    action: str,
    result: AuditResult,
    target_type: str | None = None,
    target_id: int | str | None = None,
    actor_id: int | None = None,
    actor_kind: ActorKind | None = None,
) -> None:
    """Append an audit row in `db`'s transaction (it commits or rolls back with the change)."""
    context = info.context
    viewer = context.viewer
    event = AuditEvent(
        actor_kind=actor_kind or _ACTOR[viewer.kind],
        actor_id=str(actor_id) if actor_id is not None else viewer.audit_id,
        action=action,
        result=result,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        request_id=context.request_id,
        client_address=context.client_address,
    )
    await audit.record(db, event=event, at=context.now)


async def audit_denial(info: Info, *, action: str, target_type: str, target_id: int | str | None) -> None:
    """A refused access, written in a transaction of its own (the request itself changes nothing)."""
    async with info.context.db() as db, db.begin():
        await write_audit(
            info, db, action=action, result=AuditResult.DENIED, target_type=target_type, target_id=target_id
        )


async def audit_access(info: Info, *, action: str, profile_id: int, result: AuditResult = AuditResult.OK) -> None:
    """A read of a profile's health data (or a refused attempt), in a transaction of its own."""
    async with info.context.db() as db, db.begin():
        await write_audit(info, db, action=action, result=result, target_type="PatientProfile", target_id=profile_id)
