"""Ranking loaders: boards by (board, period), and the teams they rank."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from datasources.db.engine import Sessions
from datasources.db.queries import rankings as queries
from datasources.db.queries import teams as team_queries
from datasources.db.queries.rankings import RankedSubjects, RankingKey
from datasources.db.rankings import StoredBoard
from datasources.db.tables import Team


async def ranking_by_key(
    sessions: Sessions, keys: Sequence[RankingKey], *, prime: Callable[[RankedSubjects], None]
) -> list[StoredBoard | None]:
    """The boards, and with them every subject they show (handed to `prime`): the subjects' loaders
    then answer from their cache, so a request costs the same statements whatever the boards hold."""
    async with sessions() as db:
        found = await queries.boards_by_keys(db, keys=keys)
        subjects = await queries.subjects_of(db, boards=found.values())
    prime(subjects)
    return [found.get(key) for key in keys]


async def team_by_id(sessions: Sessions, ids: Sequence[int]) -> list[Team | None]:
    async with sessions() as db:
        found = await team_queries.teams_by_ids(db, ids=ids)
    return [found.get(i) for i in ids]
