"""Health encyclopedia: patients' lists, search and views; editors' articles and their workflow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.content import articles as store
from datasources.db.tables import Article as ArticleRow
from domain.audit import AuditResult
from domain.enums import ArticleCategory, ArticleStatus
from resolvers.auditing import write_audit
from schema.cache_control import ARTICLES, invalidate_cache
from schema.common import Connection, check_first, decode_cursor, parse_id, to_connection
from schema.content import Article, ManagedArticle
from schema.context import Info
from schema.errors import BadInput
from schema.identity import NotFound, ProblemReason, ValidationFailed, not_found

ARTICLE_CURSOR = "article"
MANAGED_CURSOR = "managed-article"
SEARCH_CURSOR = "article-search"


# ---- inputs and results -------------------------------------------------------------------


@strawberry.input(description="An article as an editor writes it. Every field is stored as given (trimmed).")
class ArticleInput:
    category: ArticleCategory = strawberry.field(description="科普, 资讯 or 医院动态.")
    title: str = strawberry.field(description="Headline, 1 to 128 characters.")
    summary: str = strawberry.field(description="Shown in lists, at most 512 characters.")
    body: str = strawberry.field(
        description="Rich text as HTML. Sanitised before it is stored: only the tags listed on `Article.body` "
        "and https addresses remain; scripts and event handlers are removed. Must contain some text or an image."
    )
    cover_url: str = strawberry.field(default="", description="Cover image, an https address, or empty.")
    author: str = strawberry.field(default="", description="Who wrote it, at most 64 characters.")
    department_id: strawberry.ID | None = strawberry.field(
        default=None, description="The department the article is about, if any."
    )
    tags: list[str] = strawberry.field(
        default_factory=list, description=f"Up to {store.MAX_TAGS} tags of 1 to {store.MAX_TAG_CHARS} characters."
    )

    def to_data(self) -> store.ArticleData:
        return store.ArticleData(
            category=self.category,
            title=self.title,
            summary=self.summary,
            body=self.body,
            cover_url=self.cover_url,
            author=self.author,
            department_id=None if self.department_id is None else parse_id(self.department_id, "departmentId"),
            tags=tuple(self.tags),
        )


@strawberry.type(description="The article was saved.")
class ArticleSuccess:
    article: ManagedArticle = strawberry.field(description="The article as stored now.")


@strawberry.type(description="The view was counted.")
class ArticleViewRecorded:
    article: Article = strawberry.field(description="The article, with its new view count.")


def _union(name: str, what: str) -> object:
    return strawberry.union(name, description=f"{what}, or why nothing was changed.")


CreateArticleResult = Annotated[
    ArticleSuccess | NotFound | ValidationFailed, _union("CreateArticleResult", "The new draft")
]
UpdateArticleResult = Annotated[
    ArticleSuccess | NotFound | ValidationFailed, _union("UpdateArticleResult", "The changed article")
]
PublishArticleResult = Annotated[
    ArticleSuccess | NotFound | ValidationFailed, _union("PublishArticleResult", "The published or scheduled article")
]
ArchiveArticleResult = Annotated[
    ArticleSuccess | NotFound | ValidationFailed, _union("ArchiveArticleResult", "The archived article")
]
PinArticleResult = Annotated[
    ArticleSuccess | NotFound | ValidationFailed, _union("PinArticleResult", "The pinned or unpinned article")
]
RecordArticleViewResult = Annotated[
    ArticleViewRecorded | NotFound, _union("RecordArticleViewResult", "The article with its new view count")
]


def _invalid(error: store.InvalidArticle) -> ValidationFailed:
    return ValidationFailed(message=str(error), field=error.field, reason=ProblemReason.INVALID, detail=None)


def _wrong_state(error: store.WrongState) -> ValidationFailed:
    return ValidationFailed(message=str(error), field=None, reason=ProblemReason.WRONG_STATE, detail=None)


def _article_not_found(article_id: int) -> NotFound:
    return not_found("Article", article_id, "文章")


# ---- patient side ---------------------------------------------------------------------------


def _words(query: str) -> str:
    words = " ".join(query.split())
    if not 1 <= len(words) <= store.MAX_QUERY_CHARS:
        raise BadInput(f"`query` must have 1 to {store.MAX_QUERY_CHARS} characters.", argument="query")
    return words


async def articles(
    info: Info,
    category: Annotated[ArticleCategory | None, strawberry.argument(description="Only this category.")] = None,
    tag: Annotated[str | None, strawberry.argument(description="Only articles with this tag.")] = None,
    department_id: Annotated[
        strawberry.ID | None, strawberry.argument(description="Only articles about this department.")
    ] = None,
    first: Annotated[int, strawberry.argument(description="Page size, 1 to 50.")] = 20,
    after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
) -> Connection[Article]:
    check_first(first, info.context.settings.page_size_max)
    department = None if department_id is None else parse_id(department_id, "departmentId")
    async with info.context.db() as db:
        page = await store.list_articles(
            db,
            now=info.context.now,
            category=category,
            tag=tag,
            department_id=department,
            first=first,
            after=decode_cursor(ARTICLE_CURSOR, after),
        )
    return to_connection(page, kind=ARTICLE_CURSOR, key=lambda row: row.id, convert=Article.from_row)


async def article(
    info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Id of the article.")]
) -> Article | None:
    article_id = parse_id(id)
    async with info.context.db() as db:
        found = await store.articles_by_ids(db, ids=[article_id])
    row = found.get(article_id)
    now = info.context.now
    if row is None or row.status is not ArticleStatus.PUBLISHED or row.published_at is None or row.published_at > now:
        return None
    return Article.from_row(row)


async def search_articles(
    info: Info,
    query: Annotated[
        str,
        strawberry.argument(
            description="Words to find in title, summary and text, e.g. 高血压; found inside sentences too. "
            f"1 to {store.MAX_QUERY_CHARS} characters."
        ),
    ],
    category: Annotated[ArticleCategory | None, strawberry.argument(description="Only this category.")] = None,
    first: Annotated[int, strawberry.argument(description="Page size, 1 to 50.")] = 20,
    after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
) -> Connection[Article]:
    check_first(first, info.context.settings.page_size_max)
    words = _words(query)
    async with info.context.db() as db:
        page = await store.search_articles(
            db,
            now=info.context.now,
            words=words,
            category=category,
            first=first,
            after=decode_cursor(SEARCH_CURSOR, after),
        )
    return to_connection(page, kind=SEARCH_CURSOR, key=lambda row: row.id, convert=Article.from_row)


async def record_article_view(
    info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Id of the article being read.")]
) -> RecordArticleViewResult:
    article_id = parse_id(id)
    now = info.context.now
    async with info.context.db() as db, db.begin():
        try:
            row = await store.record_view(
                db, article_id=article_id, now=now, day=now.astimezone(info.context.settings.zone).date()
            )
        except store.ArticleNotFound:
            return _article_not_found(article_id)
        return ArticleViewRecorded(article=Article.from_row(row))


# ---- editors ----------------------------------------------------------------------------------


async def managed_articles(
    info: Info,
    status: Annotated[ArticleStatus | None, strawberry.argument(description="Only this status.")] = None,
    category: Annotated[ArticleCategory | None, strawberry.argument(description="Only this category.")] = None,
    first: Annotated[int, strawberry.argument(description="Page size, 1 to 50.")] = 20,
    after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
) -> Connection[ManagedArticle]:
    check_first(first, info.context.settings.page_size_max)
    now = info.context.now
    async with info.context.db() as db:
        page = await store.list_managed(
            db, status=status, category=category, first=first, after=decode_cursor(MANAGED_CURSOR, after)
        )
    return to_connection(
        page, kind=MANAGED_CURSOR, key=lambda row: row.id, convert=lambda row: ManagedArticle.from_row(row, now=now)
    )


async def managed_article(
    info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Id of the article.")]
) -> ManagedArticle | None:
    article_id = parse_id(id)
    async with info.context.db() as db:
        row = (await store.articles_by_ids(db, ids=[article_id])).get(article_id)
    return None if row is None else ManagedArticle.from_row(row, now=info.context.now)


Change = Callable[[AsyncSession], Awaitable[ArticleRow]]


async def _change(
    info: Info, action: str, article_id: int | None, change: Change
) -> ArticleSuccess | NotFound | ValidationFailed:
    """Run one editor change in one transaction, audited. A refusal raises inside the transaction,
    so it is rolled back and nothing is written."""
    try:
        async with info.context.db() as db, db.begin():
            row = await change(db)
            await write_audit(info, db, action=action, result=AuditResult.OK, target_type="Article", target_id=row.id)
            success = ArticleSuccess(article=ManagedArticle.from_row(row, now=info.context.now))
    except store.ArticleNotFound:
        assert article_id is not None, "only changes of an existing article look one up"
        return _article_not_found(article_id)
    except store.UnknownDepartment as error:
        return not_found("Department", error.department_id, "科室")
    except store.InvalidArticle as error:
        return _invalid(error)
    except store.WrongState as error:
        return _wrong_state(error)
    # After the commit: a response cached meanwhile would otherwise keep showing the article as it was.
    await invalidate_cache(info, {ARTICLES})
    return success


def _validated(input: ArticleInput) -> store.ValidArticle | ValidationFailed:
    try:
        return store.validate_article(input.to_data())
    except store.InvalidArticle as error:
        return _invalid(error)


async def create_article(
    info: Info, input: Annotated[ArticleInput, strawberry.argument(description="The new article.")]
) -> CreateArticleResult:
    valid = _validated(input)
    if isinstance(valid, ValidationFailed):
        return valid
    now = info.context.now
    return await _change(info, "article.create", None, lambda db: store.create_article(db, data=valid, now=now))


async def update_article(
    info: Info,
    id: Annotated[strawberry.ID, strawberry.argument(description="Id of the article.")],
    input: Annotated[ArticleInput, strawberry.argument(description="Every field's new value.")],
) -> UpdateArticleResult:
    article_id = parse_id(id)
    valid = _validated(input)
    if isinstance(valid, ValidationFailed):
        return valid
    now = info.context.now
    return await _change(
        info,
        "article.update",
        article_id,
        lambda db: store.update_article(db, article_id=article_id, data=valid, now=now),
    )


async def publish_article(
    info: Info,
    id: Annotated[strawberry.ID, strawberry.argument(description="Id of the article.")],
    publish_at: Annotated[
        datetime | None,
        strawberry.argument(
            description="When it goes live (定时发布), at most a year ahead; omitted or null means now. "
            "Until then it stays off every list."
        ),
    ] = None,
) -> PublishArticleResult:
    article_id = parse_id(id)
    now = info.context.now
    if publish_at is not None and publish_at.tzinfo is None:
        raise BadInput("`publishAt` needs a time-zone offset, e.g. 2026-12-01T08:00:00+08:00.", argument="publishAt")
    at = publish_at or now
    return await _change(
        info,
        "article.publish",
        article_id,
        lambda db: store.publish_article(db, article_id=article_id, at=at, now=now),
    )


async def archive_article(
    info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Id of the article.")]
) -> ArchiveArticleResult:
    article_id = parse_id(id)
    now = info.context.now
    return await _change(
        info, "article.archive", article_id, lambda db: store.archive_article(db, article_id=article_id, now=now)
    )


async def pin_article(
    info: Info,
    id: Annotated[strawberry.ID, strawberry.argument(description="Id of the article.")],
    pinned: Annotated[bool, strawberry.argument(description="True to pin (置顶), false to unpin.")],
) -> PinArticleResult:
    article_id = parse_id(id)
    now = info.context.now
    return await _change(
        info,
        "article.pin" if pinned else "article.unpin",
        article_id,
        lambda db: store.set_pinned(db, article_id=article_id, pinned=pinned, now=now),
    )
