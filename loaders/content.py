"""Content loaders: article tags, related articles, appreciation counts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from datasources.content import appreciations
from datasources.content import articles as store
from datasources.content.appreciations import AppreciationCounts
from datasources.db.engine import Sessions
from datasources.db.tables import Article


async def tags_by_article_id(sessions: Sessions, ids: Sequence[int]) -> list[list[str]]:
    async with sessions() as db:
        found = await store.tags_by_article_ids(db, ids=ids)
    return [found[i] for i in ids]


async def related_articles(
    sessions: Sessions, keys: Sequence[tuple[int, int]], *, now: datetime
) -> list[list[Article]]:
    """Keys are (article id, how many); one statement per distinct count (normally one)."""
    by_limit: dict[int, list[int]] = defaultdict(list)
    for article_id, limit in keys:
        by_limit[limit].append(article_id)
    found: dict[tuple[int, int], list[Article]] = {}
    async with sessions() as db:
        for limit, ids in by_limit.items():
            for article_id, rows in (await store.related_articles(db, ids=ids, now=now, limit=limit)).items():
                found[(article_id, limit)] = rows
    return [found[key] for key in keys]


async def appreciation_counts_by_staff_id(sessions: Sessions, ids: Sequence[int]) -> list[AppreciationCounts]:
    async with sessions() as db:
        found = await appreciations.published_appreciation_counts(db, staff_ids=ids)
    return [found[i] for i in ids]
