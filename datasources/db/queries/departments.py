"""Departments: by id, and the paginated list."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db.queries.pages import Page, fetch_page
from datasources.db.tables import Department


async def departments_by_ids(db: AsyncSession, *, ids: Sequence[int]) -> dict[int, Department]:
    rows = await db.scalars(select(Department).where(Department.id.in_(ids)))
    return {row.id: row for row in rows}


async def list_departments(db: AsyncSession, *, first: int, after: int | None) -> Page[Department]:
    return await fetch_page(db, select(Department), key=Department.id, first=first, after=after)
