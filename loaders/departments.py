"""Department loaders."""

from __future__ import annotations

from collections.abc import Sequence

from datasources.db.engine import Sessions
from datasources.db.queries import departments as queries
from datasources.db.tables import Department


async def department_by_id(sessions: Sessions, ids: Sequence[int]) -> list[Department | None]:
    async with sessions() as db:
        found = await queries.departments_by_ids(db, ids=ids)
    return [found.get(i) for i in ids]
