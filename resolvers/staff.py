"""Staff queries."""

from __future__ import annotations

from typing import Annotated

import strawberry

from datasources.db.queries import staff as queries
from domain.enums import ConsultService, StaffRole
from schema.common import Connection, check_first, decode_cursor, parse_id, to_connection
from schema.context import Info
from schema.staff import StaffMember

CURSOR_KIND = "staff"


async def staff(
    info: Info,
    role: Annotated[StaffRole | None, strawberry.argument(description="Only this role (医 / 护 / 药).")] = None,
    department_id: Annotated[
        strawberry.ID | None, strawberry.argument(description="Only staff of this department.")
    ] = None,
    service: Annotated[
        ConsultService | None, strawberry.argument(description="Only staff offering this consult service.")
    ] = None,
    first: Annotated[int, strawberry.argument(description="Page size, 1 to 50.")] = 20,
    after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
) -> Connection[StaffMember]:
    check_first(first, info.context.settings.page_size_max)
    async with info.context.db() as db:
        page = await queries.list_staff(
            db,
            role=role,
            department_id=None if department_id is None else parse_id(department_id, "departmentId"),
            service=service,
            first=first,
            after=decode_cursor(CURSOR_KIND, after),
        )
    for row in page.rows:
        info.context.loaders.staff_by_id.prime(row.id, row)
    return to_connection(
        page, kind=CURSOR_KIND, key=lambda row: row.id, convert=lambda row: StaffMember.from_row(row, info)
    )


async def staff_member(
    info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Id of the staff member.")]
) -> StaffMember | None:
    row = await info.context.loaders.staff_by_id.load(parse_id(id))
    # Staff who have left keep their rows (their consults still count) but are no longer shown,
    # here as in the list.
    return None if row is None or not row.active else StaffMember.from_row(row, info)
