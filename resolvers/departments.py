"""Department queries."""

from __future__ import annotations

from typing import Annotated

import strawberry

from datasources.db.queries import departments as queries
from schema.common import Connection, check_first, decode_cursor, parse_id, to_connection
from schema.context import Info
from schema.departments import Department

CURSOR_KIND = "department"


async def department(
    info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Id of the department.")]
) -> Department | None:
    row = await info.context.loaders.department_by_id.load(parse_id(id))
    return None if row is None else Department.from_row(row)


async def departments(
    info: Info,
    first: Annotated[int, strawberry.argument(description="Page size, 1 to 50.")] = 50,
    after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
) -> Connection[Department]:
    check_first(first, info.context.settings.page_size_max)
    async with info.context.db() as db:
        page = await queries.list_departments(db, first=first, after=decode_cursor(CURSOR_KIND, after))
    for row in page.rows:
        info.context.loaders.department_by_id.prime(row.id, row)
    return to_connection(page, kind=CURSOR_KIND, key=lambda row: row.id, convert=Department.from_row)
