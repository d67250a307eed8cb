"""Consult orders end to end: ordering (with 复诊续方 eligibility and the 视频问诊 informed consent),
payment through the payments port, the work of doctors and coordinators, refunds, notifications and
the periodic jobs. Used alike by the GraphQL resolvers, the notification endpoints, the in-process
job loop and the CLI.

Each change of state is one database transaction, holding its audit row and transition-log rows.
Calls to WeChat Pay are never made inside a transaction: an order is first moved to the state that
asks for them (e.g. refund REQUESTED, with a stable refund number), committed, and then WeChat Pay
is called; whatever it answers is recorded by a transition of its own. A call that fails is
repeated by the jobs, and WeChat Pay treats a repeated refund number as the same refund.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.consults import store
from datasources.consults.store import JOBS, WECHATPAY, Actor, ConcurrentChange, Step
from datasources.consults.video import VideoEntry, VideoLinks
from datasources.consults.visits import VisitHistory
from datasources.db.engine import Sessions
from datasources.db.tables import (
    Consult,
    ConsultOpinion,
    ConsultOrder,
    ConsultOrderExpert,
    Department,
    PatientAccount,
    PatientProfile,
    Staff,
    Team,
    TeamMember,
)
from datasources.his.resilience import HisUnavailable
from datasources.identity import profiles
from datasources.identity.field_crypto import FieldCipher
from datasources.payments.port import (
    NotificationKind,
    NotificationRejected,
    PaymentRefused,
    PaymentRequest,
    PaymentsPort,
    PaymentUnavailable,
    Refund,
    Transaction,
)
from domain.audit import AuditResult
from domain.consults import (
    Action,
    Deadlines,
    IllegalTransition,
    PaymentState,
    RefundState,
    ServiceState,
    StateField,
    next_state,
    qualifying_visit,
)
from domain.enums import AdminRole, ConsultService, StaffRole

logger = logging.getLogger("hospital_bff.consults")

COMPLAINT_CONTEXT = "consult.complaint"
HISTORY_CONTEXT = "consult.history"
OPINION_CONTEXT = "consult.opinion"
SERVICE_TITLES = {
    ConsultService.FOLLOW_UP: "复诊续方",
    ConsultService.VIDEO: "视频问诊",
    ConsultService.RAPID: "极速咨询",
    ConsultService.TEAM: "团队咨询",
    ConsultService.MDT: "多学科诊疗(MDT)",
}
CONSENT_SERVICES = frozenset({ConsultService.VIDEO})
# Orders that go to the staff member the patient chose; with 极速咨询, those a doctor works on alone.
_CHOSEN = frozenset({ConsultService.FOLLOW_UP, ConsultService.VIDEO})
_DIRECT = _CHOSEN | {ConsultService.RAPID}
_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
_REPORT_ID = re.compile(r"[A-Za-z0-9.\-]{1,64}")
_BATCH = 100
_MAX_PER_RUN = 5000
_REFUND_QUERY_AFTER = timedelta(minutes=10)


# ---- requests, answers and refusals ----------------------------------------------------------


@dataclass(frozen=True)
class OrderRequest:
    idempotency_key: str
    service: ConsultService
    profile_id: int
    staff_id: int | None = None
    team_id: int | None = None
    department_ids: tuple[int, ...] = ()
    complaint: str | None = None
    history: str | None = None
    report_ids: tuple[str, ...] = ()
    preferred_times: tuple[datetime, ...] = ()
    consent_version: str | None = None

    def digest(self) -> str:
        """What the request asked for (the key aside): a replay must ask for the same."""
        values = asdict(self) | {"idempotency_key": None}
        values["preferred_times"] = [t.isoformat() for t in self.preferred_times]
        canonical = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


class InvalidRequest(ValueError):
    """Input in the wrong form; `field` is the input field (camelCase)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


class Refusal(StrEnum):
    HEALTH_DATA_CONSENT_REQUIRED = "HEALTH_DATA_CONSENT_REQUIRED"
    NO_HIS_PATIENT_ID = "NO_HIS_PATIENT_ID"
    NO_RECENT_VISIT = "NO_RECENT_VISIT"
    NOT_OFFERED = "NOT_OFFERED"
    CONSENT_NOT_CURRENT = "CONSENT_NOT_CURRENT"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    HIS_UNAVAILABLE = "HIS_UNAVAILABLE"
    PAYMENT_UNAVAILABLE = "PAYMENT_UNAVAILABLE"
    NOT_ON_DUTY = "NOT_ON_DUTY"
    NOT_YET = "NOT_YET"
    ALREADY_DONE = "ALREADY_DONE"
    OPINION_MISSING = "OPINION_MISSING"
    CONCURRENT_CHANGE = "CONCURRENT_CHANGE"


class OrderRefused(Exception):
    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class NotYours(LookupError):
    """The order does not exist, or the caller may not act on it: the same answer for both."""


@dataclass(frozen=True)
class Created:
    order: ConsultOrder
    payment: PaymentRequest | None
    replayed: bool


@dataclass(frozen=True)
class StaffScope:
    """A signed-in staff member as far as orders are concerned."""

    account_id: int
    staff_id: int | None
    roles: frozenset[AdminRole]

    @property
    def coordinates(self) -> bool:
        return bool(self.roles & {AdminRole.COORDINATOR, AdminRole.SUPER_ADMIN})

    @property
    def doctor(self) -> int | None:
        return self.staff_id if AdminRole.DOCTOR in self.roles else None


@dataclass
class JobReport:
    expired: int = 0
    missed_deadlines: int = 0
    payments_found: int = 0
    refunds_retried: int = 0
    deferred: int = 0


class NotificationOutcome(StrEnum):
    APPLIED = "APPLIED"
    DUPLICATE = "DUPLICATE"
    IGNORED = "IGNORED"


@dataclass(frozen=True)
class NotificationAnswer:
    status: int
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Coordination:
    action: Action
    reason: str | None = None
    experts: tuple[int, ...] = ()
    meeting_at: datetime | None = None


def _steps(*pairs: tuple[StateField, Action]) -> list[Step]:
    return [Step(f, a) for f, a in pairs]


def _refund_steps(order: ConsultOrder) -> list[Step]:
    """Paid: start refunding and request the refund. Anything else is for the payment state machine
    to refuse (an unpaid order has nothing to refund; a refunding one is already being refunded)."""
    return [Step(StateField.PAYMENT, Action.START_REFUND), Step(StateField.REFUND, Action.REQUEST_REFUND)]


def _refund_values(order: ConsultOrder, *, cents: int | None = None, reason: str) -> dict[str, object]:
    if order.refund_no is None:
        number = f"R{order.order_no}"
    else:  # a new attempt after a failed one is a new refund at WeChat Pay
        stem, _, attempt = order.refund_no.partition("-")
        number = f"{stem}-{int(attempt or 1) + 1}"
    return {
        "refund_no": number,
        "refund_cents": cents or order.refund_cents or order.price_cents,
        "refund_reason": reason[:80],
    }


def _text(value: str | None, field: str, *, limit: int, required: bool) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidRequest(field, f"请填写{'病情描述' if field == 'complaint' else field} ({field} is required)")
        return None
    if len(text) > limit:
        raise InvalidRequest(field, f"最多{limit}个字 (at most {limit} characters)")
    return text


class ConsultOrders:
    def __init__(
        self,
        *,
        sessions: Sessions,
        payments: PaymentsPort,
        visits: VisitHistory,
        cipher: FieldCipher,
        video: VideoLinks,
        unpaid_minutes: int,
        deadlines: Deadlines,
        follow_up_window_days: int,
        rapid_price_cents: int,
        mdt_price_cents: int,
    ) -> None:
        self._sessions = sessions
        self.payments = payments
        self._visits = visits
        self._cipher = cipher
        self.video = video
        self._unpaid = timedelta(minutes=unpaid_minutes)
        self._deadlines = deadlines
        self.follow_up_window_days = follow_up_window_days
        self.rapid_price_cents = rapid_price_cents
        self.mdt_price_cents = mdt_price_cents

    # ---- reading --------------------------------------------------------------------------

    def complaint(self, order: ConsultOrder) -> str | None:
        return (
            None
            if order.complaint_cipher is None
            else self._cipher.decrypt(order.complaint_cipher, context=COMPLAINT_CONTEXT)
        )

    def history(self, order: ConsultOrder) -> str | None:
        return (
            None
            if order.history_cipher is None
            else self._cipher.decrypt(order.history_cipher, context=HISTORY_CONTEXT)
        )

    def opinion_text(self, opinion: ConsultOpinion) -> str:
        return self._cipher.decrypt(opinion.body_cipher, context=OPINION_CONTEXT)

    async def for_patient(self, order_id: int, *, account_id: int) -> ConsultOrder:
        async with self._sessions() as db:
            return await self._own(db, order_id, account_id)

    async def for_staff(self, order_id: int, *, scope: StaffScope) -> ConsultOrder:
        async with self._sessions() as db:
            order = await self._get(db, order_id)
            if not await self.staff_may_read(db, order, scope):
                raise NotYours(order_id)
            return order

    async def staff_may_read(self, db: AsyncSession, order: ConsultOrder, scope: StaffScope) -> bool:
        if AdminRole.SUPER_ADMIN in scope.roles:
            return True
        if scope.coordinates and order.service in (ConsultService.TEAM, ConsultService.MDT):
            return True
        doctor = scope.doctor
        if doctor is None or order.service_state is ServiceState.AWAITING_PAYMENT:
            return False
        if order.staff_id == doctor:
            return True
        if order.service is ConsultService.RAPID and order.service_state is ServiceState.QUEUED:
            return await store.in_rapid_team(db, doctor)
        return await store.is_expert(db, order_id=order.id, staff_id=doctor)

    def video_entry(self, order: ConsultOrder, *, role: str, now: datetime) -> VideoEntry | None:
        """An entry link while the video consult or MDT meeting can take place, else None."""
        if order.video_room is None or order.payment_state is not PaymentState.PAID:
            return None
        open_states = {
            ConsultService.VIDEO: (ServiceState.WAITING, ServiceState.IN_CONSULTATION),
            ConsultService.MDT: (ServiceState.SCHEDULED,),
        }.get(order.service, ())
        if order.service_state not in open_states:
            return None
        return self.video.entry(room=order.video_room, role="doctor" if role == "doctor" else "patient", now=now)

    async def _get(self, db: AsyncSession, order_id: int) -> ConsultOrder:
        try:
            return await store.load(db, order_id)
        except store.OrderNotFound:
            raise NotYours(order_id) from None

    async def _own(self, db: AsyncSession, order_id: int, account_id: int) -> ConsultOrder:
        order = await self._get(db, order_id)
        if order.account_id != account_id:
            raise NotYours(order_id)
        return order

    async def _assigned(
        self, db: AsyncSession, order_id: int, scope: StaffScope, services: frozenset[ConsultService]
    ) -> ConsultOrder:
        """The order, when it is one of `services` and assigned to the signed-in doctor."""
        order = await self._get(db, order_id)
        if scope.doctor is None or order.staff_id != scope.doctor or order.service not in services:
            raise NotYours(order_id)
        return order

    async def _step(
        self,
        db: AsyncSession,
        order_id: int,
        action: Action,
        audit_action: str,
        actor: Actor,
        now: datetime,
        values: Mapping[str, object],
    ) -> ConsultOrder:
        """One move of the service state with its audit row, inside the caller's transaction."""
        order = await store.transition(
            db, order_id, [Step(StateField.SERVICE, action)], actor=actor, now=now, values=values
        )
        await store.audit(db, actor, action=audit_action, result=AuditResult.OK, order_id=order_id, at=now)
        return order

    # ---- ordering -------------------------------------------------------------------------

    async def create(self, request: OrderRequest, *, account_id: int, actor: Actor, now: datetime) -> Created:
        """Refuses (NotYours, InvalidRequest, OrderRefused) before writing anything."""
        if not _KEY.fullmatch(request.idempotency_key):
            raise InvalidRequest("idempotencyKey", "8到64个字母、数字、-或_ (8 to 64 letters, digits, - or _)")
        async with self._sessions() as db:
            try:
                profile = await profiles.get_profile(db, account_id=account_id, profile_id=request.profile_id)
            except profiles.ProfileNotFound:
                raise NotYours(request.profile_id) from None
            existing = await store.by_idempotency_key(db, account_id=account_id, key=request.idempotency_key)
        if existing is not None:
            return await self._replay(existing, request, now=now)
        row = await self._prepare(request, account_id=account_id, profile=profile, now=now)
        try:
            async with self._sessions() as db, db.begin():
                order = await store.insert_order(db, row, actor=actor, now=now)
                await store.audit(db, actor, action="consult.create", result=AuditResult.OK, order_id=order.id, at=now)
                order_id = order.id
        except IntegrityError:
            # The same key a moment ago (a double tap): that order is the answer.
            async with self._sessions() as db:
                existing = await store.by_idempotency_key(db, account_id=account_id, key=request.idempotency_key)
            if existing is None:
                raise
            return await self._replay(existing, request, now=now)
        async with self._sessions() as db:
            order = await store.load(db, order_id)
        payment = await self._payment(order, now=now)
        async with self._sessions() as db:
            return Created(await store.load(db, order_id), payment, replayed=False)

    async def _replay(self, existing: ConsultOrder, request: OrderRequest, *, now: datetime) -> Created:
        if existing.request_digest != request.digest():
            raise OrderRefused(
                Refusal.IDEMPOTENCY_KEY_REUSED,
                "该请求编号已用于另一笔订单，请重新下单 (this idempotency key was used for a different order)",
            )
        payment = await self._payment(existing, now=now) if existing.payment_state is PaymentState.UNPAID else None
        async with self._sessions() as db:
            return Created(await store.load(db, existing.id), payment, replayed=True)

    async def _payment(self, order: ConsultOrder, *, now: datetime) -> PaymentRequest | None:
        """wx.requestPayment parameters for an unpaid order, asking WeChat Pay for a prepay id first
        when there is none yet; None when WeChat Pay cannot be reached (ask again later)."""
        if order.payment_state is not PaymentState.UNPAID or order.service_state is not ServiceState.AWAITING_PAYMENT:
            return None
        prepay_id = order.prepay_id
        if prepay_id is None:
            async with self._sessions() as db:
                openid = await db.scalar(select(PatientAccount.openid).where(PatientAccount.id == order.account_id))
            try:
                prepay_id = await self.payments.prepay(
                    out_trade_no=order.order_no,
                    description=order.description,
                    total_cents=order.price_cents,
                    payer_openid=openid or "",
                    expires_at=order.pay_deadline,
                )
            except (PaymentUnavailable, PaymentRefused) as problem:
                logger.warning("prepay of order %d failed: %s", order.id, type(problem).__name__)
                return None
            async with self._sessions() as db, db.begin():
                await store.set_prepay(db, order.id, prepay_id, now)
        return self.payments.payment_request(prepay_id)

    async def _prepare(
        self, request: OrderRequest, *, account_id: int, profile: PatientProfile, now: datetime
    ) -> store.NewOrderRow:
        service = request.service
        complaint = _text(
            request.complaint,
            "complaint",
            limit=500,
            required=service is not ConsultService.FOLLOW_UP and service is not ConsultService.VIDEO,
        )
        history = _text(request.history, "history", limit=2000, required=False)
        if len(request.report_ids) > 10 or not all(_REPORT_ID.fullmatch(r) for r in request.report_ids):
            raise InvalidRequest(
                "reportIds", "最多10份报告，编号格式不正确 (at most 10 report ids, letters and digits)"
            )
        coordinated = service in (ConsultService.TEAM, ConsultService.MDT)
        if coordinated:
            if not 1 <= len(request.preferred_times) <= 5:
                raise InvalidRequest("preferredTimes", "请选择1到5个期望时间 (give 1 to 5 preferred times)")
            if any(not now < t <= now + timedelta(days=60) for t in request.preferred_times):
                raise InvalidRequest(
                    "preferredTimes", "期望时间须在今后60天内 (preferred times within the next 60 days)"
                )
        elif request.preferred_times:
            raise InvalidRequest("preferredTimes", "该服务无需期望时间 (not used by this service)")
        if (service is ConsultService.MDT) != bool(request.department_ids):
            raise InvalidRequest("departmentIds", "MDT须选择科室，其他服务不需要 (departments are for MDT only)")
        if (service in (ConsultService.FOLLOW_UP, ConsultService.VIDEO)) != (request.staff_id is not None):
            raise InvalidRequest(
                "staffId", "复诊续方和视频问诊须选择医护人员 (choose the staff member, for follow-up and video only)"
            )
        if (service is ConsultService.TEAM) != (request.team_id is not None):
            raise InvalidRequest("teamId", "团队咨询须选择团队 (choose the team, for team consults only)")

        async with self._sessions() as db:
            consents = (await profiles.consents_by_profile_ids(db, ids=[profile.id]))[profile.id]
            if not profiles.consent_granted(consents):
                raise OrderRefused(
                    Refusal.HEALTH_DATA_CONSENT_REQUIRED,
                    "请先为该就诊人同意《个人健康信息处理同意书》 (the profile's health-data consent is needed first)",
                )
            consent_version = None
            if service in CONSENT_SERVICES:
                document = await store.current_consent(db, service=service, now=now)
                if document is None or request.consent_version != document.version:
                    raise OrderRefused(
                        Refusal.CONSENT_NOT_CURRENT,
                        f"请阅读并同意最新版知情同意书 (accept the current informed consent"
                        f"{', version ' + document.version if document else ''})",
                    )
                consent_version = document.version
            staff_id, team_id, department_ids = request.staff_id, request.team_id, list(request.department_ids)
            department_names: list[str] = []
            if staff_id is not None:
                staff = await db.get(Staff, staff_id)
                price = await store.offering_price(db, service=service, staff_id=staff_id)
                if staff is None or not staff.active or price is None:
                    raise OrderRefused(
                        Refusal.NOT_OFFERED, "该医护人员暂不提供此项服务 (this staff member does not offer it)"
                    )
                department = await db.get_one(Department, staff.department_id)
                department_id, department_names = department.id, [department.name, department.code]
            elif team_id is not None:
                team = await db.get(Team, team_id)
                price = await store.offering_price(db, service=service, team_id=team_id)
                if team is None or not team.active or price is None:
                    raise OrderRefused(
                        Refusal.NOT_OFFERED, "该团队暂不提供团队咨询 (this team does not offer team consults)"
                    )
                department_id = team.department_id
            elif service is ConsultService.MDT:
                if not 2 <= len(set(department_ids)) == len(department_ids) <= 5:
                    raise InvalidRequest("departmentIds", "请选择2到5个不同科室 (choose 2 to 5 different departments)")
                found = set(await db.scalars(select(Department.id).where(Department.id.in_(department_ids))))
                if found != set(department_ids):
                    raise InvalidRequest("departmentIds", "科室不存在 (unknown department)")
                department_id, price = department_ids[0], self.mdt_price_cents
            else:  # rapid: the platform's GP team
                rapid_department = await store.rapid_department(db)
                if rapid_department is None:
                    raise OrderRefused(Refusal.NOT_OFFERED, "极速咨询暂未开放 (rapid consults are not offered)")
                department_id, price = rapid_department, self.rapid_price_cents

        if service is ConsultService.FOLLOW_UP:
            await self._check_follow_up(profile.his_patient_id, department_names, now=now)
        complaint_cipher = None if complaint is None else self._cipher.encrypt(complaint, context=COMPLAINT_CONTEXT)
        history_cipher = None if history is None else self._cipher.encrypt(history, context=HISTORY_CONTEXT)
        return store.NewOrderRow(
            order_no=f"HB{now:%Y%m%d}{secrets.token_hex(6).upper()}",
            account_id=account_id,
            profile_id=profile.id,
            idempotency_key=request.idempotency_key,
            request_digest=request.digest(),
            service=service,
            staff_id=staff_id,
            team_id=team_id,
            department_id=department_id,
            mdt_department_ids=department_ids,
            patient_name=profile.name,
            patient_gender=profile.gender,
            patient_birth_date=profile.birth_date,
            his_patient_id=profile.his_patient_id,
            price_cents=price,
            description=f"互联网医院-{SERVICE_TITLES[service]}",
            pay_deadline=now + self._unpaid,
            complaint_cipher=complaint_cipher,
            history_cipher=history_cipher,
            report_ids=list(request.report_ids),
            preferred_times=[t.isoformat() for t in request.preferred_times],
            consent_version=consent_version,
            consent_accepted_at=now if consent_version else None,
            video_room=VideoLinks.new_room() if service is ConsultService.VIDEO else None,
        )

    async def _check_follow_up(self, his_patient_id: str | None, departments: Sequence[str], *, now: datetime) -> None:
        if not his_patient_id:
            raise OrderRefused(
                Refusal.NO_HIS_PATIENT_ID,
                "复诊续方须先绑定院内就诊卡 (bind the profile to its hospital patient id first)",
            )
        try:
            visits = await self._visits.visits(his_patient_id)
        except HisUnavailable:
            raise OrderRefused(
                Refusal.HIS_UNAVAILABLE,
                "暂时无法核验您的就诊记录，请稍后再试 (the visit history cannot be checked right now; try again later)",
            ) from None
        since = now - timedelta(days=self.follow_up_window_days)
        if qualifying_visit(visits, departments=departments, since=since, now=now) is None:
            raise OrderRefused(
                Refusal.NO_RECENT_VISIT,
                f"复诊续方仅适用于{self.follow_up_window_days}天内在本院该科室线下就诊过的患者 (an offline visit in "
                f"this department within {self.follow_up_window_days} days is needed)",
            )

    # ---- the patient's actions ----------------------------------------------------------------

    async def payment_for(
        self, order_id: int, *, account_id: int, now: datetime
    ) -> tuple[ConsultOrder, PaymentRequest]:
        async with self._sessions() as db:
            order = await self._own(db, order_id, account_id)
        if order.payment_state is not PaymentState.UNPAID or order.service_state is not ServiceState.AWAITING_PAYMENT:
            raise IllegalTransition(
                StateField.PAYMENT, order.payment_state.value, Action.CONFIRM_PAYMENT, order.service
            )
        payment = await self._payment(order, now=now)
        if payment is None:
            raise OrderRefused(
                Refusal.PAYMENT_UNAVAILABLE, "支付服务暂时不可用，请稍后再试 (payments are unavailable; try again)"
            )
        async with self._sessions() as db:
            return await store.load(db, order_id), payment

    async def sync_payment(self, order_id: int, *, account_id: int | None, actor: Actor, now: datetime) -> ConsultOrder:
        """Ask WeChat Pay how the payment stands (when no notification came) and record a payment."""
        async with self._sessions() as db:
            order = await (self._own(db, order_id, account_id) if account_id is not None else self._get(db, order_id))
        if order.payment_state in (PaymentState.UNPAID, PaymentState.CLOSED):
            try:
                transaction = await self.payments.query(order.order_no)
            except (PaymentUnavailable, PaymentRefused):
                raise OrderRefused(
                    Refusal.PAYMENT_UNAVAILABLE, "暂时无法查询支付结果，请稍后再试 (cannot ask WeChat Pay now)"
                ) from None
            if transaction is not None and transaction.trade_state == "SUCCESS":
                await self._confirm(transaction, actor=actor, now=now, reference=transaction.transaction_id)
        async with self._sessions() as db:
            return await store.load(db, order_id)

    async def cancel(
        self, order_id: int, *, account_id: int, reason: str | None, actor: Actor, now: datetime
    ) -> ConsultOrder:
        async with self._sessions() as db:
            order = await self._own(db, order_id, account_id)
        why = (reason or "").strip()[:80] or "患者取消"
        # An unpaid order is closed at WeChat Pay first, so the payer cannot pay it any more.
        if order.payment_state is PaymentState.UNPAID and order.prepay_id is not None:
            try:
                await self.payments.close(order.order_no)
            except PaymentRefused as refused:
                if refused.code == "ORDERPAID":
                    order = await self.sync_payment(order_id, account_id=account_id, actor=actor, now=now)
                # other refusals (e.g. unknown to WeChat Pay): nothing to close there
            except PaymentUnavailable:
                raise OrderRefused(
                    Refusal.PAYMENT_UNAVAILABLE, "暂时无法取消，请稍后再试 (try again shortly)"
                ) from None
        async with self._sessions() as db, db.begin():
            order = await store.load(db, order_id)
            if order.payment_state is PaymentState.UNPAID:
                steps = _steps((StateField.SERVICE, Action.CANCEL), (StateField.PAYMENT, Action.CLOSE))
                order = await store.transition(db, order_id, steps, actor=actor, now=now, reason=why)
                refund = False
            else:
                steps = [Step(StateField.SERVICE, Action.CANCEL), *_refund_steps(order)]
                order = await store.transition(
                    db, order_id, steps, actor=actor, now=now, reason=why, values=_refund_values(order, reason=why)
                )
                refund = True
            await store.audit(db, actor, action="consult.cancel", result=AuditResult.OK, order_id=order_id, at=now)
        if refund:
            await self.refund_at_provider(order_id, now=now)
        return await self._reload(order_id)

    async def rate(
        self, order_id: int, *, account_id: int, rating: int, review: str | None, actor: Actor, now: datetime
    ) -> ConsultOrder:
        if not 1 <= rating <= 5:
            raise InvalidRequest("rating", "评分为1到5星 (1 to 5 stars)")
        text = _text(review, "review", limit=300, required=False)
        async with self._sessions() as db, db.begin():
            order = await self._own(db, order_id, account_id)
            if order.service_state is not ServiceState.COMPLETED:
                raise OrderRefused(Refusal.NOT_YET, "问诊完成后才能评价 (rate a consult once it is completed)")
            result = await db.execute(
                update(Consult)
                .where(Consult.id == order.consult_id, Consult.rating.is_(None))
                .values(rating=rating, review=text, reviewed_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise OrderRefused(Refusal.ALREADY_DONE, "已评价过 (already rated)")
            await store.audit(db, actor, action="consult.rate", result=AuditResult.OK, order_id=order_id, at=now)
        return await self._reload(order_id)

    # ---- doctors ------------------------------------------------------------------------------

    async def accept(self, order_id: int, *, scope: StaffScope, actor: Actor, now: datetime) -> ConsultOrder:
        """The chosen staff member takes a 复诊续方 or 视频问诊 order on."""
        async with self._sessions() as db, db.begin():
            await self._assigned(db, order_id, scope, _CHOSEN)
            return await self._step(db, order_id, Action.ACCEPT, "consult.accept", actor, now, {"accepted_at": now})

    async def accept_rapid(self, order_id: int, *, scope: StaffScope, actor: Actor, now: datetime) -> ConsultOrder:
        """The first on-duty doctor of the GP team to ask gets the order; anyone later is refused."""
        doctor = scope.doctor
        async with self._sessions() as db, db.begin():
            order = await self._get(db, order_id)
            if doctor is None or order.service is not ConsultService.RAPID or not await store.in_rapid_team(db, doctor):
                raise NotYours(order_id)
            if not await store.on_duty(db, doctor):
                raise OrderRefused(Refusal.NOT_ON_DUTY, "请先开始值班 (go on duty first)")
            values = {"accepted_at": now, "staff_id": doctor}
            return await self._step(db, order_id, Action.ACCEPT, "consult.accept_rapid", actor, now, values)

    async def decline(
        self, order_id: int, *, scope: StaffScope, reason: str, actor: Actor, now: datetime
    ) -> ConsultOrder:
        why = _text(reason, "reason", limit=80, required=True) or ""
        async with self._sessions() as db, db.begin():
            order = await self._assigned(db, order_id, scope, _CHOSEN)
            steps = [Step(StateField.SERVICE, Action.DECLINE), *_refund_steps(order)]
            await store.transition(
                db, order_id, steps, actor=actor, now=now, reason=why, values=_refund_values(order, reason=why)
            )
            await store.audit(db, actor, action="consult.decline", result=AuditResult.OK, order_id=order_id, at=now)
        await self.refund_at_provider(order_id, now=now)
        return await self._reload(order_id)

    async def complete(self, order_id: int, *, scope: StaffScope, actor: Actor, now: datetime) -> ConsultOrder:
        async with self._sessions() as db, db.begin():
            await self._assigned(db, order_id, scope, _DIRECT)
            return await self._step(
                db, order_id, Action.COMPLETE, "consult.complete", actor, now, {"completed_at": now}
            )

    async def set_duty(self, *, scope: StaffScope, on: bool, actor: Actor, now: datetime) -> bool:
        doctor = scope.doctor
        async with self._sessions() as db, db.begin():
            if doctor is None or not await store.in_rapid_team(db, doctor):
                raise NotYours(doctor or 0)
            await store.set_duty(db, staff_id=doctor, on=on, now=now)
            await store.audit(
                db,
                actor,
                action="consult.duty_on" if on else "consult.duty_off",
                result=AuditResult.OK,
                order_id=None,
                at=now,
            )
        return on

    async def write_opinion(
        self, order_id: int, *, scope: StaffScope, body: str, actor: Actor, now: datetime
    ) -> ConsultOrder:
        text = _text(body, "body", limit=10_000, required=True) or ""
        doctor = scope.doctor
        async with self._sessions() as db, db.begin():
            order = await self._get(db, order_id)
            if doctor is None or not await store.is_expert(db, order_id=order_id, staff_id=doctor):
                raise NotYours(order_id)
            if order.service_state is not ServiceState.HELD:
                raise OrderRefused(
                    Refusal.NOT_YET, "会诊完成后才能撰写意见书 (write the opinion once the consultation was held)"
                )
            opinion = await db.get(ConsultOpinion, order_id)
            sealed = self._cipher.encrypt(text, context=OPINION_CONTEXT)
            if opinion is None:
                db.add(
                    ConsultOpinion(
                        order_id=order_id, body_cipher=sealed, author_staff_id=doctor, created_at=now, updated_at=now
                    )
                )
            elif opinion.published_at is not None:
                raise OrderRefused(Refusal.ALREADY_DONE, "意见书已发布，不能修改 (the opinion is published)")
            else:
                opinion.body_cipher, opinion.author_staff_id, opinion.updated_at = sealed, doctor, now
            await store.audit(
                db, actor, action="consult.opinion_write", result=AuditResult.OK, order_id=order_id, at=now
            )
        return await self._reload(order_id)

    async def publish_opinion(self, order_id: int, *, scope: StaffScope, actor: Actor, now: datetime) -> ConsultOrder:
        doctor = scope.doctor
        async with self._sessions() as db, db.begin():
            await self._get(db, order_id)
            if doctor is None or not await store.is_expert(db, order_id=order_id, staff_id=doctor):
                raise NotYours(order_id)
            opinion = await db.get(ConsultOpinion, order_id)
            if opinion is None:
                raise OrderRefused(Refusal.OPINION_MISSING, "请先撰写意见书 (write the opinion first)")
            order = await store.transition(
                db,
                order_id,
                [Step(StateField.SERVICE, Action.PUBLISH_OPINION)],
                actor=actor,
                now=now,
                values={"completed_at": now},
            )
            opinion.published_at = now
            await store.audit(
                db, actor, action="consult.opinion_publish", result=AuditResult.OK, order_id=order_id, at=now
            )
        return order

    # ---- coordinators ---------------------------------------------------------------------------

    async def coordinate(
        self, order_id: int, work: Coordination, *, scope: StaffScope, actor: Actor, now: datetime
    ) -> ConsultOrder:
        refund = False
        async with self._sessions() as db, db.begin():
            order = await self._get(db, order_id)
            if not scope.coordinates or order.service not in (ConsultService.TEAM, ConsultService.MDT):
                raise NotYours(order_id)
            # The state first: a move that is not allowed now says so before the input is looked at.
            next_state(StateField.SERVICE, order.service, order.service_state.value, work.action)
            values: dict[str, object] = {}
            steps = [Step(StateField.SERVICE, work.action)]
            reason = (work.reason or "").strip()[:200] or None
            if work.action is Action.ACCEPT:
                values = {"accepted_at": now, "coordinator_account_id": scope.account_id}
            elif work.action is Action.REJECT:
                if reason is None:
                    raise InvalidRequest("reason", "请说明原因，患者将看到 (give the reason; the patient reads it)")
                steps += _refund_steps(order)
                values = _refund_values(order, reason=reason)
                refund = True
            elif work.action is Action.ASSIGN_EXPERTS:
                await self._check_experts(db, order, work.experts)
            elif work.action is Action.SCHEDULE:
                if work.meeting_at is None or not now < work.meeting_at <= now + timedelta(days=90):
                    raise InvalidRequest("startsAt", "会诊时间须在今后90天内 (within the next 90 days)")
                values = {"meeting_at": work.meeting_at}
                if order.service is ConsultService.MDT and order.video_room is None:
                    values["video_room"] = VideoLinks.new_room()
            elif work.action is Action.MARK_HELD and (order.meeting_at is None or now < order.meeting_at):
                raise OrderRefused(Refusal.NOT_YET, "会诊尚未开始 (the consultation has not started yet)")
            order = await store.transition(db, order_id, steps, actor=actor, now=now, reason=reason, values=values)
            if work.action is Action.ASSIGN_EXPERTS:
                await db.execute(delete(ConsultOrderExpert).where(ConsultOrderExpert.order_id == order_id))
                db.add_all(
                    ConsultOrderExpert(order_id=order_id, staff_id=staff_id, position=n)
                    for n, staff_id in enumerate(work.experts)
                )
            await store.audit(
                db,
                actor,
                action=f"consult.{work.action.value.lower()}",
                result=AuditResult.OK,
                order_id=order_id,
                at=now,
            )
        if refund:
            await self.refund_at_provider(order_id, now=now)
        return await self._reload(order_id)

    async def _check_experts(self, db: AsyncSession, order: ConsultOrder, experts: Sequence[int]) -> None:
        if not 2 <= len(experts) <= 8 or len(set(experts)) != len(experts):
            raise InvalidRequest("staffIds", "请指定2到8位不同的专家 (assign 2 to 8 different experts)")
        rows = {
            s.id: s
            for s in await db.scalars(
                select(Staff).where(Staff.id.in_(experts), Staff.active.is_(True), Staff.role == StaffRole.DOCTOR)
            )
        }
        if set(rows) != set(experts):
            raise InvalidRequest("staffIds", "专家须为在职医生 (experts must be active doctors)")
        if order.service is ConsultService.TEAM:
            members = set(await db.scalars(select(TeamMember.staff_id).where(TeamMember.team_id == order.team_id)))
            if not set(experts) <= members:
                raise InvalidRequest("staffIds", "专家须为该团队成员 (experts must be members of the team)")
        else:
            departments = {rows[s].department_id for s in experts}
            if not departments <= set(order.mdt_department_ids) or len(departments) < 2:
                raise InvalidRequest(
                    "staffIds", "专家须来自所选的至少两个科室 (experts from at least two of the chosen departments)"
                )

    async def refund_by_staff(
        self, order_id: int, *, cents: int | None, reason: str, actor: Actor, now: datetime
    ) -> ConsultOrder:
        """Give money back: all of it (ending the consult unless it was completed), or part of it, or
        once more after a failed refund."""
        why = _text(reason, "reason", limit=80, required=True) or ""
        async with self._sessions() as db, db.begin():
            order = await self._get(db, order_id)
            if cents is not None and not 0 < cents <= order.price_cents:
                raise InvalidRequest(
                    "amountCents",
                    f"退款金额须在0.01元到{order.price_cents / 100:.2f}元之间 (1 to {order.price_cents} fen)",
                )
            if order.refund_state is RefundState.FAILED:
                steps = [Step(StateField.REFUND, Action.REQUEST_REFUND)]
                values = _refund_values(order, reason=why)
            else:
                steps = _refund_steps(order)
                if order.payment_state is PaymentState.PAID and order.service_state not in (
                    ServiceState.COMPLETED,
                    ServiceState.CANCELLED,
                ):
                    steps.insert(0, Step(StateField.SERVICE, Action.ADMIN_CANCEL))
                    cents = order.price_cents  # an unfinished consult is refunded in full
                values = _refund_values(order, cents=cents or order.price_cents, reason=why)
            await store.transition(db, order_id, steps, actor=actor, now=now, reason=why, values=values)
            await store.audit(db, actor, action="consult.refund", result=AuditResult.OK, order_id=order_id, at=now)
        await self.refund_at_provider(order_id, now=now)
        return await self._reload(order_id)

    async def _reload(self, order_id: int) -> ConsultOrder:
        async with self._sessions() as db:
            return await store.load(db, order_id)

    # ---- WeChat Pay: payments and refunds -------------------------------------------------------

    async def refund_at_provider(self, order_id: int, *, now: datetime) -> None:
        """Send a REQUESTED refund to WeChat Pay and record its answer; on failure the jobs retry."""
        async with self._sessions() as db:
            order = await store.load(db, order_id)
        if order.refund_state is not RefundState.REQUESTED or order.refund_no is None:
            return
        try:
            answer = await self.payments.refund(
                out_trade_no=order.order_no,
                out_refund_no=order.refund_no,
                reason=order.refund_reason or "退款",
                refund_cents=order.refund_cents or order.price_cents,
                total_cents=order.price_cents,
            )
        except PaymentUnavailable:
            logger.warning("refund of order %d not sent: WeChat Pay unavailable; the jobs retry", order_id)
            return
        except PaymentRefused as refused:
            logger.error("refund of order %d refused by WeChat Pay: %s", order_id, refused.code)
            answer = Refund(out_refund_no=order.refund_no, status="CLOSED", refund=order.refund_cents)
            await self._settle_refund(answer, actor=WECHATPAY, now=now, reference=refused.code)
            return
        await self._settle_refund(answer, actor=WECHATPAY, now=now, reference=answer.refund_id)

    async def _confirm(
        self, transaction: Transaction, *, actor: Actor, now: datetime, reference: str | None
    ) -> NotificationOutcome:
        """Record a successful payment once, however often WeChat Pay (or the order query) reports it."""
        late = False
        async with self._sessions() as db, db.begin():
            order = await store.find(db, order_no=transaction.out_trade_no)
            if order is None:
                raise _Unknown()
            if transaction.total != order.price_cents or transaction.currency not in (None, "CNY"):
                raise _AmountMismatch(order.id)
            if order.payment_state not in (PaymentState.UNPAID, PaymentState.CLOSED):
                return NotificationOutcome.DUPLICATE
            paid_at = transaction.success_time or now
            values = {
                "paid_at": paid_at,
                "transaction_id": transaction.transaction_id,
                "response_deadline": self._deadlines.response_deadline(order.service, now),
            }
            try:
                if order.payment_state is PaymentState.UNPAID:
                    steps = _steps((StateField.PAYMENT, Action.CONFIRM_PAYMENT), (StateField.SERVICE, Action.PAY))
                    await store.transition(
                        db, order.id, steps, actor=actor, now=now, reference=reference, values=values
                    )
                else:
                    # Paid after the order was closed: the money is taken, then given back in full.
                    late = True
                    why = "订单关闭后才完成支付，全额退款"
                    order = await store.transition(
                        db,
                        order.id,
                        [Step(StateField.PAYMENT, Action.CONFIRM_PAYMENT)],
                        actor=actor,
                        now=now,
                        reference=reference,
                        values=values | {"response_deadline": None},
                    )
                    await store.transition(
                        db,
                        order.id,
                        _refund_steps(order),
                        actor=JOBS,
                        now=now,
                        reason=why,
                        values=_refund_values(order, reason=why),
                    )
            except (IllegalTransition, ConcurrentChange):
                return NotificationOutcome.DUPLICATE  # another delivery of the same payment won
            await store.audit(db, actor, action="consult.paid", result=AuditResult.OK, order_id=order.id, at=now)
            order_id = order.id
        if late:
            await self.refund_at_provider(order_id, now=now)
        return NotificationOutcome.APPLIED

    async def _settle_refund(
        self, refund: Refund, *, actor: Actor, now: datetime, reference: str | None
    ) -> NotificationOutcome:
        async with self._sessions() as db, db.begin():
            order = await store.find(db, refund_no=refund.out_refund_no)
            if order is None:
                raise _Unknown()
            if refund.refund is not None and refund.refund != order.refund_cents:
                raise _AmountMismatch(order.id)
            values: dict[str, object] = {"refund_id": refund.refund_id} if refund.refund_id else {}
            if refund.status == "SUCCESS":
                whole = (order.refund_cents or order.price_cents) >= order.price_cents
                steps = _steps(
                    (StateField.REFUND, Action.REFUND_SUCCEEDED),
                    (StateField.PAYMENT, Action.REFUND_FULL if whole else Action.REFUND_PARTIAL),
                )
                values["refunded_at"] = refund.success_time or now
                reason = None
            elif refund.status == "PROCESSING":
                steps = [Step(StateField.REFUND, Action.REFUND_ACCEPTED)]
                reason = None
            else:
                steps = [Step(StateField.REFUND, Action.REFUND_FAILED)]
                reason = f"WeChat Pay: {refund.status}"
                logger.error("refund of order %d ended %s: needs a person", order.id, refund.status)
            try:
                await store.transition(
                    db, order.id, steps, actor=actor, now=now, reason=reason, reference=reference, values=values
                )
            except (IllegalTransition, ConcurrentChange):
                return NotificationOutcome.DUPLICATE  # older news than what is recorded
            await store.audit(
                db,
                actor,
                action=f"consult.refund_{refund.status.lower()}",
                result=AuditResult.OK,
                order_id=order.id,
                at=now,
            )
        return NotificationOutcome.APPLIED

    async def on_notification(
        self, kind: NotificationKind, headers: Mapping[str, str], body: bytes, *, actor: Actor, now: datetime
    ) -> NotificationAnswer:
        """A notification at one of our endpoints: 204 once it is recorded (or was before), 4xx when it
        cannot be trusted or does not match an order, changing nothing then."""
        try:
            notification = self.payments.read_notification(headers, body)
        except NotificationRejected as rejected:
            logger.warning("refused a WeChat Pay %s notification: %s", kind.value, rejected.reason.value)
            await self._deny(actor, f"payment.notification.{rejected.reason.value.lower()}", None, now)
            return NotificationAnswer(rejected.status, "FAIL", rejected.reason.value)
        if notification.kind is not kind:
            await self._deny(actor, "payment.notification.wrong_endpoint", None, now)
            return NotificationAnswer(400, "FAIL", "WRONG_ENDPOINT")
        try:
            if notification.transaction is not None:
                if notification.transaction.trade_state != "SUCCESS":
                    return NotificationAnswer(204)
                await self._confirm(notification.transaction, actor=actor, now=now, reference=notification.id)
            elif notification.refund is not None:
                await self._settle_refund(notification.refund, actor=actor, now=now, reference=notification.id)
        except _Unknown:
            logger.warning("WeChat Pay %s notification for an unknown order", kind.value)
            await self._deny(actor, "payment.notification.unknown_order", None, now)
            return NotificationAnswer(404, "FAIL", "UNKNOWN_ORDER")
        except _AmountMismatch as mismatch:
            logger.error("WeChat Pay %s notification with a wrong amount for order %d", kind.value, mismatch.order_id)
            await self._deny(actor, "payment.notification.amount_mismatch", mismatch.order_id, now)
            return NotificationAnswer(400, "FAIL", "AMOUNT_MISMATCH")
        return NotificationAnswer(204)

    async def _deny(self, actor: Actor, action: str, order_id: int | None, now: datetime) -> None:
        async with self._sessions() as db, db.begin():
            await store.audit(db, actor, action=action, result=AuditResult.DENIED, order_id=order_id, at=now)

    # ---- the periodic jobs ----------------------------------------------------------------------

    async def run_jobs(self, *, now: datetime) -> JobReport:
        """Close unpaid orders past their payment window, refund orders nobody took on in time, and
        finish refunds WeChat Pay did not answer. Everything due is handled, 100 orders at a time;
        an order whose step fails (WeChat Pay down) waits for the next run. Safe to run on every
        instance at once: each change is a conditional transition."""
        report = JobReport()
        kinds = (
            (store.due_unpaid, self._expire),
            (store.due_deadlines, self._miss_deadline),
            (store.stuck_refunds, self._finish_refund),
        )
        for due, handle in kinds:
            tried: set[int] = set()
            while len(tried) < _MAX_PER_RUN:
                async with self._sessions() as db:
                    batch = [i for i in await due(db, now=now, limit=_BATCH, skip=tried) if i not in tried]
                if not batch:
                    break
                for order_id in batch:
                    tried.add(order_id)
                    await handle(order_id, report, now=now)
        return report

    async def _expire(self, order_id: int, report: JobReport, *, now: datetime) -> None:
        order = await self._reload(order_id)
        if order.payment_state is not PaymentState.UNPAID:
            return
        try:
            transaction = await self.payments.query(order.order_no)
            if transaction is not None and transaction.trade_state == "SUCCESS":
                await self._confirm(transaction, actor=JOBS, now=now, reference=transaction.transaction_id)
                report.payments_found += 1
                return
            if transaction is not None and transaction.trade_state == "USERPAYING":
                report.deferred += 1
                return
            if transaction is not None:
                await self.payments.close(order.order_no)
        except PaymentRefused as refused:
            if refused.code == "ORDERPAID":
                report.deferred += 1  # paid meanwhile: the next run finds the payment
                return
        except PaymentUnavailable:
            report.deferred += 1
            return
        try:
            async with self._sessions() as db, db.begin():
                steps = _steps((StateField.SERVICE, Action.EXPIRE), (StateField.PAYMENT, Action.CLOSE))
                await store.transition(db, order_id, steps, actor=JOBS, now=now, reason="超时未支付，订单已关闭")
                await store.audit(db, JOBS, action="consult.expire", result=AuditResult.OK, order_id=order_id, at=now)
        except (IllegalTransition, ConcurrentChange):
            return  # paid or cancelled meanwhile
        report.expired += 1

    async def _miss_deadline(self, order_id: int, report: JobReport, *, now: datetime) -> None:
        why = "超时未接诊，全额退款"
        try:
            async with self._sessions() as db, db.begin():
                order = await store.load(db, order_id)
                if order.response_deadline is None or order.response_deadline > now:
                    return
                steps = [Step(StateField.SERVICE, Action.MISS_DEADLINE), *_refund_steps(order)]
                await store.transition(
                    db, order_id, steps, actor=JOBS, now=now, reason=why, values=_refund_values(order, reason=why)
                )
                await store.audit(
                    db, JOBS, action="consult.miss_deadline", result=AuditResult.OK, order_id=order_id, at=now
                )
        except (IllegalTransition, ConcurrentChange):
            return  # taken on at the last moment
        report.missed_deadlines += 1
        await self.refund_at_provider(order_id, now=now)

    async def _finish_refund(self, order_id: int, report: JobReport, *, now: datetime) -> None:
        order = await self._reload(order_id)
        if order.refund_state is RefundState.REQUESTED:
            report.refunds_retried += 1
            await self.refund_at_provider(order_id, now=now)
        elif order.refund_state is RefundState.PROCESSING and order.updated_at <= now - _REFUND_QUERY_AFTER:
            try:
                answer = await self.payments.query_refund(order.refund_no or "")
            except (PaymentUnavailable, PaymentRefused):
                report.deferred += 1
                return
            if answer is not None and answer.status != "PROCESSING":
                report.refunds_retried += 1
                await self._settle_refund(answer, actor=JOBS, now=now, reference=answer.refund_id)


class _Unknown(LookupError):
    pass


class _AmountMismatch(ValueError):
    def __init__(self, order_id: int) -> None:
        super().__init__(order_id)
        self.order_id = order_id
