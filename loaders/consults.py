"""Consult-order loaders: experts, opinions, transition logs, teams and statistics rows, by key."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from datasources.consults import store
from datasources.db.engine import Sessions
from datasources.db.tables import Consult, ConsultOpinion, ConsultOrderTransition, Team


async def experts_by_order_id(sessions: Sessions, ids: Sequence[int]) -> list[list[int]]:
    async with sessions() as db:
        found = await store.experts_by_order_ids(db, ids)
    return [found[i] for i in ids]


async def opinion_by_order_id(sessions: Sessions, ids: Sequence[int]) -> list[ConsultOpinion | None]:
    async with sessions() as db:
        found = await store.opinions_by_order_ids(db, ids)
    return [found.get(i) for i in ids]


async def transitions_by_order_id(sessions: Sessions, ids: Sequence[int]) -> list[list[ConsultOrderTransition]]:
    async with sessions() as db:
        found = await store.transitions_by_order_ids(db, ids)
    return [found[i] for i in ids]


async def team_by_id(sessions: Sessions, ids: Sequence[int]) -> list[Team | None]:
    async with sessions() as db:
        found = {row.id: row for row in await db.scalars(select(Team).where(Team.id.in_(ids)))}
    return [found.get(i) for i in ids]


async def consult_by_id(sessions: Sessions, ids: Sequence[int]) -> list[Consult | None]:
    async with sessions() as db:
        found = await store.consults_by_ids(db, ids)
    return [found.get(i) for i in ids]
