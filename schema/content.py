"""Health encyclopedia (健康百科) articles, as patients and as editors see them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from datasources.db.tables import Article as ArticleRow
from domain.enums import ArticleCategory, ArticleStatus
from schema.cache_control import ARTICLE_MAX_AGE, ARTICLES, PRIVATE, cache_hint
from schema.common import check_first
from schema.context import Info
from schema.departments import Department
from schema.enums import CATEGORY_LABELS

strawberry.enum(
    ArticleStatus,
    description="DRAFT (being written, never shown), PUBLISHED (shown from `publishedAt` on; a later time "
    "means scheduled), ARCHIVED (taken off the lists).",
)

MAX_RELATED = 10


@strawberry.type(
    description="An article of the health encyclopedia (健康百科).", directives=[cache_hint(ARTICLE_MAX_AGE, ARTICLES)]
)
class Article:
    id: strawberry.ID = strawberry.field(description="Stable id of the article.")
    category: ArticleCategory = strawberry.field(description="科普, 资讯 or 医院动态.")
    title: str = strawberry.field(description="Headline.")
    summary: str = strawberry.field(description="One or two sentences shown in lists.")
    cover_url: str = strawberry.field(description="Cover image address (https), or empty.")
    author: str = strawberry.field(description="Who wrote it (a doctor, or the hospital's press office).")
    published_at: datetime = strawberry.field(description="When it was published (ISO 8601 with offset).")
    body: str = strawberry.field(
        description="The text as sanitised HTML: p, br, h2–h4, strong/b, em/i, u, sub, sup, lists, blockquote, "
        "hr, tables, figure, https images (src, alt, width, height) and https links. Scripts, styles, event "
        "handlers and every other tag were removed when it was saved. Render with the rich-text component."
    )
    pinned: bool = strawberry.field(description="Pinned (置顶): listed before the others of its lists.")
    view_count: int = strawberry.field(description="How often it was read (阅读量).")
    department_id: strawberry.Private[int | None]

    @strawberry.field(description="The category as shown to patients: 科普, 资讯 or 医院动态.")
    def category_label(self) -> str:
        return CATEGORY_LABELS[self.category]

    @strawberry.field(description="Tags (标签), alphabetical.")
    async def tags(self, info: Info) -> list[str]:
        return await info.context.loaders.tags_by_article_id.load(int(self.id))

    @strawberry.field(description="The department the article is about, if any.")
    async def department(self, info: Info) -> Department | None:
        if self.department_id is None:
            return None
        row = await info.context.loaders.department_by_id.load(self.department_id)
        return None if row is None else Department.from_row(row)

    @strawberry.field(
        description="Related published articles (相关阅读), best first: two points per shared tag, one for the "
        "same department, one for the same category; ties newest first."
    )
    async def related(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=f"How many, 1 to {MAX_RELATED}.")] = 5,
    ) -> list[Article]:
        check_first(first, MAX_RELATED)
        rows = await info.context.loaders.related_articles.load((int(self.id), first))
        return [Article.from_row(row) for row in rows]

    @classmethod
    def from_row(cls, row: ArticleRow) -> Article:
        assert row.published_at is not None, "only published articles are exposed"
        return cls(
            id=strawberry.ID(str(row.id)),
            category=row.category,
            title=row.title,
            summary=row.summary,
            cover_url=row.cover_url,
            author=row.author,
            published_at=row.published_at,
            body=row.body,
            pinned=row.pinned,
            view_count=row.view_count,
            department_id=row.department_id,
        )


@strawberry.type(
    description="An article as editors see it: in any status, with its publication state.", directives=[PRIVATE]
)
class ManagedArticle:
    id: strawberry.ID = strawberry.field(description="Stable id of the article.")
    category: ArticleCategory = strawberry.field(description="科普, 资讯 or 医院动态.")
    status: ArticleStatus = strawberry.field(description="DRAFT, PUBLISHED or ARCHIVED.")
    title: str = strawberry.field(description="Headline.")
    summary: str = strawberry.field(description="One or two sentences shown in lists.")
    cover_url: str = strawberry.field(description="Cover image address (https), or empty.")
    author: str = strawberry.field(description="Who wrote it.")
    body: str = strawberry.field(description="The sanitised HTML as stored (see `Article.body`).")
    pinned: bool = strawberry.field(description="Pinned (置顶).")
    view_count: int = strawberry.field(description="How often it was read.")
    published_at: datetime | None = strawberry.field(
        description="When it is (or was) published; null for a draft never published."
    )
    scheduled: bool = strawberry.field(description="PUBLISHED with a publication time still ahead (定时发布).")
    live: bool = strawberry.field(description="Shown to patients now.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime | None = strawberry.field(description="When it was last changed.")
    department_id: strawberry.Private[int | None]

    @strawberry.field(description="Tags (标签), alphabetical.")
    async def tags(self, info: Info) -> list[str]:
        return await info.context.loaders.tags_by_article_id.load(int(self.id))

    @strawberry.field(description="The department the article is about, if any.")
    async def department(self, info: Info) -> Department | None:
        if self.department_id is None:
            return None
        row = await info.context.loaders.department_by_id.load(self.department_id)
        return None if row is None else Department.from_row(row)

    @classmethod
    def from_row(cls, row: ArticleRow, *, now: datetime) -> ManagedArticle:
        published = row.status is ArticleStatus.PUBLISHED and row.published_at is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            category=row.category,
            status=row.status,
            title=row.title,
            summary=row.summary,
            cover_url=row.cover_url,
            author=row.author,
            body=row.body,
            pinned=row.pinned,
            view_count=row.view_count,
            published_at=row.published_at,
            scheduled=published and row.published_at is not None and row.published_at > now,
            live=published and row.published_at is not None and row.published_at <= now,
            created_at=row.created_at,
            updated_at=row.updated_at,
            department_id=row.department_id,
        )
