"""Consult orders of the five services, their payment (WeChat Pay), timeline, opinions and video links."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from datasources.consults.service import SERVICE_TITLES, Refusal
from datasources.db.tables import ConsultConsentDocument as ConsentRow
from datasources.db.tables import ConsultOrder as OrderRow
from datasources.db.tables import ConsultOrderTransition as TransitionRow
from datasources.db.tables import Team as TeamRow
from datasources.payments.port import PaymentRequest
from domain.consults import (
    Moved,
    PaymentState,
    RefundState,
    ServiceState,
    StateField,
    status_text,
    timeline,
)
from domain.enums import AdminRole, ConsultService, StaffRole
from domain.identity import age_on, mask_name
from schema.cache_control import PRIVATE
from schema.common import Money
from schema.context import Info
from schema.departments import Department
from schema.errors import ErrorCode
from schema.identity import Gender  # the GraphQL enum, registered there
from schema.permissions import staff_with
from schema.staff import StaffMember

strawberry.enum(
    PaymentState,
    description="Payment of an order: UNPAID 待支付 → PAID 已支付 → REFUNDING 退款中 → REFUNDED 已全额退款 / "
    "PARTIALLY_REFUNDED 已部分退款; CLOSED: not paid in time (or cancelled unpaid), closed at WeChat Pay.",
)
strawberry.enum(
    ServiceState,
    description="Where the consult itself stands. All: AWAITING_PAYMENT 待支付, COMPLETED 已完成, CANCELLED 已取消, "
    "EXPIRED 超时未接诊(已退款). 复诊续方/视频问诊: WAITING 待医生接诊, IN_CONSULTATION 问诊中, "
    "DECLINED 医生未接诊(已退款). "
    "极速咨询: QUEUED 排队中, IN_CONSULTATION. 团队咨询/MDT: SUBMITTED 待受理, ACCEPTED 已受理, CONTACTED 已联系, "
    "EXPERTS_ASSIGNED 专家已确定, SCHEDULED 会诊已安排, HELD 会诊已完成(待出意见书), REJECTED 未受理(已退款).",
)
strawberry.enum(
    RefundState,
    description="Refund of an order: NONE; REQUESTED (decided, being sent to WeChat Pay); PROCESSING (accepted by "
    "WeChat Pay); SUCCEEDED (money back on the original payment method); FAILED (WeChat Pay could not refund; "
    "staff handle it and may request it again).",
)
strawberry.enum(StateField, description="The three state fields of an order: PAYMENT, SERVICE, REFUND.")
strawberry.enum(
    Refusal,
    name="OrderRefusal",
    description="Why an order or an action was refused: HEALTH_DATA_CONSENT_REQUIRED (the profile has not accepted "
    "processing of its health data), NO_HIS_PATIENT_ID (复诊续方 needs the profile bound to its hospital patient id), "
    "NO_RECENT_VISIT (复诊续方 needs an offline visit in the department within the window), NOT_OFFERED (the staff "
    "member or team does not offer the service), CONSENT_NOT_CURRENT (accept the current informed consent), "
    "IDEMPOTENCY_KEY_REUSED (the key was used for a different order), HIS_UNAVAILABLE / PAYMENT_UNAVAILABLE (try "
    "again later), NOT_ON_DUTY (go on duty first), NOT_YET (too early for this step), ALREADY_DONE, OPINION_MISSING "
    "(write the opinion before publishing), CONCURRENT_CHANGE (changed by someone else meanwhile; reload).",
)

_REFUSAL_CODES = {
    Refusal.NO_RECENT_VISIT: ErrorCode.NOT_ELIGIBLE,
    Refusal.NO_HIS_PATIENT_ID: ErrorCode.NOT_ELIGIBLE,
    Refusal.HIS_UNAVAILABLE: ErrorCode.UNAVAILABLE,
    Refusal.PAYMENT_UNAVAILABLE: ErrorCode.UNAVAILABLE,
    Refusal.IDEMPOTENCY_KEY_REUSED: ErrorCode.CONFLICT,
    Refusal.ALREADY_DONE: ErrorCode.CONFLICT,
    Refusal.CONCURRENT_CHANGE: ErrorCode.CONFLICT,
}


def refusal_code(reason: Refusal) -> ErrorCode:
    return _REFUSAL_CODES.get(reason, ErrorCode.BAD_USER_INPUT)


@strawberry.type(
    description="Exactly the parameters `wx.requestPayment` takes, signed (paySign) with the merchant key: pass "
    "timeStamp, nonceStr, package, signType and paySign unchanged. Valid until the order's `payBefore`."
)
class WxPaymentParams:
    app_id: str = strawberry.field(description="The mini-program's AppID the payment was signed for.")
    time_stamp: str = strawberry.field(description="Seconds since 1970, as a string (timeStamp).")
    nonce_str: str = strawberry.field(description="Random string (nonceStr).")
    package: str = strawberry.field(description='"prepay_id=..." (package).')
    sign_type: str = strawberry.field(description='Always "RSA" (signType).')
    pay_sign: str = strawberry.field(description="SHA256withRSA signature over appId, timeStamp, nonceStr, package.")

    @classmethod
    def of(cls, request: PaymentRequest) -> WxPaymentParams:
        return cls(
            app_id=request.app_id,
            time_stamp=request.time_stamp,
            nonce_str=request.nonce_str,
            package=request.package,
            sign_type=request.sign_type,
            pay_sign=request.pay_sign,
        )


@strawberry.type(description="The patient of an order, as it was when the order was placed.")
class ConsultPatient:
    name: str = strawberry.field(description="Full name (shown to the patient and to the staff caring for them).")
    masked_name: str = strawberry.field(description="The name masked for display in shared places (王**).")
    gender: Gender = strawberry.field(description="As given by the resident ID number.")
    age: int = strawberry.field(description="Age in completed years today.")


@strawberry.type(description="What the patient told us when ordering.")
class Appointment:
    complaint: str | None = strawberry.field(description="主诉: the problem in the patient's words.")
    history: str | None = strawberry.field(description="病史: relevant history, medication, allergies.")
    report_ids: list[str] = strawberry.field(description="Ids of the HIS reports the patient attached.")
    preferred_times: list[datetime] = strawberry.field(description="团队/MDT: when the patient would like it.")


@strawberry.type(description="The informed consent accepted with this order (视频问诊).")
class AcceptedConsent:
    version: str = strawberry.field(description="The version of the text accepted.")
    accepted_at: datetime = strawberry.field(description="When it was accepted.")


@strawberry.type(description="One step of the order, in plain language, as the patient sees it.")
class TimelineEntry:
    at: datetime = strawberry.field(description="When it happened.")
    title: str = strawberry.field(description="What happened, e.g. 医生已接诊，问诊进行中.")
    detail: str | None = strawberry.field(description="Why, when there is something to say (e.g. a refusal reason).")


@strawberry.type(description="One row of the order's transition log: who moved which state from what to what, and why.")
class OrderTransition:
    field: StateField = strawberry.field(description="Which state field moved.")
    from_state: str | None = strawberry.field(description="The state before; null when the order was created.")
    to_state: str = strawberry.field(description="The state after.")
    action: str = strawberry.field(description="The action, e.g. ACCEPT, CONFIRM_PAYMENT, MISS_DEADLINE.")
    actor_kind: str = strawberry.field(description="PATIENT, STAFF or SYSTEM (WeChat Pay, the jobs).")
    actor_id: str | None = strawberry.field(description="Account id of the actor, or wechatpay / consult-jobs.")
    reason: str | None = strawberry.field(description="Why, as given.")
    reference: str | None = strawberry.field(description="Outside reference, e.g. WeChat Pay's notification id.")
    at: datetime = strawberry.field(description="When.")

    @classmethod
    def from_row(cls, row: TransitionRow) -> OrderTransition:
        return cls(
            field=row.field,
            from_state=row.from_state,
            to_state=row.to_state,
            action=row.action,
            actor_kind=row.actor_kind,
            actor_id=row.actor_id,
            reason=row.reason,
            reference=row.reference,
            at=row.occurred_at,
        )


@strawberry.type(
    description="An entry link to the third-party video service; short-lived, with no personal data in it."
)
class VideoEntry:
    url: str = strawberry.field(description="Open in a web-view; it carries a signed token valid until `expiresAt`.")
    expires_at: datetime = strawberry.field(description="Ask for the order again for a fresh link after this.")


@strawberry.type(description="The money given back for an order.")
class RefundInfo:
    amount: Money = strawberry.field(description="How much is (being) refunded.")
    state: RefundState = strawberry.field(description="Where the refund stands.")
    reason: str | None = strawberry.field(description="Why, as shown to the patient.")
    refunded_at: datetime | None = strawberry.field(description="When WeChat Pay completed it.")


@strawberry.type(description="The experts' combined written opinion (团队/MDT 意见书).")
class ConsultOpinion:
    body: str = strawberry.field(description="The opinion, in plain language.")
    published_at: datetime | None = strawberry.field(description="When it was published; null while a draft (staff).")
    updated_at: datetime = strawberry.field(description="Last change.")
    author_id: strawberry.Private[int]
    order_id: strawberry.Private[int]

    @strawberry.field(description="The doctor who wrote it down.")
    async def written_by(self, info: Info) -> StaffMember | None:
        row = await info.context.loaders.staff_by_id.load(self.author_id)
        return None if row is None else StaffMember.from_row(row, info)

    @strawberry.field(description="Its authors: every expert of the consultation, in the order assigned.")
    async def authors(self, info: Info) -> list[StaffMember]:
        ids = await info.context.loaders.experts_by_order_id.load(self.order_id)
        rows = await info.context.loaders.staff_by_id.load_many(ids)
        return [StaffMember.from_row(row, info) for row in rows if row is not None]


@strawberry.type(description="A doctor team (团队) offering team consults.")
class ConsultTeam:
    id: strawberry.ID = strawberry.field(description="Stable id of the team.")
    name: str = strawberry.field(description="Name, e.g. 心血管内科高血压团队.")
    description: str = strawberry.field(description="What the team does.")
    department_id: strawberry.Private[int]

    @strawberry.field(description="The team's department.")
    async def department(self, info: Info) -> Department:
        row = await info.context.loaders.department_by_id.load(self.department_id)
        assert row is not None, "teams.department_id is a foreign key"
        return Department.from_row(row)

    @classmethod
    def from_row(cls, row: TeamRow) -> ConsultTeam:
        return cls(
            id=strawberry.ID(str(row.id)), name=row.name, description=row.description, department_id=row.department_id
        )


@strawberry.type(
    description="An order of one of the five consult services. Patients read their own; staff read the orders "
    "they work on (a doctor: those assigned to them; a coordinator: team and MDT orders).",
    directives=[PRIVATE],
)
class ConsultOrder:
    id: strawberry.ID = strawberry.field(description="Stable id of the order.")
    order_no: str = strawberry.field(description="Order number, as on the WeChat Pay bill (商户订单号).")
    service: ConsultService = strawberry.field(description="Which of the five services.")
    service_title: str = strawberry.field(description="The service's name, e.g. 复诊续方.")
    payment_state: PaymentState = strawberry.field(description="Payment, see PaymentState.")
    service_state: ServiceState = strawberry.field(description="The consult itself, see ServiceState.")
    refund_state: RefundState = strawberry.field(description="Refund, see RefundState.")
    price: Money = strawberry.field(description="What the order costs.")
    created_at: datetime = strawberry.field(description="When it was placed.")
    pay_before: datetime = strawberry.field(description="Unpaid orders are closed at this moment (30 minutes).")
    paid_at: datetime | None = strawberry.field(description="When WeChat Pay took the payment.")
    response_deadline: datetime | None = strawberry.field(
        description="A paid order nobody took on by then is refunded in full automatically."
    )
    accepted_at: datetime | None = strawberry.field(description="When a doctor (or coordinator) took it on.")
    completed_at: datetime | None = strawberry.field(description="When it was completed.")
    meeting_at: datetime | None = strawberry.field(description="团队/MDT: when the consultation is scheduled.")
    patient: ConsultPatient = strawberry.field(description="The patient (就诊人).")
    appointment: Appointment = strawberry.field(description="What the patient told us.")
    consent: AcceptedConsent | None = strawberry.field(description="视频问诊: the informed consent accepted.")
    row: strawberry.Private[OrderRow]

    @strawberry.field(description="The state in one plain sentence, e.g. 已支付，等待医生接诊.")
    def status_text(self) -> str:
        return status_text(self.row.payment_state, self.row.service_state, self.row.refund_state)

    @strawberry.field(description="The profile the order is for; null once the profile was removed.")
    def profile_id(self) -> strawberry.ID | None:
        return None if self.row.profile_id is None else strawberry.ID(str(self.row.profile_id))

    @strawberry.field(description="复诊续方/视频问诊: the chosen staff member; 极速咨询: the doctor who took it on.")
    async def staff(self, info: Info) -> StaffMember | None:
        if self.row.staff_id is None:
            return None
        row = await info.context.loaders.staff_by_id.load(self.row.staff_id)
        return None if row is None else StaffMember.from_row(row, info)

    @strawberry.field(description="团队咨询: the chosen team.")
    async def team(self, info: Info) -> ConsultTeam | None:
        if self.row.team_id is None:
            return None
        row = await info.context.loaders.team_by_id.load(self.row.team_id)
        return None if row is None else ConsultTeam.from_row(row)

    @strawberry.field(description="The department the consult belongs to (MDT: the first chosen).")
    async def department(self, info: Info) -> Department:
        row = await info.context.loaders.department_by_id.load(self.row.department_id)
        assert row is not None, "consult_orders.department_id is a foreign key"
        return Department.from_row(row)

    @strawberry.field(description="MDT: the departments the patient asked for.")
    async def departments(self, info: Info) -> list[Department]:
        rows = await info.context.loaders.department_by_id.load_many(list(self.row.mdt_department_ids))
        return [Department.from_row(row) for row in rows if row is not None]

    @strawberry.field(description="团队/MDT: the experts assigned by the coordinator.")
    async def experts(self, info: Info) -> list[StaffMember]:
        ids = await info.context.loaders.experts_by_order_id.load(int(self.id))
        rows = await info.context.loaders.staff_by_id.load_many(ids)
        return [StaffMember.from_row(row, info) for row in rows if row is not None]

    @strawberry.field(
        description="团队/MDT: the experts' combined opinion with its authors. Patients see it once published; "
        "staff also see the draft."
    )
    async def opinion(self, info: Info) -> ConsultOpinion | None:
        row = await info.context.loaders.opinion_by_order_id.load(int(self.id))
        if row is None or (row.published_at is None and not info.context.viewer.is_staff):
            return None
        return ConsultOpinion(
            body=info.context.consults.opinion_text(row),
            published_at=row.published_at,
            updated_at=row.updated_at,
            author_id=row.author_staff_id,
            order_id=row.order_id,
        )

    @strawberry.field(description="Every step so far, oldest first, in plain language.")
    async def timeline(self, info: Info) -> list[TimelineEntry]:
        rows = await info.context.loaders.transitions_by_order_id.load(int(self.id))
        moves = [
            Moved(
                field=row.field,
                to_state=row.to_state,
                action=row.action,
                actor=f"{row.actor_kind}:{row.actor_id}",
                reason=row.reason,
                at=row.occurred_at,
                request=row.request_id,
            )
            for row in rows
        ]
        return [TimelineEntry(at=s.at, title=s.title, detail=s.detail) for s in timeline(moves, self.row.service)]

    @strawberry.field(
        description="The full transition log (staff only): who moved which state, when, from what, to what, why.",
        permission_classes=[staff_with(AdminRole.DOCTOR, AdminRole.COORDINATOR)],
    )
    async def transitions(self, info: Info) -> list[OrderTransition]:
        rows = await info.context.loaders.transitions_by_order_id.load(int(self.id))
        return [OrderTransition.from_row(row) for row in rows]

    @strawberry.field(description="The refund, once one was decided.")
    def refund(self) -> RefundInfo | None:
        if self.row.refund_cents is None:
            return None
        return RefundInfo(
            amount=Money(cents=self.row.refund_cents),
            state=self.row.refund_state,
            reason=self.row.refund_reason,
            refunded_at=self.row.refunded_at,
        )

    @strawberry.field(
        description="视频问诊 (paid, until completed) and MDT (scheduled): a fresh short-lived entry link to the "
        "video service, for the patient or for the doctor asking; null at other times."
    )
    def video_entry(self, info: Info) -> VideoEntry | None:
        role = "doctor" if info.context.viewer.is_staff else "patient"
        entry = info.context.consults.video_entry(self.row, role=role, now=info.context.now)
        return None if entry is None else VideoEntry(url=entry.url, expires_at=entry.expires_at)

    @strawberry.field(description="The patient's rating (1–5 stars), once given.")
    async def rating(self, info: Info) -> int | None:
        row = await info.context.loaders.consult_by_id.load(self.row.consult_id)
        return None if row is None else row.rating

    @strawberry.field(description="The patient's review text, once given.")
    async def review(self, info: Info) -> str | None:
        row = await info.context.loaders.consult_by_id.load(self.row.consult_id)
        return None if row is None else row.review

    @classmethod
    def from_row(cls, row: OrderRow, info: Info) -> ConsultOrder:
        consults = info.context.consults
        return cls(
            id=strawberry.ID(str(row.id)),
            order_no=row.order_no,
            service=row.service,
            service_title=SERVICE_TITLES[row.service],
            payment_state=row.payment_state,
            service_state=row.service_state,
            refund_state=row.refund_state,
            price=Money(cents=row.price_cents),
            created_at=row.created_at,
            pay_before=row.pay_deadline,
            paid_at=row.paid_at,
            response_deadline=row.response_deadline,
            accepted_at=row.accepted_at,
            completed_at=row.completed_at,
            meeting_at=row.meeting_at,
            patient=ConsultPatient(
                name=row.patient_name,
                masked_name=mask_name(row.patient_name),
                gender=row.patient_gender,
                age=age_on(row.patient_birth_date, _today(info)),
            ),
            appointment=Appointment(
                complaint=consults.complaint(row),
                history=consults.history(row),
                report_ids=list(row.report_ids),
                preferred_times=[datetime.fromisoformat(t) for t in row.preferred_times],
            ),
            consent=None
            if row.consent_version is None or row.consent_accepted_at is None
            else AcceptedConsent(version=row.consent_version, accepted_at=row.consent_accepted_at),
            row=row,
        )


def _today(info: Info) -> date:
    return info.context.now.astimezone(info.context.settings.zone).date()


@strawberry.type(description="A versioned informed-consent text to read and accept before ordering (视频问诊).")
class ConsultConsentDocument:
    service: ConsultService = strawberry.field(description="The service it is for.")
    version: str = strawberry.field(description="Pass as `consentVersion` when ordering.")
    title: str = strawberry.field(description="Heading.")
    body: str = strawberry.field(description="The full text, in plain language.")
    effective_at: datetime = strawberry.field(description="From when this version applies.")

    @classmethod
    def from_row(cls, row: ConsentRow) -> ConsultConsentDocument:
        return cls(
            service=row.service, version=row.version, title=row.title, body=row.body, effective_at=row.effective_at
        )


@strawberry.type(
    description="极速咨询 right now: how many paid consults wait, how many GP doctors are on duty, and the "
    "expected wait for a new one."
)
class RapidConsultStatus:
    queue_length: int = strawberry.field(description="Paid rapid consults waiting for a doctor.")
    doctors_on_duty: int = strawberry.field(description="GP doctors of the online office (互联网专职办公室) on duty.")
    expected_wait_minutes: int | None = strawberry.field(
        description="Expected minutes until a doctor takes a new consult on: (queue length + 1) × mean handling "
        "time of the last 7 days ÷ doctors on duty, at least 1; 10 minutes per consult without history; null while "
        "no doctor is on duty."
    )
    response_deadline_minutes: int = strawberry.field(
        description="A paid rapid consult nobody took on in this time is refunded in full automatically."
    )
    price: Money = strawberry.field(description="Price of one rapid consult.")


@strawberry.type(description="Staff of one role (医 / 护 / 药) offering 复诊续方, with their statistics.")
class StaffGroup:
    role: StaffRole = strawberry.field(description="DOCTOR, NURSE or PHARMACIST.")
    label: str = strawberry.field(description="医, 护 or 药.")
    total_count: int = strawberry.field(description="How many staff of this role offer it (all pages).")
    staff: list[StaffMember] = strawberry.field(description="The first of them, in id order.")


# ---- mutation results ------------------------------------------------------------------------


@strawberry.type(description="The order as it is now.")
class ConsultOrderSuccess:
    order: ConsultOrder = strawberry.field(description="The changed order.")


@strawberry.type(description="The order was placed (or, for a repeated idempotency key, found): pay it next.")
class CreateConsultOrderSuccess:
    order: ConsultOrder = strawberry.field(description="The order.")
    payment: WxPaymentParams | None = strawberry.field(
        description="Pass to wx.requestPayment. Null when WeChat Pay could not be reached (ask again with "
        "requestConsultPayment) or the order is no longer unpaid."
    )
    replayed: bool = strawberry.field(
        description="True when this idempotency key had already placed the order: nothing new was created."
    )


@strawberry.type(description="Payment parameters for an unpaid order.")
class ConsultPaymentSuccess:
    order: ConsultOrder = strawberry.field(description="The order.")
    payment: WxPaymentParams = strawberry.field(description="Pass to wx.requestPayment.")


@strawberry.type(description="The order's state does not allow this now; nothing changed.")
class IllegalTransition:
    message: str = strawberry.field(description="What was refused, in plain language.")
    state_field: StateField = strawberry.field(description="The state field that does not allow it.")
    current_state: str = strawberry.field(description="That field's state now.")
    action: str = strawberry.field(description="The action refused, e.g. ACCEPT.")
    code: ErrorCode = strawberry.field(default=ErrorCode.ILLEGAL_TRANSITION, description="ILLEGAL_TRANSITION.")


@strawberry.type(description="The order or action was refused; nothing changed.")
class OrderRefused:
    message: str = strawberry.field(description="Why, in plain Chinese and English.")
    refusal: Refusal = strawberry.field(description="Why, machine-readable.")
    code: ErrorCode = strawberry.field(
        description="NOT_ELIGIBLE, UNAVAILABLE (try again later), CONFLICT, or BAD_USER_INPUT."
    )


@strawberry.type(description="The new version of the informed consent applies from now on.")
class ConsultConsentSuccess:
    document: ConsultConsentDocument = strawberry.field(description="The version published.")
