"""Homepage loaders. The homepage's modules are small configured lists; loading them through
loaders keeps each to one statement per request even when a query asks for them twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from datasources.db.engine import Sessions
from datasources.db.queries import home as queries
from datasources.db.queries.home import ServiceEntryRow
from datasources.db.tables import Article, FeaturedDepartment, HomepageEntry, LayoutModule, LayoutSetting, ThemeToken
from domain.enums import ArticleCategory, LayoutVariant

Everything = str  # the key of a loader with a single answer
EVERYTHING: Everything = "all"


async def theme_by_variant(sessions: Sessions, variants: Sequence[LayoutVariant]) -> list[Sequence[ThemeToken]]:
    async with sessions() as db:
        return [await queries.theme_tokens(db, variant=v) for v in variants]


async def layout_by_variant(
    sessions: Sessions, variants: Sequence[LayoutVariant]
) -> list[tuple[LayoutSetting | None, list[LayoutModule]]]:
    async with sessions() as db:
        return [await queries.layout(db, variant=v) for v in variants]


async def featured_by_variant(
    sessions: Sessions, variants: Sequence[LayoutVariant]
) -> list[Sequence[FeaturedDepartment]]:
    async with sessions() as db:
        return [await queries.featured_departments(db, variant=v) for v in variants]


async def entries_by_variant(sessions: Sessions, variants: Sequence[LayoutVariant]) -> list[Sequence[HomepageEntry]]:
    async with sessions() as db:
        return [await queries.homepage_entries(db, variant=v) for v in variants]


async def consult_zone(sessions: Sessions, keys: Sequence[Everything]) -> list[list[ServiceEntryRow]]:
    async with sessions() as db:
        rows = await queries.consult_zone(db)
    return [rows for _ in keys]


async def latest_articles(
    sessions: Sessions, counts: Sequence[int], *, now: datetime
) -> list[dict[ArticleCategory, list[Article]]]:
    async with sessions() as db:
        return [await queries.latest_articles(db, per_category=n, now=now) for n in counts]
