"""Staff lists and the per-staff statistics (接单数, 好评率, 平均接单时间) as aggregate SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db.queries.pages import Page, fetch_page
from datasources.db.tables import Consult, ServiceOffering, Staff
from datasources.db.types import minutes_between
from domain.enums import ConsultService, StaffRole


@dataclass(frozen=True)
class StaffStatsRow:
    staff_id: int
    accepted_in_window: int
    accepted_all_time: int
    reviews: int
    positive_reviews: int
    avg_response_minutes: float | None


async def list_staff(
    db: AsyncSession,
    *,
    role: StaffRole | None,
    department_id: int | None,
    service: ConsultService | None,
    first: int,
    after: int | None,
) -> Page[Staff]:
    """Active staff matching every given filter, in id order."""
    query = select(Staff).where(Staff.active.is_(True))
    if role is not None:
        query = query.where(Staff.role == role)
    if department_id is not None:
        query = query.where(Staff.department_id == department_id)
    if service is not None:
        offers = select(ServiceOffering.id).where(
            ServiceOffering.staff_id == Staff.id,
            ServiceOffering.service == service,
            ServiceOffering.active.is_(True),
        )
        query = query.where(offers.exists())
    return await fetch_page(db, query, key=Staff.id, first=first, after=after)


async def staff_by_ids(db: AsyncSession, *, ids: Sequence[int]) -> dict[int, Staff]:
    rows = await db.scalars(select(Staff).where(Staff.id.in_(ids)))
    return {row.id: row for row in rows}


async def offerings_by_staff_ids(db: AsyncSession, *, ids: Sequence[int]) -> dict[int, list[ServiceOffering]]:
    rows = await db.scalars(
        select(ServiceOffering)
        .where(ServiceOffering.staff_id.in_(ids), ServiceOffering.active.is_(True))
        .order_by(ServiceOffering.staff_id, ServiceOffering.service)
    )
    grouped: dict[int, list[ServiceOffering]] = {i: [] for i in ids}
    for row in rows:
        grouped[row.staff_id or 0].append(row)
    return grouped


async def staff_stats(
    db: AsyncSession, *, ids: Sequence[int], now: datetime, window_days: int
) -> dict[int, StaffStatsRow]:
    """One GROUP BY over the consults of the given staff; staff without consults get zeros.

    接单数: consults the staff member responded to (first response recorded), in the window and
    ever. 好评率 inputs: reviews and 4–5 star reviews, all time. 平均接单时间: mean minutes from
    payment to first response, for responses in the window. The window is rolling, not calendar
    days: first responses after `now − window_days × 24 h`, up to `now`.
    """
    since = now - timedelta(days=window_days)
    responded = Consult.first_response_at.is_not(None) & (Consult.first_response_at <= now)
    in_window = and_(responded, Consult.first_response_at > since)
    query = (
        select(
            Consult.staff_id,
            func.sum(case((in_window, 1), else_=0)),
            func.sum(case((responded, 1), else_=0)),
            func.count(Consult.rating),
            func.sum(case((Consult.rating >= 4, 1), else_=0)),
            func.avg(
                case(
                    (
                        in_window & Consult.paid_at.is_not(None),
                        minutes_between(Consult.paid_at, Consult.first_response_at),
                    )
                )
            ),
        )
        .where(Consult.staff_id.in_(ids), Consult.created_at <= now)
        .group_by(Consult.staff_id)
    )
    found = {
        staff_id: StaffStatsRow(
            staff_id=staff_id,
            accepted_in_window=int(window or 0),
            accepted_all_time=int(total or 0),
            reviews=int(reviews or 0),
            positive_reviews=int(positive or 0),
            avg_response_minutes=None if avg is None else float(avg),
        )
        for staff_id, window, total, reviews, positive, avg in await db.execute(query)
    }
    return {i: found.get(i) or StaffStatsRow(i, 0, 0, 0, 0, None) for i in ids}
