"""Staff loaders: the members themselves, their statistics and the services they offer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from datasources.db.engine import Sessions
from datasources.db.queries import staff as queries
from datasources.db.queries.staff import StaffStatsRow
from datasources.db.tables import ServiceOffering, Staff


async def staff_by_id(sessions: Sessions, ids: Sequence[int]) -> list[Staff | None]:
    async with sessions() as db:
        found = await queries.staff_by_ids(db, ids=ids)
    return [found.get(i) for i in ids]


async def staff_stats_by_staff_id(
    sessions: Sessions, ids: Sequence[int], *, now: datetime, window_days: int
) -> list[StaffStatsRow]:
    async with sessions() as db:
        found = await queries.staff_stats(db, ids=ids, now=now, window_days=window_days)
    return [found[i] for i in ids]


async def offerings_by_staff_id(sessions: Sessions, ids: Sequence[int]) -> list[list[ServiceOffering]]:
    async with sessions() as db:
        found = await queries.offerings_by_staff_ids(db, ids=ids)
    return [found[i] for i in ids]
