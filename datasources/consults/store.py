"""Consult orders in the database: creation, the one way states change, and the reads.

Every state change goes through `transition()`: the rules of domain/consults.py decide whether the
move is legal for the state just read; a conditional `UPDATE ... WHERE <field> = <state read>` makes
it happen at most once however many requests try at the same moment (row locks on PostgreSQL, the
single writer on SQLite); the transition log gets one row per field moved; the order's row in
`consults` (what the statistics count) follows. All of it in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from datasources.db.audit import AuditEvent
from datasources.db.audit import record as record_audit
from datasources.db.queries.pages import Page, fetch_page
from datasources.db.tables import (
    Consult,
    ConsultConsentDocument,
    ConsultOpinion,
    ConsultOrder,
    ConsultOrderExpert,
    ConsultOrderTransition,
    Department,
    RapidDuty,
    ServiceOffering,
    Staff,
)
from datasources.db.types import minutes_between
from domain.audit import ActorKind, AuditResult
from domain.consults import (
    Action,
    PaymentState,
    RefundState,
    ServiceState,
    StateField,
    consult_status,
    next_state,
)
from domain.enums import ConsultService, ConsultStatus

_COLUMNS: Mapping[StateField, InstrumentedAttribute[Any]] = {
    StateField.PAYMENT: ConsultOrder.payment_state,
    StateField.SERVICE: ConsultOrder.service_state,
    StateField.REFUND: ConsultOrder.refund_state,
}
_ATTEMPTS = 3


@dataclass(frozen=True)
class Actor:
    """Who changes an order, for the transition log and the audit log."""

    kind: ActorKind
    id: str | None
    request_id: str | None = None
    client_address: str | None = None


WECHATPAY = Actor(ActorKind.SYSTEM, "wechatpay")
JOBS = Actor(ActorKind.SYSTEM, "consult-jobs")


@dataclass(frozen=True)
class Step:
    field: StateField
    action: Action


class ConcurrentChange(RuntimeError):
    """The order kept changing under us; the caller may report it and let the user try again."""


class OrderNotFound(LookupError):
    pass


async def audit(
    db: AsyncSession, actor: Actor, *, action: str, result: AuditResult, order_id: int | None, at: datetime
) -> None:
    await record_audit(
        db,
        event=AuditEvent(
            actor_kind=actor.kind,
            actor_id=actor.id,
            action=action,
            result=result,
            target_type="ConsultOrder",
            target_id=None if order_id is None else str(order_id),
            request_id=actor.request_id,
            client_address=actor.client_address,
        ),
        at=at,
    )


async def load(db: AsyncSession, order_id: int) -> ConsultOrder:
    """The order as committed now (never a stale copy from the session)."""
    order = await db.scalar(
        select(ConsultOrder).where(ConsultOrder.id == order_id).execution_options(populate_existing=True)
    )
    if order is None:
        raise OrderNotFound(order_id)
    return order


async def find(db: AsyncSession, *, order_no: str | None = None, refund_no: str | None = None) -> ConsultOrder | None:
    condition = ConsultOrder.order_no == order_no if order_no is not None else ConsultOrder.refund_no == refund_no
    return await db.scalar(select(ConsultOrder).where(condition).execution_options(populate_existing=True))


async def by_idempotency_key(db: AsyncSession, *, account_id: int, key: str) -> ConsultOrder | None:
    return await db.scalar(
        select(ConsultOrder)
        .where(ConsultOrder.account_id == account_id, ConsultOrder.idempotency_key == key)
        .execution_options(populate_existing=True)
    )


async def transition(
    db: AsyncSession,
    order_id: int,
    steps: Sequence[Step],
    *,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
    reference: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> ConsultOrder:
    """Apply `steps` (at most one per field) together, or raise IllegalTransition / ConcurrentChange.

    The legality is checked against the state read; the UPDATE only happens if every field still
    holds that state. When another request changed the order in between, the order is read again
    and the rules asked again: the loser of a race gets IllegalTransition from the winner's state.
    """
    for _ in range(_ATTEMPTS):
        order = await load(db, order_id)
        moves: list[tuple[StateField, Action, str, str]] = []
        conditions = [ConsultOrder.id == order_id]
        changes: dict[str, Any] = {}
        for step in steps:
            column = _COLUMNS[step.field]
            current = str(getattr(order, column.key))
            target = next_state(step.field, order.service, current, step.action)
            conditions.append(column == current)
            changes[column.key] = target
            moves.append((step.field, step.action, current, target))
        result = await db.execute(
            update(ConsultOrder)
            .where(*conditions)
            .values(**changes, **(values or {}), updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            break
    else:
        raise ConcurrentChange(order_id)
    if moves:
        await db.execute(
            insert(ConsultOrderTransition),
            [
                {
                    "order_id": order_id,
                    "field": field,
                    "from_state": current,
                    "to_state": target,
                    "action": action.value,
                    "actor_kind": actor.kind.value,
                    "actor_id": actor.id,
                    "reason": reason[:200] if reason else None,
                    "reference": reference,
                    "request_id": actor.request_id,
                    "occurred_at": now,
                }
                for field, action, current, target in moves
            ],
        )
    order = await load(db, order_id)
    await sync_consult(db, order)
    return order


async def sync_consult(db: AsyncSession, order: ConsultOrder) -> None:
    """The statistics row follows the order: status, payment, first response, completion, staff."""
    await db.execute(
        update(Consult)
        .where(Consult.id == order.consult_id)
        .values(
            status=consult_status(order.payment_state, order.service_state),
            staff_id=order.staff_id,
            paid_at=order.paid_at,
            first_response_at=order.accepted_at,
            completed_at=order.completed_at,
        )
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class NewOrderRow:
    """Everything an order row holds at creation."""

    order_no: str
    account_id: int
    profile_id: int
    idempotency_key: str
    request_digest: str
    service: ConsultService
    staff_id: int | None
    team_id: int | None
    department_id: int
    mdt_department_ids: list[int]
    patient_name: str
    patient_gender: Any
    patient_birth_date: Any
    his_patient_id: str | None
    price_cents: int
    description: str
    pay_deadline: datetime
    complaint_cipher: str | None
    history_cipher: str | None
    report_ids: list[str]
    preferred_times: list[str]
    consent_version: str | None
    consent_accepted_at: datetime | None
    video_room: str | None


async def insert_order(db: AsyncSession, row: NewOrderRow, *, actor: Actor, now: datetime) -> ConsultOrder:
    """The order, its consult row and the first transition; flushes (a duplicate key raises here)."""
    consult = Consult(
        service=row.service,
        patient_id=row.profile_id,
        staff_id=row.staff_id,
        team_id=row.team_id,
        department_id=row.department_id,
        status=ConsultStatus.CREATED,
        price_cents=row.price_cents,
        created_at=now,
    )
    db.add(consult)
    await db.flush()
    order = ConsultOrder(
        **row.__dict__,
        consult_id=consult.id,
        payment_state=PaymentState.UNPAID,
        service_state=ServiceState.AWAITING_PAYMENT,
        refund_state=RefundState.NONE,
        created_at=now,
        updated_at=now,
    )
    db.add(order)
    await db.flush()
    for field, state in (
        (StateField.SERVICE, ServiceState.AWAITING_PAYMENT),
        (StateField.PAYMENT, PaymentState.UNPAID),
    ):
        db.add(
            ConsultOrderTransition(
                order_id=order.id,
                field=field,
                from_state=None,
                to_state=state.value,
                action="CREATE",
                actor_kind=actor.kind.value,
                actor_id=actor.id,
                reason=f"知情同意书 {row.consent_version}"
                if row.consent_version and field is StateField.SERVICE
                else None,
                request_id=actor.request_id,
                occurred_at=now,
            )
        )
    await db.flush()
    return order


async def set_prepay(db: AsyncSession, order_id: int, prepay_id: str, now: datetime) -> None:
    await db.execute(
        update(ConsultOrder)
        .where(ConsultOrder.id == order_id, ConsultOrder.payment_state == PaymentState.UNPAID)
        .values(prepay_id=prepay_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )


# ---- reads -------------------------------------------------------------------------------------


async def orders_of_account(
    db: AsyncSession, *, account_id: int, service: ConsultService | None, first: int, after: int | None
) -> Page[ConsultOrder]:
    query = select(ConsultOrder).where(ConsultOrder.account_id == account_id)
    if service is not None:
        query = query.where(ConsultOrder.service == service)
    # Newest first: keyset on the negated id keeps the shared forward-only pager.
    return await _newest_first(db, query, first=first, after=after)


async def _newest_first(db: AsyncSession, query: Any, *, first: int, after: int | None) -> Page[ConsultOrder]:
    total = await db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if after is not None:
        query = query.where(ConsultOrder.id < after)
    rows = list((await db.scalars(query.order_by(ConsultOrder.id.desc()).limit(first + 1))).all())
    return Page(rows=rows[:first], total=total, has_next=len(rows) > first, has_previous=after is not None)


async def orders_of_doctor(
    db: AsyncSession, *, staff_id: int, states: Sequence[ServiceState] | None, first: int, after: int | None
) -> Page[ConsultOrder]:
    """Orders the staff member is the doctor of, or one of the experts of; newest first."""
    expert = exists().where(ConsultOrderExpert.order_id == ConsultOrder.id, ConsultOrderExpert.staff_id == staff_id)
    query = select(ConsultOrder).where(
        or_(ConsultOrder.staff_id == staff_id, expert), ConsultOrder.service_state != ServiceState.AWAITING_PAYMENT
    )
    if states:
        query = query.where(ConsultOrder.service_state.in_(states))
    return await _newest_first(db, query, first=first, after=after)


async def coordinated_orders(
    db: AsyncSession, *, states: Sequence[ServiceState] | None, first: int, after: int | None
) -> Page[ConsultOrder]:
    """Team and MDT orders that were paid, oldest first (the coordinator's work queue)."""
    query = select(ConsultOrder).where(
        ConsultOrder.service.in_([ConsultService.TEAM, ConsultService.MDT]),
        ConsultOrder.service_state != ServiceState.AWAITING_PAYMENT,
    )
    if states:
        query = query.where(ConsultOrder.service_state.in_(states))
    return await fetch_page(db, query, key=ConsultOrder.id, first=first, after=after)


async def rapid_queue(db: AsyncSession, *, first: int, after: int | None) -> Page[ConsultOrder]:
    query = select(ConsultOrder).where(
        ConsultOrder.service == ConsultService.RAPID, ConsultOrder.service_state == ServiceState.QUEUED
    )
    return await fetch_page(db, query, key=ConsultOrder.id, first=first, after=after)


async def orders_by_ids(db: AsyncSession, ids: Sequence[int]) -> dict[int, ConsultOrder]:
    rows = await db.scalars(select(ConsultOrder).where(ConsultOrder.id.in_(ids)))
    return {row.id: row for row in rows}


async def experts_by_order_ids(db: AsyncSession, ids: Sequence[int]) -> dict[int, list[int]]:
    rows = await db.execute(
        select(ConsultOrderExpert.order_id, ConsultOrderExpert.staff_id)
        .where(ConsultOrderExpert.order_id.in_(ids))
        .order_by(ConsultOrderExpert.order_id, ConsultOrderExpert.position)
    )
    grouped: dict[int, list[int]] = {i: [] for i in ids}
    for order_id, staff_id in rows:
        grouped[order_id].append(staff_id)
    return grouped


async def opinions_by_order_ids(db: AsyncSession, ids: Sequence[int]) -> dict[int, ConsultOpinion]:
    rows = await db.scalars(select(ConsultOpinion).where(ConsultOpinion.order_id.in_(ids)))
    return {row.order_id: row for row in rows}


async def transitions_by_order_ids(db: AsyncSession, ids: Sequence[int]) -> dict[int, list[ConsultOrderTransition]]:
    rows = await db.scalars(
        select(ConsultOrderTransition)
        .where(ConsultOrderTransition.order_id.in_(ids))
        .order_by(ConsultOrderTransition.order_id, ConsultOrderTransition.id)
    )
    grouped: dict[int, list[ConsultOrderTransition]] = {i: [] for i in ids}
    for row in rows:
        grouped[row.order_id].append(row)
    return grouped


async def consults_by_ids(db: AsyncSession, ids: Sequence[int]) -> dict[int, Consult]:
    rows = await db.scalars(select(Consult).where(Consult.id.in_(ids)))
    return {row.id: row for row in rows}


async def is_expert(db: AsyncSession, *, order_id: int, staff_id: int) -> bool:
    found = await db.scalar(
        select(ConsultOrderExpert.staff_id).where(
            ConsultOrderExpert.order_id == order_id, ConsultOrderExpert.staff_id == staff_id
        )
    )
    return found is not None


async def offering_price(
    db: AsyncSession, *, service: ConsultService, staff_id: int | None = None, team_id: int | None = None
) -> int | None:
    condition = ServiceOffering.staff_id == staff_id if staff_id is not None else ServiceOffering.team_id == team_id
    return await db.scalar(
        select(ServiceOffering.price_cents).where(
            ServiceOffering.service == service, ServiceOffering.active.is_(True), condition
        )
    )


async def in_rapid_team(db: AsyncSession, staff_id: int) -> bool:
    """The 极速咨询 GP team: staff offering the RAPID service."""
    return await offering_price(db, service=ConsultService.RAPID, staff_id=staff_id) is not None


async def rapid_department(db: AsyncSession) -> int | None:
    """The department 极速咨询 orders count for: that of the GP team (互联网专职办公室)."""
    team = select(ServiceOffering.staff_id).where(
        ServiceOffering.service == ConsultService.RAPID, ServiceOffering.active.is_(True)
    )
    found = await db.scalar(select(Staff.department_id).where(Staff.id.in_(team)).order_by(Staff.id).limit(1))
    return found if found is not None else await db.scalar(select(Department.id).where(Department.code == "GP"))


async def on_duty(db: AsyncSession, staff_id: int) -> bool:
    return bool(await db.scalar(select(RapidDuty.on_duty).where(RapidDuty.staff_id == staff_id)))


async def set_duty(db: AsyncSession, *, staff_id: int, on: bool, now: datetime) -> None:
    row = await db.get(RapidDuty, staff_id)
    if row is None:
        db.add(RapidDuty(staff_id=staff_id, on_duty=on, changed_at=now))
    elif row.on_duty != on:
        row.on_duty = on
        row.changed_at = now
    await db.flush()


@dataclass(frozen=True)
class RapidStatus:
    queue_length: int
    on_duty: int
    avg_handle_minutes: float | None  # mean minutes from first response to completion, last 7 days


async def rapid_status(db: AsyncSession, *, now: datetime) -> RapidStatus:
    queued = await db.scalar(
        select(func.count()).where(
            ConsultOrder.service == ConsultService.RAPID, ConsultOrder.service_state == ServiceState.QUEUED
        )
    )
    duty = await db.scalar(select(func.count()).where(RapidDuty.on_duty.is_(True)))
    handle = await db.scalar(
        select(func.avg(minutes_between(Consult.first_response_at, Consult.completed_at))).where(
            Consult.service == ConsultService.RAPID,
            Consult.completed_at > now - timedelta(days=7),
            Consult.completed_at <= now,
            Consult.first_response_at.is_not(None),
        )
    )
    return RapidStatus(int(queued or 0), int(duty or 0), None if handle is None else float(handle))


async def current_consent(db: AsyncSession, *, service: ConsultService, now: datetime) -> ConsultConsentDocument | None:
    return await db.scalar(
        select(ConsultConsentDocument)
        .where(ConsultConsentDocument.service == service, ConsultConsentDocument.effective_at <= now)
        .order_by(ConsultConsentDocument.effective_at.desc(), ConsultConsentDocument.id.desc())
        .limit(1)
    )


async def consent_version_exists(db: AsyncSession, *, service: ConsultService, version: str) -> bool:
    found = await db.scalar(
        select(ConsultConsentDocument.id).where(
            and_(ConsultConsentDocument.service == service, ConsultConsentDocument.version == version)
        )
    )
    return found is not None


async def due_unpaid(db: AsyncSession, *, now: datetime, limit: int, skip: Collection[int] = ()) -> list[int]:
    rows = await db.scalars(
        select(ConsultOrder.id)
        .where(
            ConsultOrder.payment_state == PaymentState.UNPAID,
            ConsultOrder.pay_deadline <= now,
            ConsultOrder.id.not_in(skip),
        )
        .order_by(ConsultOrder.pay_deadline)
        .limit(limit)
    )
    return list(rows)


async def due_deadlines(db: AsyncSession, *, now: datetime, limit: int, skip: Collection[int] = ()) -> list[int]:
    rows = await db.scalars(
        select(ConsultOrder.id)
        .where(
            ConsultOrder.service_state.in_([ServiceState.WAITING, ServiceState.QUEUED, ServiceState.SUBMITTED]),
            ConsultOrder.response_deadline <= now,
            ConsultOrder.id.not_in(skip),
        )
        .order_by(ConsultOrder.response_deadline)
        .limit(limit)
    )
    return list(rows)


async def stuck_refunds(db: AsyncSession, *, now: datetime, limit: int, skip: Collection[int] = ()) -> list[int]:
    """Refunds still REQUESTED or PROCESSING a minute after their last change."""
    rows = await db.scalars(
        select(ConsultOrder.id)
        .where(
            ConsultOrder.refund_state.in_([RefundState.REQUESTED, RefundState.PROCESSING]),
            ConsultOrder.updated_at <= now - timedelta(minutes=1),
            ConsultOrder.id.not_in(skip),
        )
        .order_by(ConsultOrder.updated_at)
        .limit(limit)
    )
    return list(rows)
