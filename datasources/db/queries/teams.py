"""Doctor teams (团队) by id."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db.tables import Team


async def teams_by_ids(db: AsyncSession, *, ids: Sequence[int]) -> dict[int, Team]:
    rows = await db.scalars(select(Team).where(Team.id.in_(ids)))
    return {row.id: row for row in rows}
