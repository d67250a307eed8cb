"""Visit companion loaders: the guide is one small table, read once per request."""

from __future__ import annotations

from collections.abc import Sequence

from datasources.db.engine import Sessions
from datasources.db.queries import companion as queries
from datasources.db.tables import VisitGuideStep
from loaders.home import Everything


async def visit_guide(sessions: Sessions, keys: Sequence[Everything]) -> list[Sequence[VisitGuideStep]]:
    async with sessions() as db:
        rows = await queries.visit_guide(db)
    return [rows for _ in keys]
