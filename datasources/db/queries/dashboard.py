"""Operations dashboard: aggregate SQL over consults, article views and appreciations, bucketed by
local (Asia/Shanghai) day or week. Each function is one statement; gaps are filled in by the caller."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db.tables import Appreciation, Article, ArticleDailyViews, Consult, Department, Staff
from datasources.db.types import local_date, minutes_between
from domain.enums import ConsultGrouping, ConsultStatus, SeriesInterval


@dataclass(frozen=True)
class Period:
    """Local dates `first` to `last`, both included, in `zone`."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone).astimezone(UTC)

    def bucket(self, value: Any, interval: SeriesInterval) -> local_date:
        offset = self.zone.utcoffset(datetime.combine(self.first, time()))
        minutes = int(offset.total_seconds() // 60) if offset else 0
        return local_date(value, zone=self.zone.key, offset_minutes=minutes, week=interval is SeriesInterval.WEEK)

    def buckets(self, interval: SeriesInterval) -> list[date]:
        """Every day, or the Monday of every week, of the period."""
        if interval is SeriesInterval.DAY:
            return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]
        monday = self.first - timedelta(days=self.first.weekday())
        return [monday + timedelta(weeks=i) for i in range((self.last - monday).days // 7 + 1)]

    def within(self, column: Any) -> ColumnElement[bool]:
        return (column >= self.start) & (column < self.end)


@dataclass(frozen=True)
class Cell:
    key: str
    label: str
    bucket: date
    value: float | None


async def consults_per_bucket(
    db: AsyncSession, *, period: Period, interval: SeriesInterval, group_by: ConsultGrouping | None
) -> list[Cell]:
    """Consults created per day or week, in all or per service, department or staff role (TEAM for
    team consults, which have no staff member)."""
    bucket = period.bucket(Consult.created_at, interval).label("bucket")
    n = func.count().label("n")
    query: Any
    if group_by is ConsultGrouping.SERVICE:
        query = select(bucket, Consult.service, Consult.service, n).group_by(bucket, Consult.service)
    elif group_by is ConsultGrouping.DEPARTMENT:
        query = (
            select(bucket, Consult.department_id, Department.name, n)
            .join(Department, Department.id == Consult.department_id)
            .group_by(bucket, Consult.department_id, Department.name)
        )
    elif group_by is ConsultGrouping.ROLE:
        role = func.coalesce(cast(Staff.role, String(32)), literal("TEAM")).label("role")
        query = select(bucket, role, role, n).outerjoin(Staff, Staff.id == Consult.staff_id).group_by(bucket, role)
    else:
        query = select(bucket, literal("ALL"), literal("ALL"), n).group_by(bucket)
    query = query.where(period.within(Consult.created_at))
    return [Cell(str(key), str(label), day, float(count)) for day, key, label, count in await db.execute(query)]


@dataclass(frozen=True)
class Funnel:
    created: int
    paid: int
    completed: int
    reviewed: int


async def funnel(db: AsyncSession, *, period: Period) -> Funnel:
    """Of the consults created in the period: how many were paid, completed and reviewed."""
    row = (
        await db.execute(
            select(
                func.count(),
                func.count(Consult.paid_at),
                func.sum(case((Consult.status == ConsultStatus.COMPLETED, 1), else_=0)),
                func.count(Consult.rating),
            ).where(period.within(Consult.created_at))
        )
    ).one()
    return Funnel(*(int(v or 0) for v in row))


async def response_minutes_per_bucket(db: AsyncSession, *, period: Period, interval: SeriesInterval) -> list[Cell]:
    """Mean minutes from payment to first response, by the day (week) of the first response."""
    bucket = period.bucket(Consult.first_response_at, interval).label("bucket")
    query = (
        select(bucket, func.avg(minutes_between(Consult.paid_at, Consult.first_response_at)))
        .where(period.within(Consult.first_response_at), Consult.paid_at.is_not(None))
        .group_by(bucket)
    )
    return [Cell("AVERAGE", "AVERAGE", day, None if v is None else float(v)) for day, v in await db.execute(query)]


async def refund_rate_per_bucket(db: AsyncSession, *, period: Period, interval: SeriesInterval) -> list[Cell]:
    """Of the consults paid in a day (week), the share refunded."""
    bucket = period.bucket(Consult.paid_at, interval).label("bucket")
    query = (
        select(bucket, func.count(), func.sum(case((Consult.status == ConsultStatus.REFUNDED, 1), else_=0)))
        .where(period.within(Consult.paid_at))
        .group_by(bucket)
    )
    return [Cell("REFUND_RATE", "REFUND_RATE", day, int(r or 0) / int(n)) for day, n, r in await db.execute(query)]


async def appreciations_per_bucket(db: AsyncSession, *, period: Period, interval: SeriesInterval) -> list[Cell]:
    """E-banners and letters sent per day (week), by kind, whatever became of them."""
    bucket = period.bucket(Appreciation.created_at, interval).label("bucket")
    query = (
        select(bucket, Appreciation.kind, func.count())
        .where(period.within(Appreciation.created_at))
        .group_by(bucket, Appreciation.kind)
    )
    return [Cell(kind.value, kind.value, day, float(n)) for day, kind, n in await db.execute(query)]


async def top_articles(db: AsyncSession, *, period: Period, limit: int) -> Sequence[tuple[Article, int]]:
    """The most-read articles of the period (views per local day), most views first, then by id."""
    views = func.sum(ArticleDailyViews.views).label("views")
    ranked = (
        select(ArticleDailyViews.article_id, views)
        .where(ArticleDailyViews.day >= period.first, ArticleDailyViews.day <= period.last)
        .group_by(ArticleDailyViews.article_id)
        .subquery()
    )
    query = (
        select(Article, ranked.c.views)
        .join(ranked, ranked.c.article_id == Article.id)
        .order_by(ranked.c.views.desc(), Article.id)
        .limit(limit)
    )
    return [(article, int(n)) for article, n in await db.execute(query)]
