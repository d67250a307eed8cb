"""Departments (科室)."""

from __future__ import annotations

import strawberry

from datasources.db.tables import Department as DepartmentRow
from schema.cache_control import DEPARTMENTS, cache_hint
from schema.common import RegistrationLink


@strawberry.type(description="A clinical department (科室) of the hospital.", directives=[cache_hint(600, DEPARTMENTS)])
class Department:
    id: strawberry.ID = strawberry.field(description="Stable id of the department.")
    code: str = strawberry.field(description="The department's code in the HIS.")
    name: str = strawberry.field(description="Name shown to patients, e.g. 心血管内科.")
    description: str = strawberry.field(description="What the department treats, in plain language.")
    location: str = strawberry.field(description="Where to find it in the hospital, e.g. 门诊楼3层A区.")
    registration_link: RegistrationLink = strawberry.field(
        description="The department's registration (挂号) page in the mini-program."
    )

    @classmethod
    def from_row(cls, row: DepartmentRow) -> Department:
        return cls(
            id=strawberry.ID(str(row.id)),
            code=row.code,
            name=row.name,
            description=row.description,
            location=row.location,
            registration_link=RegistrationLink(
                kind=row.registration_kind,
                target=row.registration_target,
                department_id=strawberry.ID(str(row.id)),
                staff_id=None,
            ),
        )
