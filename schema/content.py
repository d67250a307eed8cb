"""Health encyclopedia (健康百科) articles."""

from __future__ import annotations

from datetime import datetime

import strawberry

from datasources.db.tables import Article as ArticleRow
from domain.enums import ArticleCategory
from schema.enums import CATEGORY_LABELS


@strawberry.type(description="An article of the health encyclopedia (健康百科).")
class Article:
    id: strawberry.ID = strawberry.field(description="Stable id of the article.")
    category: ArticleCategory = strawberry.field(description="科普, 资讯 or 医院动态.")
    title: str = strawberry.field(description="Headline.")
    summary: str = strawberry.field(description="One or two sentences shown in lists.")
    cover_url: str = strawberry.field(description="Cover image address.")
    author: str = strawberry.field(description="Who wrote it (a doctor, or the hospital's press office).")
    published_at: datetime = strawberry.field(description="When it was published (ISO 8601 with offset).")

    @strawberry.field(description="The category as shown to patients: 科普, 资讯 or 医院动态.")
    def category_label(self) -> str:
        return CATEGORY_LABELS[self.category]

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
        )
