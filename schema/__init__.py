"""Assembles the GraphQL schema from the domain modules and the root resolvers."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.types import ExecutionContext

from domain.enums import AdminRole
from resolvers import consults as consult_resolvers
from resolvers import departments as department_resolvers
from resolvers import home as home_resolvers
from resolvers import identity as identity_resolvers
from resolvers import staff as staff_resolvers
from resolvers.consults import (
    ConsultOrderResult,
    ConsultPaymentResult,
    CreateConsultOrderResult,
    PublishConsultConsentResult,
)
from resolvers.identity import ProfileResult, RemoveProfileResult
from schema.common import Connection
from schema.consults import ConsultConsentDocument, ConsultOrder, RapidConsultStatus, StaffGroup
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
from schema.permissions import IsDoctor, IsPatient, IsSignedIn, staff_with
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
    # ---- consult orders ----
    consult_consent: ConsultConsentDocument | None = strawberry.field(
        resolver=consult_resolvers.consult_consent,
        description="The current informed consent of a service (视频问诊), to show and accept before ordering.",
    )
    rapid_consult_status: RapidConsultStatus = strawberry.field(
        resolver=consult_resolvers.rapid_consult_status,
        description="极速咨询 now: queue length, doctors on duty, expected wait and price.",
    )
    follow_up_staff: list[StaffGroup] = strawberry.field(
        resolver=consult_resolvers.follow_up_staff,
        description="复诊续方: the staff offering it, grouped 医 / 护 / 药, with their statistics.",
    )
    consult_orders: Connection[ConsultOrder] = strawberry.field(
        resolver=consult_resolvers.consult_orders,
        permission_classes=[IsPatient],
        description="The signed-in account's consult orders, newest first (patients only).",
    )
    consult_order: ConsultOrder = strawberry.field(
        resolver=consult_resolvers.consult_order,
        permission_classes=[IsPatient],
        description="One of the account's own orders, with its timeline; any other id is FORBIDDEN.",
    )
    doctor_consult_orders: Connection[ConsultOrder] = strawberry.field(
        resolver=consult_resolvers.doctor_consult_orders,
        permission_classes=[IsDoctor],
        description="Orders assigned to the signed-in doctor (as the doctor or one of the experts), newest first.",
    )
    rapid_consult_queue: Connection[ConsultOrder] = strawberry.field(
        resolver=consult_resolvers.rapid_consult_queue,
        permission_classes=[IsDoctor],
        description="极速咨询 orders waiting for a doctor, oldest first (doctors of the GP team only).",
    )
    coordination_consult_orders: Connection[ConsultOrder] = strawberry.field(
        resolver=consult_resolvers.coordination_consult_orders,
        permission_classes=[staff_with(AdminRole.COORDINATOR)],
        description="Paid team and MDT orders, oldest first: the coordinators' work queue.",
    )
    staff_consult_order: ConsultOrder = strawberry.field(
        resolver=consult_resolvers.staff_consult_order,
        permission_classes=[staff_with(AdminRole.DOCTOR, AdminRole.COORDINATOR)],
        description="One order for staff: a doctor reads those assigned to them (and the rapid queue), a "
        "coordinator team and MDT orders; any other id is FORBIDDEN.",
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
    # ---- consult orders: patients ----
    create_consult_order: CreateConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.create_consult_order,
        permission_classes=[IsPatient],
        description="Order a consult for one of the account's profiles and get the wx.requestPayment parameters. "
        "The same idempotency key never places a second order.",
    )
    request_consult_payment: ConsultPaymentResult = strawberry.field(
        resolver=consult_resolvers.request_consult_payment,
        permission_classes=[IsPatient],
        description="wx.requestPayment parameters again for an unpaid order (e.g. after the payer closed the sheet).",
    )
    sync_consult_payment: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.sync_consult_payment,
        permission_classes=[IsPatient],
        description="After wx.requestPayment succeeded: ask WeChat Pay directly and record the payment if no "
        "notification has arrived yet.",
    )
    cancel_consult_order: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.cancel_consult_order,
        permission_classes=[IsPatient],
        description="Cancel an order not yet taken on: an unpaid one is closed, a paid one refunded in full.",
    )
    rate_consult_order: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.rate_consult_order,
        permission_classes=[IsPatient],
        description="Rate a completed consult once (1–5 stars, optional review); it counts in the 好评率.",
    )
    # ---- consult orders: doctors ----
    accept_consult_order: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.accept_consult_order,
        permission_classes=[IsDoctor],
        description="复诊续方/视频问诊: the chosen doctor takes the paid order on.",
    )
    decline_consult_order: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.decline_consult_order,
        permission_classes=[IsDoctor],
        description="复诊续方/视频问诊: the chosen doctor cannot take it; the patient is refunded in full.",
    )
    complete_consult_order: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.complete_consult_order,
        permission_classes=[IsDoctor],
        description="复诊续方/视频问诊/极速咨询: the doctor completes the consult.",
    )
    accept_rapid_consult: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.accept_rapid_consult,
        permission_classes=[IsDoctor],
        description="极速咨询: an on-duty GP doctor takes a queued order; when two try at once, exactly one gets it "
        "and the other is told ILLEGAL_TRANSITION.",
    )
    set_rapid_consult_duty: bool = strawberry.field(
        resolver=consult_resolvers.set_rapid_consult_duty,
        permission_classes=[IsDoctor],
        description="极速咨询: a GP-team doctor goes on or off duty; answers the new state.",
    )
    write_consult_opinion: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.write_consult_opinion,
        permission_classes=[IsDoctor],
        description="团队/MDT: an assigned expert writes (or rewrites) the combined opinion after the consultation.",
    )
    publish_consult_opinion: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.publish_consult_opinion,
        permission_classes=[IsDoctor],
        description="团队/MDT: an assigned expert publishes the opinion; the patient reads it online and the order "
        "is completed.",
    )
    # ---- consult orders: coordinators ----
    accept_consult_coordination: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.accept_consult_coordination,
        permission_classes=[staff_with(AdminRole.COORDINATOR)],
        description="团队/MDT: a coordinator takes a paid order on.",
    )
    reject_consult_order: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.reject_consult_order,
        permission_classes=[staff_with(AdminRole.COORDINATOR)],
        description="团队/MDT: turn the order down before the consultation; the patient is refunded in full.",
    )
    mark_consult_patient_contacted: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.mark_consult_patient_contacted,
        permission_classes=[staff_with(AdminRole.COORDINATOR)],
        description="团队/MDT: the coordinator has contacted the patient.",
    )
    assign_consult_experts: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.assign_consult_experts,
        permission_classes=[staff_with(AdminRole.COORDINATOR)],
        description="团队/MDT: assign (or change) the experts.",
    )
    schedule_consult_meeting: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.schedule_consult_meeting,
        permission_classes=[staff_with(AdminRole.COORDINATOR)],
        description="团队/MDT: set (or move) the consultation's time; MDT gets a video-meeting room.",
    )
    mark_consult_held: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.mark_consult_held,
        permission_classes=[staff_with(AdminRole.COORDINATOR)],
        description="团队/MDT: the consultation took place; the experts write the opinion next.",
    )
    refund_consult_order: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.refund_consult_order,
        permission_classes=[staff_with(AdminRole.COORDINATOR)],
        description="Refund a paid order: in full (ending an unfinished consult), in part for a completed one, or "
        "again after a failed refund.",
    )
    publish_consult_consent: PublishConsultConsentResult = strawberry.field(
        resolver=consult_resolvers.publish_consult_consent,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Publish a new version of a service's informed consent; it applies to orders from now on.",
    )


@strawberry.type(description="Everything the mini-program and the admin side can change (development build).")
class DevMutation(Mutation):
    dev_login: PatientSession = strawberry.field(
        resolver=identity_resolvers.dev_login,
        description="Development only (ENV=dev; absent in production): sign in as a demo patient, who gets two "
        "demo profiles on first use.",
    )
    dev_pay_consult_order: ConsultOrderResult = strawberry.field(
        resolver=consult_resolvers.dev_pay_consult_order,
        permission_classes=[IsPatient],
        description="Development only, with the WeChat Pay sandbox: pay an own unpaid order as wx.requestPayment "
        "would; the sandbox then sends its signed, encrypted notification to this server.",
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
