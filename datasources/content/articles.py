"""Health encyclopedia (健康百科): articles, their tags, views, full-text search and related articles.

Writes validate everything before the first statement, so a refused change writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db.queries.pages import Page
from datasources.db.tables import Article, ArticleDailyViews, ArticleTag, Department
from domain.content import MAX_BODY_CHARS, plain_text, sanitise_article_body, search_text
from domain.enums import ArticleCategory, ArticleStatus

MAX_TAGS = 8
MAX_TAG_CHARS = 16
MAX_SCHEDULE_AHEAD = timedelta(days=366)
MAX_QUERY_CHARS = 50
# FTS5's trigram tokenizer matches three characters or more; shorter words are looked up with LIKE.
TRIGRAM = 3


class ArticleNotFound(Exception):
    pass


class UnknownDepartment(Exception):
    def __init__(self, department_id: int) -> None:
        super().__init__(f"department {department_id}")
        self.department_id = department_id


class InvalidArticle(ValueError):
    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class WrongState(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class ArticleData:
    """An article as an editor enters it."""

    category: ArticleCategory
    title: str
    summary: str
    body: str
    cover_url: str = ""
    author: str = ""
    department_id: int | None = None
    tags: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class ValidArticle:
    category: ArticleCategory
    title: str
    summary: str
    body: str  # sanitised
    cover_url: str
    author: str
    department_id: int | None
    tags: tuple[str, ...]


def _length(value: str, *, field: str, label: str, low: int, high: int) -> str:
    value = value.strip()
    if not low <= len(value) <= high:
        raise InvalidArticle(f"{label}须为{low}至{high}个字 ({field}: {low} to {high} characters)", field=field)
    return value


def valid_https_url(value: str, *, field: str, allow_empty: bool = True) -> str:
    """An https address of at most 512 characters (or empty, when allowed)."""
    value = value.strip()
    if not value and allow_empty:
        return ""
    if not value.startswith("https://") or len(value) > 512 or any(c.isspace() for c in value):
        raise InvalidArticle(f"须为https地址 ({field} must be an https address)", field=field)
    return value


def validate_article(data: ArticleData) -> ValidArticle:
    """Checks every field and sanitises the body; raises InvalidArticle naming the first field at fault."""
    title = _length(data.title, field="title", label="标题", low=1, high=128)
    summary = _length(data.summary, field="summary", label="摘要", low=0, high=512)
    if len(data.body) > MAX_BODY_CHARS:
        raise InvalidArticle(f"正文过长 (body: at most {MAX_BODY_CHARS} characters)", field="body")
    body = sanitise_article_body(data.body)
    if not plain_text(body) and "<img" not in body:
        raise InvalidArticle("正文不能为空 (body has no text)", field="body")
    tags: list[str] = []
    for tag in data.tags:
        cleaned = _length(tag, field="tags", label="标签", low=1, high=MAX_TAG_CHARS)
        if cleaned not in tags:
            tags.append(cleaned)
    if len(tags) > MAX_TAGS:
        raise InvalidArticle(f"标签最多{MAX_TAGS}个 (tags: at most {MAX_TAGS})", field="tags")
    return ValidArticle(
        category=data.category,
        title=title,
        summary=summary,
        body=body,
        cover_url=valid_https_url(data.cover_url, field="coverUrl"),
        author=_length(data.author, field="author", label="作者", low=0, high=64),
        department_id=data.department_id,
        tags=tuple(tags),
    )


# ---- reads ---------------------------------------------------------------------------------


def visible(now: datetime) -> ColumnElement[bool]:
    """Published, and its publication time reached (a later time means scheduled)."""
    return and_(Article.status == ArticleStatus.PUBLISHED, Article.published_at <= now)


async def _keyset_page(
    db: AsyncSession,
    query: Select[Any],
    *,
    order: Sequence[Any],
    first: int,
    after: int | None,
) -> Page[Article]:
    """`first` rows of `query` in descending `order` (ending with the id) after the article `after`."""
    total = await db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if after is not None:
        cursor = select(*order).where(Article.id == after).scalar_subquery()
        query = query.where(tuple_(*order) < cursor)
    rows = list((await db.scalars(query.order_by(*(c.desc() for c in order)).limit(first + 1))).all())
    return Page(rows=rows[:first], total=total, has_next=len(rows) > first, has_previous=after is not None)


async def list_articles(
    db: AsyncSession,
    *,
    now: datetime,
    category: ArticleCategory | None,
    tag: str | None,
    department_id: int | None,
    first: int,
    after: int | None,
) -> Page[Article]:
    """Visible articles, pinned first, then newest first."""
    query = select(Article).where(visible(now))
    if category is not None:
        query = query.where(Article.category == category)
    if department_id is not None:
        query = query.where(Article.department_id == department_id)
    if tag is not None:
        query = query.where(
            select(ArticleTag.article_id).where(ArticleTag.article_id == Article.id, ArticleTag.tag == tag).exists()
        )
    order = [Article.pinned, Article.published_at, Article.id]
    return await _keyset_page(db, query, order=order, first=first, after=after)


def _like_pattern(words: str) -> str:
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def matching(db: AsyncSession, words: str) -> ColumnElement[bool]:
    """Articles whose title, summary or body text contains `words` (any script, case-insensitive)."""
    if db.get_bind().dialect.name == "sqlite":
        if len(words) >= TRIGRAM:
            phrase = '"' + words.replace('"', '""') + '"'
            hits = text("SELECT rowid FROM articles_fts WHERE articles_fts MATCH :phrase").bindparams(phrase=phrase)
            return Article.id.in_(hits.columns(Article.id))
        return Article.search_text.like(_like_pattern(words), escape="\\")
    return Article.search_text.ilike(_like_pattern(words), escape="\\")


async def search_articles(
    db: AsyncSession, *, now: datetime, words: str, category: ArticleCategory | None, first: int, after: int | None
) -> Page[Article]:
    """Visible articles containing `words`, newest first."""
    query = select(Article).where(visible(now), matching(db, words))
    if category is not None:
        query = query.where(Article.category == category)
    return await _keyset_page(db, query, order=[Article.published_at, Article.id], first=first, after=after)


async def articles_by_ids(db: AsyncSession, *, ids: Sequence[int]) -> dict[int, Article]:
    rows = await db.scalars(select(Article).where(Article.id.in_(ids)))
    return {row.id: row for row in rows}


async def tags_by_article_ids(db: AsyncSession, *, ids: Sequence[int]) -> dict[int, list[str]]:
    rows = await db.execute(
        select(ArticleTag.article_id, ArticleTag.tag).where(ArticleTag.article_id.in_(ids)).order_by(ArticleTag.tag)
    )
    grouped: dict[int, list[str]] = {i: [] for i in ids}
    for article_id, tag in rows:
        grouped[article_id].append(tag)
    return grouped


async def related_articles(
    db: AsyncSession, *, ids: Sequence[int], now: datetime, limit: int
) -> dict[int, list[Article]]:
    """For each article, up to `limit` visible others: two points per shared tag, one for the same
    department, one for the same category; best first, then newest. One statement for all ids."""
    mine, theirs = ArticleTag.__table__.alias("mine"), ArticleTag.__table__.alias("theirs")
    shared = (
        select(mine.c.article_id.label("source"), theirs.c.article_id.label("other"), func.count().label("tags"))
        .join(theirs, and_(theirs.c.tag == mine.c.tag, theirs.c.article_id != mine.c.article_id))
        .where(mine.c.article_id.in_(ids))
        .group_by(mine.c.article_id, theirs.c.article_id)
        .subquery()
    )
    source = Article.__table__.alias("source")
    same_department = and_(source.c.department_id.is_not(None), source.c.department_id == Article.department_id)
    same_category = source.c.category == Article.category
    score = (
        func.coalesce(shared.c.tags, 0) * 2 + case((same_department, 1), else_=0) + case((same_category, 1), else_=0)
    )
    ranked = (
        select(
            source.c.id.label("source"),
            Article.id.label("other"),
            func.row_number()
            .over(partition_by=source.c.id, order_by=(score.desc(), Article.published_at.desc(), Article.id.desc()))
            .label("rank"),
        )
        .select_from(source)
        .join(Article, Article.id != source.c.id)
        .outerjoin(shared, and_(shared.c.source == source.c.id, shared.c.other == Article.id))
        .where(source.c.id.in_(ids), visible(now), or_(shared.c.tags.is_not(None), same_department, same_category))
        .subquery()
    )
    rows = await db.execute(
        select(ranked.c.source, Article)
        .join(Article, Article.id == ranked.c.other)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.source, ranked.c.rank)
    )
    grouped: dict[int, list[Article]] = {i: [] for i in ids}
    for source_id, article in rows:
        grouped[source_id].append(article)
    return grouped


async def list_managed(
    db: AsyncSession,
    *,
    status: ArticleStatus | None,
    category: ArticleCategory | None,
    first: int,
    after: int | None,
) -> Page[Article]:
    """Every article for editors (drafts, scheduled, archived too), newest first by creation."""
    query = select(Article)
    if status is not None:
        query = query.where(Article.status == status)
    if category is not None:
        query = query.where(Article.category == category)
    return await _keyset_page(db, query, order=[Article.id], first=first, after=after)


# ---- writes --------------------------------------------------------------------------------


async def _check_department(db: AsyncSession, department_id: int | None) -> None:
    if department_id is not None and await db.get(Department, department_id) is None:
        raise UnknownDepartment(department_id)


async def _get(db: AsyncSession, article_id: int) -> Article:
    row = await db.get(Article, article_id, with_for_update=True)
    if row is None:
        raise ArticleNotFound()
    return row


async def _write_tags(db: AsyncSession, article_id: int, tags: Sequence[str]) -> None:
    await db.execute(delete(ArticleTag).where(ArticleTag.article_id == article_id))
    if tags:
        await db.execute(insert(ArticleTag), [{"article_id": article_id, "tag": tag} for tag in tags])


def _apply(row: Article, data: ValidArticle) -> None:
    row.category = data.category
    row.title = data.title
    row.summary = data.summary
    row.body = data.body
    row.cover_url = data.cover_url
    row.author = data.author
    row.department_id = data.department_id
    row.search_text = search_text(title=data.title, summary=data.summary, body=data.body)


async def create_article(db: AsyncSession, *, data: ValidArticle, now: datetime) -> Article:
    """A new DRAFT. Raises UnknownDepartment."""
    await _check_department(db, data.department_id)
    row = Article(status=ArticleStatus.DRAFT, created_at=now, updated_at=now, pinned=False, view_count=0)
    _apply(row, data)
    db.add(row)
    await db.flush()
    await _write_tags(db, row.id, data.tags)
    return row


async def update_article(db: AsyncSession, *, article_id: int, data: ValidArticle, now: datetime) -> Article:
    """Every editable field, whatever the status. Raises ArticleNotFound, UnknownDepartment."""
    row = await _get(db, article_id)
    await _check_department(db, data.department_id)
    _apply(row, data)
    row.updated_at = now
    await db.flush()
    await _write_tags(db, row.id, data.tags)
    return row


async def publish_article(db: AsyncSession, *, article_id: int, at: datetime, now: datetime) -> Article:
    """Publish now, or schedule for `at`. A draft, an archived or a still scheduled article may be
    (re)published; one already shown may not. Raises ArticleNotFound, WrongState, InvalidArticle."""
    row = await _get(db, article_id)
    if row.status is ArticleStatus.PUBLISHED and row.published_at is not None and row.published_at <= now:
        raise WrongState("文章已发布 (the article is published already)")
    if at < now - timedelta(minutes=1):
        raise InvalidArticle("发布时间不能早于现在 (publishAt must not be in the past)", field="publishAt")
    if at > now + MAX_SCHEDULE_AHEAD:
        raise InvalidArticle("定时发布最多提前一年 (publishAt: at most a year ahead)", field="publishAt")
    row.status = ArticleStatus.PUBLISHED
    row.published_at = max(at, now)
    row.updated_at = now
    await db.flush()
    return row


async def archive_article(db: AsyncSession, *, article_id: int, now: datetime) -> Article:
    """Take an article off the lists (it keeps its views). Raises ArticleNotFound, WrongState."""
    row = await _get(db, article_id)
    if row.status is ArticleStatus.ARCHIVED:
        raise WrongState("文章已归档 (the article is archived already)")
    row.status = ArticleStatus.ARCHIVED
    row.pinned = False
    row.updated_at = now
    await db.flush()
    return row


async def set_pinned(db: AsyncSession, *, article_id: int, pinned: bool, now: datetime) -> Article:
    """Pin an article to the top of its lists, or unpin it. Raises ArticleNotFound, WrongState."""
    row = await _get(db, article_id)
    if pinned and row.status is ArticleStatus.ARCHIVED:
        raise WrongState("归档文章不能置顶 (an archived article cannot be pinned)")
    row.pinned = pinned
    row.updated_at = now
    await db.flush()
    return row


async def record_view(db: AsyncSession, *, article_id: int, now: datetime, day: date) -> Article:
    """Count one view of a visible article, in its total and in `day` (local). Raises ArticleNotFound."""
    row = await db.scalar(select(Article).where(Article.id == article_id, visible(now)).with_for_update())
    if row is None:
        raise ArticleNotFound()
    row.view_count = Article.view_count + 1
    values = {"article_id": article_id, "day": day, "views": 1}
    table: Table = ArticleDailyViews.__table__  # type: ignore[assignment]
    upsert = (pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert)(table).values(values)
    await db.execute(
        upsert.on_conflict_do_update(
            index_elements=[table.c.article_id, table.c.day], set_={"views": table.c.views + literal(1)}
        )
    )
    await db.flush()
    await db.refresh(row)
    return row
