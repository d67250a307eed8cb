"""Assembles the GraphQL schema from the domain modules and the root resolvers."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.types import ExecutionContext

from resolvers import departments as department_resolvers
from resolvers import home as home_resolvers
from resolvers import staff as staff_resolvers
from schema.common import Connection
from schema.departments import Department
from schema.errors import MaskUnexpectedErrors
from schema.home import Homepage
from schema.staff import StaffMember

logger = logging.getLogger("hospital_bff.graphql")


@strawberry.type(description="Everything the mini-program and the admin side can read.")
class Query:
    homepage: Homepage = strawberry.field(
        resolver=home_resolvers.homepage,
        description="Every module of the homepage in one request. `variant: ELDER` gives the 长辈版 layout.",
    )
    staff: Connection[StaffMember] = strawberry.field(
        resolver=staff_resolvers.staff,
        description="Staff who take internet consults (医 / 护 / 药), with their statistics, in id order. "
        "Filters combine; `first` is at most 50.",
    )
    staff_member: StaffMember | None = strawberry.field(
        resolver=staff_resolvers.staff_member, description="One staff member by id; null when there is none."
    )
    department: Department | None = strawberry.field(
        resolver=department_resolvers.department, description="One department by id; null when there is none."
    )
    departments: Connection[Department] = strawberry.field(
        resolver=department_resolvers.departments, description="All departments in id order; `first` is at most 50."
    )


class HospitalSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Client errors describe the request and are not worth a log line each; unexpected errors
        # are logged with their trace and request id by MaskUnexpectedErrors.
        for error in errors:
            logger.debug("client error: %s", error.message)


schema = HospitalSchema(
    query=Query,
    extensions=[
        MaskUnexpectedErrors,
        lambda: QueryDepthLimiter(max_depth=12),
        lambda: MaxAliasesLimiter(max_alias_count=30),
    ],
)
