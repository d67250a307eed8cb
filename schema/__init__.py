"""Assembles the GraphQL schema from the domain modules and the root resolvers."""

from __future__ import annotations

import logging
from functools import lru_cache

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, DisableIntrospection, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from domain.enums import AdminRole
from resolvers import companion as companion_resolvers
from resolvers import consults as consult_resolvers
from resolvers import content as content_resolvers
from resolvers import dashboard as dashboard_resolvers
from resolvers import departments as department_resolvers
from resolvers import engagement as engagement_resolvers
from resolvers import home as home_resolvers
from resolvers import home_config
from resolvers import identity as identity_resolvers
from resolvers import rankings as ranking_resolvers
from resolvers import records as record_resolvers
from resolvers import staff as staff_resolvers
from resolvers.companion import UpdateVisitGuideStepResult
from resolvers.consults import (
    ConsultOrderResult,
    ConsultPaymentResult,
    CreateConsultOrderResult,
    PublishConsultConsentResult,
)
from resolvers.content import (
    ArchiveArticleResult,
    CreateArticleResult,
    PinArticleResult,
    PublishArticleResult,
    RecordArticleViewResult,
    UpdateArticleResult,
)
from resolvers.engagement import CreateAppreciationResult, ModerateAppreciationResult
from resolvers.home_config import (
    SetConsultZoneResult,
    SetFeaturedDepartmentsResult,
    SetHomepageEntriesResult,
    SetLayoutResult,
    SetThemeResult,
)
from resolvers.identity import ProfileResult, RemoveProfileResult
from resolvers.rankings import RefreshRankingsResult
from schema.cache_control import (
    APPRECIATIONS,
    ARTICLE_MAX_AGE,
    ARTICLES,
    CONSENTS,
    CONSULT_CONSENTS,
    DEPARTMENTS,
    HOMEPAGE,
    PRIVATE,
    RANKINGS,
    STAFF,
    VISIT_GUIDE,
    CacheControl,
    CacheControlExtension,
    cache_hint,
)
from schema.common import Connection
from schema.companion import VisitGuideStep, VisitJourney
from schema.consults import ConsultConsentDocument, ConsultOrder, RapidConsultStatus, StaffGroup
from schema.content import Article, ManagedArticle
from schema.dashboard import OperationsDashboard
from schema.departments import Department
from schema.engagement import Appreciation, ModeratedAppreciation
from schema.errors import MaskUnexpectedErrors, ReportStaleUpstreams
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
from schema.limits import QueryLimits, QueryLimitsExtension, validation_rules
from schema.observability import ObserveOperations
from schema.permissions import IsDoctor, IsPatient, IsSignedIn, staff_with
from schema.rankings import DepartmentRankingEntry, Ranking, StaffRankingEntry, TeamRankingEntry
from schema.rate_limits import RateLimitOperations
from schema.records import HealthRecord, IndicatorTrend
from schema.staff import StaffMember
from settings import Environment, Settings

logger = logging.getLogger("hospital_bff.graphql")


@strawberry.type(description="Everything the mini-program and the admin side can read.")
class Query:
    homepage: Homepage = strawberry.field(
        directives=[cache_hint(300, HOMEPAGE)],
        resolver=home_resolvers.homepage,
        description="Every module of the homepage in one request. `variant: ELDER` gives the 长辈版 layout.",
    )
    staff: Connection[StaffMember] = strawberry.field(
        directives=[cache_hint(300, STAFF)],
        resolver=staff_resolvers.staff,
        description="Staff who take internet consults (医 / 护 / 药), with their statistics, in id order. "
        "Filters combine; `first` is at most 50.",
    )
    staff_member: StaffMember | None = strawberry.field(
        directives=[cache_hint(300, STAFF)],
        resolver=staff_resolvers.staff_member,
        description="One staff member by id; null when there is none or when they have left (as in `staff`).",
    )
    department: Department | None = strawberry.field(
        directives=[cache_hint(600, DEPARTMENTS)],
        resolver=department_resolvers.department,
        description="One department by id; null when there is none.",
    )
    departments: Connection[Department] = strawberry.field(
        directives=[cache_hint(600, DEPARTMENTS)],
        resolver=department_resolvers.departments,
        description="All departments in id order; `first` is at most 50.",
    )
    ranking: Ranking | None = strawberry.field(
        directives=[cache_hint(300, RANKINGS)],
        resolver=ranking_resolvers.ranking,
        description="One ranking board for a chosen period (any past month of the gold boards, any past day of "
        "the TOP3 boards), or the newest; null when that period was never computed.",
    )
    me: PatientAccount = strawberry.field(
        directives=[PRIVATE],
        resolver=identity_resolvers.me,
        permission_classes=[IsPatient],
        description="The signed-in patient account with its profiles (patients only).",
    )
    profile: PatientProfile = strawberry.field(
        directives=[PRIVATE],
        resolver=identity_resolvers.profile,
        permission_classes=[IsPatient],
        description="One of the signed-in account's own profiles; any other id is FORBIDDEN.",
    )
    consent_document: ConsentDocument | None = strawberry.field(
        directives=[cache_hint(600, CONSENTS)],
        resolver=identity_resolvers.consent_document,
        description="The current version of a consent text, to show before `giveHealthDataConsent`.",
    )
    staff_me: StaffAccount = strawberry.field(
        directives=[PRIVATE],
        resolver=identity_resolvers.staff_me,
        permission_classes=[staff_with(*AdminRole)],
        description="The signed-in staff account (staff only).",
    )
    audit_log: Connection[AuditEntry] = strawberry.field(
        directives=[PRIVATE],
        resolver=identity_resolvers.audit_log,
        permission_classes=[staff_with(AdminRole.SUPER_ADMIN)],
        description="The audit log, oldest first (SUPER_ADMIN only).",
    )
    health_record: HealthRecord = strawberry.field(
        directives=[PRIVATE],
        resolver=record_resolvers.health_record,
        permission_classes=[IsPatient],
        description="The health record (健康档案) of one of the account's profiles, from the HIS: basic information, "
        "classified reports, lab indicators. Needs the profile's health-data consent (else CONSENT_REQUIRED) and a "
        "link to the HIS (else HIS_NOT_LINKED); any other profile id is FORBIDDEN. Every read is audited.",
    )
    indicator_trend: IndicatorTrend | None = strawberry.field(
        directives=[PRIVATE],
        resolver=record_resolvers.indicator_trend,
        permission_classes=[IsPatient],
        description="How one lab indicator of a profile moved over time: values of the same code and unit only, "
        "abnormal ones flagged, reference-range changes marked. Same access rules as `healthRecord`.",
    )
    visit_guide: list[VisitGuideStep] = strawberry.field(
        directives=[cache_hint(600, VISIT_GUIDE)],
        resolver=companion_resolvers.visit_guide,
        description="The visit companion's (电子伴诊) guide through a whole visit, step by step, in plain language.",
    )
    visit_journey: VisitJourney | None = strawberry.field(
        directives=[PRIVATE],
        resolver=companion_resolvers.visit_journey,
        permission_classes=[IsPatient],
        description="Today's visit of one of the account's profiles, step by step as the HIS reports it: the "
        "current step, what to do, where to go, the queue number. Same access rules as `healthRecord`.",
    )
    articles: Connection[Article] = strawberry.field(
        directives=[cache_hint(ARTICLE_MAX_AGE, ARTICLES)],
        resolver=content_resolvers.articles,
        description="Published articles of the health encyclopedia (健康百科), pinned first, then newest first. "
        "Filters combine; `first` is at most 50.",
    )
    article: Article | None = strawberry.field(
        directives=[cache_hint(ARTICLE_MAX_AGE, ARTICLES)],
        resolver=content_resolvers.article,
        description="One published article by id; null when there is none, or it is a draft, archived or "
        "scheduled for later. Call `recordArticleView` when it is shown.",
    )
    search_articles: Connection[Article] = strawberry.field(
        directives=[cache_hint(ARTICLE_MAX_AGE, ARTICLES)],
        resolver=content_resolvers.search_articles,
        description="Full-text search of published articles (title, summary and text); finds Chinese words "
        "inside sentences (高血压 in 冬季高血压患者…). Newest first.",
    )
    managed_articles: Connection[ManagedArticle] = strawberry.field(
        directives=[PRIVATE],
        resolver=content_resolvers.managed_articles,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Every article in any status, newest first (CONTENT_EDITOR).",
    )
    managed_article: ManagedArticle | None = strawberry.field(
        directives=[PRIVATE],
        resolver=content_resolvers.managed_article,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="One article in any status (CONTENT_EDITOR); null when there is none.",
    )
    operations_dashboard: OperationsDashboard = strawberry.field(
        directives=[PRIVATE],
        resolver=dashboard_resolvers.operations_dashboard,
        permission_classes=[staff_with(AdminRole.OPERATIONS)],
        description="Consults, order funnel, response times, refunds, most-read articles and appreciations over a "
        "period of days, as series to chart (OPERATIONS).",
    )
    appreciations: Connection[Appreciation] = strawberry.field(
        directives=[cache_hint(300, APPRECIATIONS)],
        resolver=engagement_resolvers.appreciations,
        description="Published e-banners (电子锦旗) and thank-you letters (感谢信) of one staff member or team, "
        "oldest first; signatures are anonymised unless the patient chose otherwise.",
    )
    my_appreciations: Connection[ModeratedAppreciation] = strawberry.field(
        directives=[PRIVATE],
        resolver=engagement_resolvers.my_appreciations,
        permission_classes=[IsPatient],
        description="The signed-in patient's own banners and letters with their moderation state, oldest first.",
    )
    moderation_queue: Connection[ModeratedAppreciation] = strawberry.field(
        directives=[PRIVATE],
        resolver=engagement_resolvers.moderation_queue,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Banners and letters to moderate, oldest first; PENDING by default (CONTENT_EDITOR).",
    )
    # ---- consult orders ----
    consult_consent: ConsultConsentDocument | None = strawberry.field(
        directives=[cache_hint(600, CONSULT_CONSENTS)],
        resolver=consult_resolvers.consult_consent,
        description="The current informed consent of a service (视频问诊), to show and accept before ordering.",
    )
    rapid_consult_status: RapidConsultStatus = strawberry.field(
        directives=[CacheControl(max_age=0)],
        resolver=consult_resolvers.rapid_consult_status,
        description="极速咨询 now: queue length, doctors on duty, expected wait and price.",
    )
    follow_up_staff: list[StaffGroup] = strawberry.field(
        directives=[cache_hint(300, STAFF)],
        resolver=consult_resolvers.follow_up_staff,
        description="复诊续方: the staff offering it, grouped 医 / 护 / 药, with their statistics.",
    )
    consult_orders: Connection[ConsultOrder] = strawberry.field(
        directives=[PRIVATE],
        resolver=consult_resolvers.consult_orders,
        permission_classes=[IsPatient],
        description="The signed-in account's consult orders, newest first (patients only).",
    )
    consult_order: ConsultOrder = strawberry.field(
        directives=[PRIVATE],
        resolver=consult_resolvers.consult_order,
        permission_classes=[IsPatient],
        description="One of the account's own orders, with its timeline; any other id is FORBIDDEN.",
    )
    doctor_consult_orders: Connection[ConsultOrder] = strawberry.field(
        directives=[PRIVATE],
        resolver=consult_resolvers.doctor_consult_orders,
        permission_classes=[IsDoctor],
        description="Orders assigned to the signed-in doctor (as the doctor or one of the experts), newest first.",
    )
    rapid_consult_queue: Connection[ConsultOrder] = strawberry.field(
        directives=[PRIVATE],
        resolver=consult_resolvers.rapid_consult_queue,
        permission_classes=[IsDoctor],
        description="极速咨询 orders waiting for a doctor, oldest first (doctors of the GP team only).",
    )
    coordination_consult_orders: Connection[ConsultOrder] = strawberry.field(
        directives=[PRIVATE],
        resolver=consult_resolvers.coordination_consult_orders,
        permission_classes=[staff_with(AdminRole.COORDINATOR)],
        description="Paid team and MDT orders, oldest first: the coordinators' work queue.",
    )
    staff_consult_order: ConsultOrder = strawberry.field(
        directives=[PRIVATE],
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
        description="Change one of the account's profiles. A different ID number withdraws earlier consents; "
        "with it, or with a different HIS patient id, what is cached of the previous patient's health data is "
        "erased.",
    )
    remove_profile: RemoveProfileResult = strawberry.field(
        resolver=identity_resolvers.remove_profile,
        permission_classes=[IsPatient],
        description="Remove one of the account's profiles, with its consents; what is cached of its health data "
        "is erased.",
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
    refresh_rankings: RefreshRankingsResult = strawberry.field(
        resolver=ranking_resolvers.refresh_rankings,
        permission_classes=[staff_with(AdminRole.OPERATIONS)],
        description="Compute ranking boards now instead of waiting for the periodic refresh (OPERATIONS, "
        "SUPER_ADMIN). Audited; one refresh runs at a time across all instances.",
    )
    withdraw_health_data_consent: ProfileResult = strawberry.field(
        resolver=identity_resolvers.withdraw_health_data_consent,
        permission_classes=[IsPatient],
        description="Withdraw a profile's health-data consent; its health data is no longer processed, and what is "
        "cached of it is erased.",
    )
    update_visit_guide_step: UpdateVisitGuideStepResult = strawberry.field(
        resolver=companion_resolvers.update_visit_guide_step,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Change the visit guide's text for one step (CONTENT_EDITOR). Audited.",
    )
    record_article_view: RecordArticleViewResult = strawberry.field(
        resolver=content_resolvers.record_article_view,
        description="Count one view (阅读) of a published article; call it when the article is shown. Anyone may; "
        "not audited (it changes no one's data).",
    )
    create_article: CreateArticleResult = strawberry.field(
        resolver=content_resolvers.create_article,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Write a new article; it starts as a DRAFT (CONTENT_EDITOR).",
    )
    update_article: UpdateArticleResult = strawberry.field(
        resolver=content_resolvers.update_article,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Change an article's text, cover, tags, category or department, in any status (CONTENT_EDITOR).",
    )
    publish_article: PublishArticleResult = strawberry.field(
        resolver=content_resolvers.publish_article,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Publish a draft or archived article now, or schedule it (定时发布); a scheduled one may be "
        "rescheduled (CONTENT_EDITOR).",
    )
    archive_article: ArchiveArticleResult = strawberry.field(
        resolver=content_resolvers.archive_article,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Take an article off every list; it can be published again later (CONTENT_EDITOR).",
    )
    pin_article: PinArticleResult = strawberry.field(
        resolver=content_resolvers.pin_article,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Pin an article (置顶) before the others of its lists, or unpin it (CONTENT_EDITOR).",
    )
    create_appreciation: CreateAppreciationResult = strawberry.field(
        resolver=engagement_resolvers.create_appreciation,
        permission_classes=[IsPatient],
        description="Send an e-banner (电子锦旗) or thank-you letter (感谢信) for the staff member or team of a "
        "completed consult of the signed-in account; one of each per consult; free of charge. Checked against "
        "the word filter, then shown once a content editor approves it. Another account's consult is FORBIDDEN.",
    )
    approve_appreciation: ModerateAppreciationResult = strawberry.field(
        resolver=engagement_resolvers.approve_appreciation,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Approve a pending banner or letter: it is shown from now on (CONTENT_EDITOR).",
    )
    reject_appreciation: ModerateAppreciationResult = strawberry.field(
        resolver=engagement_resolvers.reject_appreciation,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Reject a pending banner or letter, or take down a published one, with a reason (CONTENT_EDITOR).",
    )
    set_featured_departments: SetFeaturedDepartmentsResult = strawberry.field(
        resolver=home_config.set_featured_departments,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Replace the featured departments (融和优势学科) of one homepage variant (CONTENT_EDITOR).",
    )
    set_homepage_entries: SetHomepageEntriesResult = strawberry.field(
        resolver=home_config.set_homepage_entries,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Replace the entries (积分商城, 业务拓展, 我的权益) of one homepage variant (CONTENT_EDITOR).",
    )
    set_theme: SetThemeResult = strawberry.field(
        resolver=home_config.set_theme,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Change colour tokens of one homepage variant; text must keep a contrast of at least 4.5:1 "
        "with its background (CONTENT_EDITOR).",
    )
    set_layout: SetLayoutResult = strawberry.field(
        resolver=home_config.set_layout,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Set module order, compact mode and type scale of one homepage variant (CONTENT_EDITOR).",
    )
    set_consult_zone: SetConsultZoneResult = strawberry.field(
        resolver=home_config.set_consult_zone,
        permission_classes=[staff_with(AdminRole.CONTENT_EDITOR)],
        description="Set which consult services the homepage offers, in which order, with which texts "
        "(CONTENT_EDITOR).",
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

    @staticmethod
    def remove_field_suggestion(error: GraphQLError) -> None:
        # strawberry's `disable_field_suggestions` strips them from unknown fields only; unknown
        # arguments, enum values and types name the schema's neighbours the same way.
        if "Did you mean" in error.message:
            error.message = error.message.split(" Did you mean")[0].strip()


def _build(mutation: type, limits: QueryLimits, *, dev: bool) -> HospitalSchema:
    # Built once per schema: rules made anew for every request would make every request's
    # validation look different to ValidationCache.
    rules = validation_rules(limits)
    return HospitalSchema(
        query=Query,
        mutation=mutation,
        # Reached through the RankingEntry interface only.
        types=[DepartmentRankingEntry, StaffRankingEntry, TeamRankingEntry],
        # Production answers do not describe the schema: no introspection, no "Did you mean …".
        config=StrawberryConfig(disable_field_suggestions=not dev),
        extensions=[
            ObserveOperations,  # first: it sees the final result, and times everything after it
            MaskUnexpectedErrors,
            ReportStaleUpstreams,
            # Bounds the parser's work before anything else looks at the document; list sizes before execution.
            lambda: QueryLimitsExtension(limits),
            lambda: AddValidationRules(rules),
            *([] if dev else [DisableIntrospection]),
            CacheControlExtension,
            # The mini-program sends the same few documents over and over: parse and validate each once.
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            RateLimitOperations,  # before execution, after the document is known to be valid
        ],
    )


@lru_cache(maxsize=8)
def _schema(limits: QueryLimits, *, dev: bool) -> HospitalSchema:
    return _build(DevMutation if dev else Mutation, limits, dev=dev)


def schema_for(settings: Settings) -> HospitalSchema:
    """The schema that serves with these settings: its query limits, and the development build
    (devLogin, introspection, suggestions) only in dev. One schema per configuration."""
    return _schema(QueryLimits.from_settings(settings), dev=settings.is_dev)


schema = schema_for(Settings.model_construct(env=Environment.PROD))  # production: no development sign-in
dev_schema = schema_for(Settings.model_construct())  # ENV=dev; also the source of schema.graphql
