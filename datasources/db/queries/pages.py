"""Keyset pagination shared by every list: rows after a cursor id, plus the total count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

RowT = TypeVar("RowT")


@dataclass(frozen=True)
class Page(Generic[RowT]):
    rows: Sequence[RowT]
    total: int
    has_next: bool
    has_previous: bool  # fetched after a cursor (forward pagination only)


async def fetch_page(
    db: AsyncSession,
    query: Select[Any],
    *,
    key: InstrumentedAttribute[int],
    first: int,
    after: int | None,
) -> Page[Any]:
    """Run `query` ordered by `key`, taking `first` rows after the id `after` (two statements)."""
    total = await db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if after is not None:
        query = query.where(key > after)
    rows = list((await db.scalars(query.order_by(key).limit(first + 1))).all())
    return Page(rows=rows[:first], total=total, has_next=len(rows) > first, has_previous=after is not None)
