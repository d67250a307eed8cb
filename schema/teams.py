"""Doctor teams (医生团队) that take team consults (团队咨询) and MDT."""

from __future__ import annotations

import strawberry

from datasources.db.tables import Team as TeamRow
from schema.common import RegistrationLink
from schema.context import Info
from schema.departments import Department
from schema.staff import StaffMember


@strawberry.type(description="A doctor team (医生团队) that takes team consults (团队咨询) and MDT together.")
class Team:
    id: strawberry.ID = strawberry.field(description="Stable id of the team.")
    name: str = strawberry.field(description="Name shown to patients, e.g. 心血管内科高血压团队.")
    description: str = strawberry.field(description="What the team treats, in plain language.")
    department_id: strawberry.Private[int]
    leader_id: strawberry.Private[int | None]

    @strawberry.field(description="The department the team belongs to.")
    async def department(self, info: Info) -> Department:
        row = await info.context.loaders.department_by_id.load(self.department_id)
        assert row is not None, "teams.department_id is a foreign key"
        return Department.from_row(row)

    @strawberry.field(description="The team leader; null when the team has none.")
    async def leader(self, info: Info) -> StaffMember | None:
        if self.leader_id is None:
            return None
        row = await info.context.loaders.staff_by_id.load(self.leader_id)
        return None if row is None else StaffMember.from_row(row, info)

    @strawberry.field(
        description="Where to register (挂号) with the team: the team leader's registration page; the team's "
        "department's registration page when the team has no leader or the leader has left."
    )
    async def registration_link(self, info: Info) -> RegistrationLink:
        if self.leader_id is not None:
            leader = await info.context.loaders.staff_by_id.load(self.leader_id)
            if leader is not None and leader.active:
                return StaffMember.from_row(leader, info).registration_link
        return (await self.department(info)).registration_link

    @classmethod
    def from_row(cls, row: TeamRow) -> Team:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            description=row.description,
            department_id=row.department_id,
            leader_id=row.leader_id,
        )
