"""Everything the homepage shows that is configured by staff: theme, layout, featured, entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db.tables import (
    Article,
    ConsultServiceEntry,
    FeaturedDepartment,
    HomepageEntry,
    LayoutModule,
    LayoutSetting,
    ServiceOffering,
    Staff,
    Team,
    ThemeToken,
)
from domain.enums import ArticleCategory, ArticleStatus, LayoutVariant


@dataclass(frozen=True)
class ServiceEntryRow:
    entry: ConsultServiceEntry
    min_price_cents: int | None
    providers: int


async def theme_tokens(db: AsyncSession, *, variant: LayoutVariant) -> Sequence[ThemeToken]:
    rows = await db.scalars(select(ThemeToken).where(ThemeToken.variant == variant).order_by(ThemeToken.id))
    return rows.all()


async def layout(db: AsyncSession, *, variant: LayoutVariant) -> tuple[LayoutSetting | None, list[LayoutModule]]:
    """The layout settings and its visible modules in order (one statement).

    Both are outer-joined to the variant itself, so the settings survive every module being
    hidden, and the modules survive a missing settings row.
    """
    wanted = select(literal(variant, LayoutSetting.__table__.c.variant.type).label("variant")).subquery()
    query = (
        select(LayoutSetting, LayoutModule)
        .select_from(wanted)
        .outerjoin(LayoutSetting, LayoutSetting.variant == wanted.c.variant)
        .outerjoin(LayoutModule, and_(LayoutModule.variant == wanted.c.variant, LayoutModule.visible.is_(True)))
        .order_by(LayoutModule.position)
    )
    rows = (await db.execute(query)).all()
    setting = rows[0][0] if rows else None
    return setting, [module for _, module in rows if module is not None]


async def featured_departments(db: AsyncSession) -> Sequence[FeaturedDepartment]:
    rows = await db.scalars(select(FeaturedDepartment).order_by(FeaturedDepartment.position))
    return rows.all()


async def homepage_entries(db: AsyncSession) -> Sequence[HomepageEntry]:
    rows = await db.scalars(
        select(HomepageEntry).where(HomepageEntry.visible.is_(True)).order_by(HomepageEntry.position)
    )
    return rows.all()


async def consult_zone(db: AsyncSession) -> list[ServiceEntryRow]:
    """The enabled services with their lowest price and number of providers on offer (one statement)."""
    offers = (
        select(
            ServiceOffering.service.label("service"),
            func.min(ServiceOffering.price_cents).label("min_price"),
            func.count().label("providers"),
        )
        .outerjoin(Staff, Staff.id == ServiceOffering.staff_id)
        .outerjoin(Team, Team.id == ServiceOffering.team_id)
        .where(ServiceOffering.active.is_(True), func.coalesce(Staff.active, Team.active).is_(True))
        .group_by(ServiceOffering.service)
        .subquery()
    )
    query = (
        select(ConsultServiceEntry, offers.c.min_price, offers.c.providers)
        .outerjoin(offers, offers.c.service == ConsultServiceEntry.service)
        .where(ConsultServiceEntry.enabled.is_(True))
        .order_by(ConsultServiceEntry.position)
    )
    return [
        ServiceEntryRow(entry=entry, min_price_cents=price, providers=int(count or 0))
        for entry, price, count in await db.execute(query)
    ]


async def latest_articles(
    db: AsyncSession, *, per_category: int, now: datetime
) -> dict[ArticleCategory, list[Article]]:
    """The newest published articles of every category, `per_category` each (one window query).

    An article whose publication time is still ahead is scheduled, not yet shown.
    """
    ranked = (
        select(
            Article.id,
            func.row_number()
            .over(partition_by=Article.category, order_by=(Article.published_at.desc(), Article.id.desc()))
            .label("rank"),
        )
        .where(Article.status == ArticleStatus.PUBLISHED, Article.published_at <= now)
        .subquery()
    )
    query = (
        select(Article)
        .join(ranked, ranked.c.id == Article.id)
        .where(ranked.c.rank <= per_category)
        .order_by(Article.category, ranked.c.rank)
    )
    grouped: dict[ArticleCategory, list[Article]] = {category: [] for category in ArticleCategory}
    for article in await db.scalars(query):
        grouped[article.category].append(article)
    return grouped
