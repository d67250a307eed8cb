"""Assembles the GraphQL schema from the domain modules and the root resolvers."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.types import ExecutionContext

from domain.enums import AdminRole
from resolvers import departments as department_resolvers
from resolvers import home as home_resolvers
from resolvers import identity as identity_resolvers
from resolvers import staff as staff_resolvers
from resolvers.identity import ProfileResult, RemoveProfileResult
from schema.common import Connection
from schema.departments import Department
from schema.errors import MaskUnexpectedErrors
from schema.home import Homepage
from schema.identity import (
    AuditEntry,
    ConsentDocument,
    PatientAccount,
    PatientProfile,
    PatientSession,
    StaffAccount,
    StaffSession,
)
from schema.permissions import IsPatient, IsSignedIn, staff_with
from schema.staff import StaffMember

logger = logging.getLogger("hospital_bff.graphql")

MAX_TOKENS = 2_000  # the full homepage query is about 150 tokens


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
        resolver=staff_resolvers.staff_member,
        description="One staff member by id; null when there is none or when they have left (as in `staff`).",
    )
    department: Department | None = strawberry.field(
        resolver=department_resolvers.department, description="One department by id; null when there is none."
    )
    departments: Connection[Department] = strawberry.field(
        resolver=department_resolvers.departments, description="All departments in id order; `first` is at most 50."
    )
    me: PatientAccount = strawberry.field(
        resolver=identity_resolvers.me,
        permission_classes=[IsPatient],
        description="The signed-in patient account with its profiles (patients only).",
    )
    profile: PatientProfile = strawberry.field(
        resolver=identity_resolvers.profile,
        permission_classes=[IsPatient],
        description="One of the signed-in account's own profiles; any other id is FORBIDDEN.",
    )
    consent_document: ConsentDocument | None = strawberry.field(
        resolver=identity_resolvers.consent_document,
        description="The current version of a consent text, to show before `giveHealthDataConsent`.",
    )
    staff_me: StaffAccount = strawberry.field(
        resolver=identity_resolvers.staff_me,
        permission_classes=[staff_with(*AdminRole)],
        description="The signed-in staff account (staff only).",
    )
    audit_log: Connection[AuditEntry] = strawberry.field(
        resolver=identity_resolvers.audit_log,
        permission_classes=[staff_with(AdminRole.SUPER_ADMIN)],
        description="The audit log, oldest first (SUPER_ADMIN only).",
    )


@strawberry.type(description="Everything the mini-program and the admin side can change.")
class Mutation:
    login: PatientSession = strawberry.field(
        resolver=identity_resolvers.login,
        description="Sign a patient in with the code of `wx.login()`. A used or invalid code is UNAUTHENTICATED.",
    )
    logout: bool = strawberry.field(
        resolver=identity_resolvers.logout,
        permission_classes=[IsSignedIn],
        description="End the current session (patient or staff) on every instance.",
    )
    staff_login: StaffSession = strawberry.field(
        resolver=identity_resolvers.staff_login,
        description="Sign a staff member in with password and authenticator code. Repeated failures lock the "
        "account for a while; every failure gives the same UNAUTHENTICATED answer.",
    )
    add_profile: ProfileResult = strawberry.field(
        resolver=identity_resolvers.add_profile,
        permission_classes=[IsPatient],
        description="Add a profile (就诊人) to the signed-in account (at most 10).",
    )
    update_profile: ProfileResult = strawberry.field(
        resolver=identity_resolvers.update_profile,
        permission_classes=[IsPatient],
        description="Change one of the account's profiles. A different ID number withdraws earlier consents.",
    )
    remove_profile: RemoveProfileResult = strawberry.field(
        resolver=identity_resolvers.remove_profile,
        permission_classes=[IsPatient],
        description="Remove one of the account's profiles, with its consents.",
    )
    set_default_profile: ProfileResult = strawberry.field(
        resolver=identity_resolvers.set_default_profile,
        permission_classes=[IsPatient],
        description="Make one of the account's profiles the default.",
    )
    give_health_data_consent: ProfileResult = strawberry.field(
        resolver=identity_resolvers.give_health_data_consent,
        permission_classes=[IsPatient],
        description="Record consent to processing of a profile's health data, for the current text version.",
    )
    withdraw_health_data_consent: ProfileResult = strawberry.field(
        resolver=identity_resolvers.withdraw_health_data_consent,
        permission_classes=[IsPatient],
        description="Withdraw a profile's health-data consent; its health data is no longer processed.",
    )


@strawberry.type(description="Everything the mini-program and the admin side can change (development build).")
class DevMutation(Mutation):
    dev_login: PatientSession = strawberry.field(
        resolver=identity_resolvers.dev_login,
        description="Development only (ENV=dev; absent in production): sign in as a demo patient, who gets two "
        "demo profiles on first use.",
    )


class HospitalSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Client errors describe the request and are not worth a log line each; unexpected errors
        # are logged with their trace and request id by MaskUnexpectedErrors.
        for error in errors:
            logger.debug("client error: %s", error.message)


def _build(mutation: type) -> HospitalSchema:
    return HospitalSchema(
        query=Query,
        mutation=mutation,
        extensions=[
            MaskUnexpectedErrors,
            lambda: QueryDepthLimiter(max_depth=12),
            lambda: MaxAliasesLimiter(max_alias_count=30),
            # Bounds the parser's work before depth and alias checks run on the parsed document.
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        ],
    )


schema = _build(Mutation)  # production: no development sign-in
dev_schema = _build(DevMutation)  # ENV=dev; also the source of schema.graphql
