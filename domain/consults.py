"""Consult orders as pure rules: three state machines, what each state means for the consult
statistics, response deadlines, the follow-up eligibility rule and the patient's timeline labels.

An order has three state fields, each changed only by an explicit action:

- payment: UNPAID → PAID → REFUNDING → REFUNDED / PARTIALLY_REFUNDED; an unpaid order that expires
  or is cancelled is CLOSED (a payment arriving after that is accepted, then refunded in full);
- service: the flow of the consult itself, one machine per service (below);
- refund: NONE → REQUESTED → PROCESSING → SUCCEEDED / FAILED (a failed refund may be requested again).

`next_state(field, service, state, action)` is the whole truth: every pair it does not list is an
illegal move and raises `IllegalTransition`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.enums import ConsultService, ConsultStatus
from domain.health_records import VisitKind


class StateField(StrEnum):
    PAYMENT = "PAYMENT"
    SERVICE = "SERVICE"
    REFUND = "REFUND"


class PaymentState(StrEnum):
    UNPAID = "UNPAID"  # 待支付
    PAID = "PAID"  # 已支付
    REFUNDING = "REFUNDING"  # 退款中
    REFUNDED = "REFUNDED"  # 已全额退款
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"  # 已部分退款
    CLOSED = "CLOSED"  # 未支付，订单已关闭


class ServiceState(StrEnum):
    AWAITING_PAYMENT = "AWAITING_PAYMENT"  # 待支付
    WAITING = "WAITING"  # 复诊续方/视频问诊: 待医生接诊
    QUEUED = "QUEUED"  # 极速咨询: 排队等待值班医生
    SUBMITTED = "SUBMITTED"  # 团队/MDT: 待协调员受理
    IN_CONSULTATION = "IN_CONSULTATION"  # 问诊中
    ACCEPTED = "ACCEPTED"  # 协调员已受理
    CONTACTED = "CONTACTED"  # 已联系患者
    EXPERTS_ASSIGNED = "EXPERTS_ASSIGNED"  # 专家已确定
    SCHEDULED = "SCHEDULED"  # 会诊已安排
    HELD = "HELD"  # 会诊已完成，待出具意见书
    COMPLETED = "COMPLETED"  # 已完成
    CANCELLED = "CANCELLED"  # 已取消
    DECLINED = "DECLINED"  # 医生未接诊（已退款）
    REJECTED = "REJECTED"  # 协调员退回（已退款）
    EXPIRED = "EXPIRED"  # 超时未接诊（已退款）


class RefundState(StrEnum):
    NONE = "NONE"
    REQUESTED = "REQUESTED"  # decided here, not yet accepted by WeChat Pay
    PROCESSING = "PROCESSING"  # accepted by WeChat Pay, money on its way
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # WeChat Pay reported ABNORMAL or CLOSED: needs a person, then a new request


class Action(StrEnum):
    # service
    PAY = "PAY"
    CANCEL = "CANCEL"  # the patient cancels (unpaid, or paid but not yet taken on)
    EXPIRE = "EXPIRE"  # unpaid past the payment window
    ACCEPT = "ACCEPT"  # a doctor (or, for team/MDT, a coordinator) takes the order on
    DECLINE = "DECLINE"  # the chosen doctor will not take it
    COMPLETE = "COMPLETE"
    MISS_DEADLINE = "MISS_DEADLINE"  # nobody took it on in time
    REJECT = "REJECT"  # a coordinator turns a team/MDT order down
    CONTACT = "CONTACT"
    ASSIGN_EXPERTS = "ASSIGN_EXPERTS"
    SCHEDULE = "SCHEDULE"
    MARK_HELD = "MARK_HELD"
    PUBLISH_OPINION = "PUBLISH_OPINION"
    ADMIN_CANCEL = "ADMIN_CANCEL"  # staff end a paid order that cannot go on
    # payment
    CONFIRM_PAYMENT = "CONFIRM_PAYMENT"
    CLOSE = "CLOSE"
    START_REFUND = "START_REFUND"
    REFUND_FULL = "REFUND_FULL"
    REFUND_PARTIAL = "REFUND_PARTIAL"
    # refund
    REQUEST_REFUND = "REQUEST_REFUND"
    REFUND_ACCEPTED = "REFUND_ACCEPTED"
    REFUND_SUCCEEDED = "REFUND_SUCCEEDED"
    REFUND_FAILED = "REFUND_FAILED"


class IllegalTransition(ValueError):
    """The action is not allowed from the current state; nothing changed."""

    def __init__(self, field: StateField, state: str, action: Action, service: ConsultService) -> None:
        super().__init__(f"{action.value} is not allowed when {field.value.lower()} is {state} ({service.value})")
        self.field = field
        self.state = state
        self.action = action
        self.service = service


P, S, R, A = PaymentState, ServiceState, RefundState, Action

PAYMENT_MOVES: Mapping[tuple[PaymentState, Action], PaymentState] = {
    (P.UNPAID, A.CONFIRM_PAYMENT): P.PAID,
    (P.CLOSED, A.CONFIRM_PAYMENT): P.PAID,  # paid after it was closed: accepted, then refunded
    (P.UNPAID, A.CLOSE): P.CLOSED,
    (P.PAID, A.START_REFUND): P.REFUNDING,
    (P.REFUNDING, A.REFUND_FULL): P.REFUNDED,
    (P.REFUNDING, A.REFUND_PARTIAL): P.PARTIALLY_REFUNDED,
}

REFUND_MOVES: Mapping[tuple[RefundState, Action], RefundState] = {
    (R.NONE, A.REQUEST_REFUND): R.REQUESTED,
    (R.FAILED, A.REQUEST_REFUND): R.REQUESTED,
    (R.REQUESTED, A.REFUND_ACCEPTED): R.PROCESSING,
    (R.REQUESTED, A.REFUND_SUCCEEDED): R.SUCCEEDED,  # the notification may overtake the answer
    (R.PROCESSING, A.REFUND_SUCCEEDED): R.SUCCEEDED,
    (R.REQUESTED, A.REFUND_FAILED): R.FAILED,
    (R.PROCESSING, A.REFUND_FAILED): R.FAILED,
}

_UNPAID_MOVES = {(S.AWAITING_PAYMENT, A.CANCEL): S.CANCELLED, (S.AWAITING_PAYMENT, A.EXPIRE): S.CANCELLED}


def _admin_cancel(states: Iterable[ServiceState]) -> dict[tuple[ServiceState, Action], ServiceState]:
    return {(state, A.ADMIN_CANCEL): S.CANCELLED for state in states}


_DIRECT = {
    **_UNPAID_MOVES,
    (S.AWAITING_PAYMENT, A.PAY): S.WAITING,
    (S.WAITING, A.ACCEPT): S.IN_CONSULTATION,
    (S.WAITING, A.DECLINE): S.DECLINED,
    (S.WAITING, A.CANCEL): S.CANCELLED,
    (S.WAITING, A.MISS_DEADLINE): S.EXPIRED,
    (S.IN_CONSULTATION, A.COMPLETE): S.COMPLETED,
    **_admin_cancel([S.WAITING, S.IN_CONSULTATION]),
}
_RAPID = {
    **_UNPAID_MOVES,
    (S.AWAITING_PAYMENT, A.PAY): S.QUEUED,
    (S.QUEUED, A.ACCEPT): S.IN_CONSULTATION,
    (S.QUEUED, A.CANCEL): S.CANCELLED,
    (S.QUEUED, A.MISS_DEADLINE): S.EXPIRED,
    (S.IN_CONSULTATION, A.COMPLETE): S.COMPLETED,
    **_admin_cancel([S.QUEUED, S.IN_CONSULTATION]),
}
_COORDINATED_ACTIVE = [S.SUBMITTED, S.ACCEPTED, S.CONTACTED, S.EXPERTS_ASSIGNED, S.SCHEDULED, S.HELD]
_REJECTABLE = [state for state in _COORDINATED_ACTIVE if state is not S.HELD]
_COORDINATED: dict[tuple[ServiceState, Action], ServiceState] = {
    **_UNPAID_MOVES,
    (S.AWAITING_PAYMENT, A.PAY): S.SUBMITTED,
    (S.SUBMITTED, A.ACCEPT): S.ACCEPTED,
    (S.SUBMITTED, A.CANCEL): S.CANCELLED,
    (S.SUBMITTED, A.MISS_DEADLINE): S.EXPIRED,
    (S.ACCEPTED, A.CONTACT): S.CONTACTED,
    (S.CONTACTED, A.ASSIGN_EXPERTS): S.EXPERTS_ASSIGNED,
    (S.EXPERTS_ASSIGNED, A.ASSIGN_EXPERTS): S.EXPERTS_ASSIGNED,  # the panel may change before scheduling
    (S.EXPERTS_ASSIGNED, A.SCHEDULE): S.SCHEDULED,
    (S.SCHEDULED, A.SCHEDULE): S.SCHEDULED,  # rescheduled
    (S.SCHEDULED, A.MARK_HELD): S.HELD,
    (S.HELD, A.PUBLISH_OPINION): S.COMPLETED,
    **{(state, A.REJECT): S.REJECTED for state in _REJECTABLE},
    **_admin_cancel(_COORDINATED_ACTIVE),
}

SERVICE_MOVES: Mapping[ConsultService, Mapping[tuple[ServiceState, Action], ServiceState]] = {
    ConsultService.FOLLOW_UP: _DIRECT,
    ConsultService.VIDEO: _DIRECT,
    ConsultService.RAPID: _RAPID,
    ConsultService.TEAM: _COORDINATED,
    ConsultService.MDT: _COORDINATED,
}

# Ending a paid order without its service gives the money back in full.
REFUNDING_ACTIONS = frozenset({A.CANCEL, A.DECLINE, A.MISS_DEADLINE, A.REJECT, A.ADMIN_CANCEL})
# Service states in which a paid order is waiting to be taken on (its response deadline runs).
WAITING_STATES = frozenset({S.WAITING, S.QUEUED, S.SUBMITTED})
TERMINAL_SERVICE_STATES = frozenset({S.COMPLETED, S.CANCELLED, S.DECLINED, S.REJECTED, S.EXPIRED})


def next_state(field: StateField, service: ConsultService, state: str, action: Action) -> str:
    """The state `action` leads to from `state`, or IllegalTransition."""
    moves: Mapping[tuple[str, Action], str]
    if field is StateField.PAYMENT:
        moves = PAYMENT_MOVES  # type: ignore[assignment]
    elif field is StateField.REFUND:
        moves = REFUND_MOVES  # type: ignore[assignment]
    else:
        moves = SERVICE_MOVES[service]  # type: ignore[assignment]
    found = moves.get((state, action))
    if found is None:
        raise IllegalTransition(field, state, action, service)
    return found


def states_of(field: StateField) -> tuple[str, ...]:
    return tuple(
        {StateField.PAYMENT: PaymentState, StateField.SERVICE: ServiceState, StateField.REFUND: RefundState}[field]
    )


def consult_status(payment: PaymentState, service: ServiceState) -> ConsultStatus:
    """How an order counts in the `consults` table that the staff statistics and rankings read."""
    if service is S.COMPLETED:
        # A completed consult keeps counting unless all of its money went back.
        return ConsultStatus.REFUNDED if payment is P.REFUNDED else ConsultStatus.COMPLETED
    if payment in (P.REFUNDING, P.REFUNDED, P.PARTIALLY_REFUNDED):
        return ConsultStatus.REFUNDED
    if service is S.AWAITING_PAYMENT:
        return ConsultStatus.CREATED
    if service in TERMINAL_SERVICE_STATES:
        return ConsultStatus.CANCELLED if payment in (P.UNPAID, P.CLOSED) else ConsultStatus.REFUNDED
    if service in WAITING_STATES:
        return ConsultStatus.PAID
    return ConsultStatus.IN_PROGRESS


@dataclass(frozen=True)
class Deadlines:
    """How long a paid order may wait to be taken on, per service."""

    rapid: timedelta
    direct: timedelta  # follow-up and video: the chosen staff member accepts
    coordinated: timedelta  # team and MDT: a coordinator accepts

    def response_deadline(self, service: ConsultService, paid_at: datetime) -> datetime:
        if service is ConsultService.RAPID:
            return paid_at + self.rapid
        if service in (ConsultService.TEAM, ConsultService.MDT):
            return paid_at + self.coordinated
        return paid_at + self.direct


# ---- 复诊续方 eligibility: internet consults are follow-ups of an offline visit ---------------

OFFLINE_VISITS = frozenset({VisitKind.OUTPATIENT, VisitKind.EMERGENCY, VisitKind.INPATIENT})
_NOT_HELD = frozenset({"planned", "cancelled", "entered-in-error"})


@dataclass(frozen=True)
class Visit:
    kind: VisitKind
    department: str | None
    started_at: datetime | None
    status: str | None = None


def same_department(visit_department: str | None, names: Iterable[str]) -> bool:
    """The HIS names departments in free text; compare without spaces and case."""
    if not visit_department:
        return False
    wanted = {"".join(name.split()).casefold() for name in names if name}
    return "".join(visit_department.split()).casefold() in wanted


def qualifying_visit(
    visits: Iterable[Visit], *, departments: Iterable[str], since: datetime, now: datetime
) -> Visit | None:
    """The latest offline visit (outpatient, emergency or inpatient) in one of `departments` that
    started within [since, now], or None: the patient is then not eligible for 复诊续方."""
    names = list(departments)
    found = [
        visit
        for visit in visits
        if visit.kind in OFFLINE_VISITS
        and (visit.status or "") not in _NOT_HELD
        and visit.started_at is not None
        and since <= visit.started_at <= now
        and same_department(visit.department, names)
    ]
    return max(found, key=lambda visit: visit.started_at or since, default=None)


# ---- the patient's timeline ----------------------------------------------------------------

SERVICE_LABELS: Mapping[ServiceState, str] = {
    S.AWAITING_PAYMENT: "订单已提交，待支付",
    S.WAITING: "已支付，等待医生接诊",
    S.QUEUED: "已支付，正在排队等待值班医生",
    S.SUBMITTED: "已支付，预约信息已提交，等待协调员受理",
    S.IN_CONSULTATION: "医生已接诊，问诊进行中",
    S.ACCEPTED: "协调员已受理",
    S.CONTACTED: "协调员已与您联系",
    S.EXPERTS_ASSIGNED: "会诊专家已确定",
    S.SCHEDULED: "会诊时间已安排",
    S.HELD: "会诊已完成，专家正在出具意见书",
    S.COMPLETED: "问诊已完成",
    S.CANCELLED: "订单已取消",
    S.DECLINED: "医生暂时无法接诊，已为您全额退款",
    S.REJECTED: "协调员未能受理，已为您全额退款",
    S.EXPIRED: "超时未接诊，已为您全额退款",
}
PAYMENT_LABELS: Mapping[PaymentState, str] = {
    P.UNPAID: "待支付",
    P.PAID: "支付成功",
    P.REFUNDING: "退款处理中",
    P.REFUNDED: "已全额退款",
    P.PARTIALLY_REFUNDED: "已部分退款",
    P.CLOSED: "超时未支付，订单已关闭",
}
REFUND_LABELS: Mapping[RefundState, str] = {
    R.NONE: "",
    R.REQUESTED: "已申请退款",
    R.PROCESSING: "退款处理中，款项将原路退回",
    R.SUCCEEDED: "退款成功，款项已原路退回",
    R.FAILED: "退款遇到问题，工作人员将尽快处理",
}
# Timeline steps not worth a line of their own for the patient: the payment line says it already.
_QUIET = {(StateField.REFUND, R.PROCESSING.value), (StateField.PAYMENT, P.REFUNDING.value)}


def timeline_label(field: StateField, state: str, service: ConsultService) -> str | None:
    """What the patient reads for a transition into `state`, or None when it is not shown."""
    if (field, state) in _QUIET:
        return None
    if field is StateField.PAYMENT:
        return PAYMENT_LABELS[PaymentState(state)]
    if field is StateField.REFUND:
        return REFUND_LABELS[RefundState(state)] or None
    label = SERVICE_LABELS[ServiceState(state)]
    if service is ConsultService.VIDEO and state == S.WAITING:
        return "已支付，可进入视频诊室等待医生"
    if service in (ConsultService.TEAM, ConsultService.MDT) and state == S.COMPLETED:
        return "意见书已发布，可在线查看"
    return label


def status_text(payment: PaymentState, service: ServiceState, refund: RefundState) -> str:
    """The order's state in one sentence for the patient."""
    if service is S.CANCELLED:
        if refund is R.SUCCEEDED:
            return "订单已取消，已全额退款"
        if payment in (P.REFUNDING, P.PAID):
            return "订单已取消，费用将原路退回"
        return "订单已取消"
    if service is S.COMPLETED and payment is P.PARTIALLY_REFUNDED:
        return "问诊已完成，已部分退款"
    if service in (S.DECLINED, S.REJECTED, S.EXPIRED) and refund is not R.SUCCEEDED:
        return SERVICE_LABELS[service].replace("已为您全额退款", "费用将全额原路退回")
    return SERVICE_LABELS[service]


# Reasons the patient reads (written for them: a cancellation, a refusal, a refund, a meeting time);
# notes of the other steps stay internal.
PATIENT_REASONS = frozenset(
    {
        A.CANCEL,
        A.DECLINE,
        A.REJECT,
        A.MISS_DEADLINE,
        A.EXPIRE,
        A.ADMIN_CANCEL,
        A.SCHEDULE,
        A.REQUEST_REFUND,
    }
)
_PRIORITY = {StateField.SERVICE: 0, StateField.REFUND: 1, StateField.PAYMENT: 2}


@dataclass(frozen=True)
class Moved:
    """One row of the transition log, as the timeline needs it."""

    field: StateField
    to_state: str
    action: str
    actor: str
    reason: str | None
    at: datetime
    request: str | None = None  # the request that made the change


@dataclass(frozen=True)
class TimelineStep:
    at: datetime
    title: str
    detail: str | None


def timeline(moves: Iterable[Moved], service: ConsultService) -> list[TimelineStep]:
    """The patient's timeline: one line per change (the fields moved together by one actor in one
    request at one instant make one change), titled by its most telling field: service, then refund,
    then payment."""
    steps: list[TimelineStep] = []
    group: list[Moved] = []

    def flush() -> None:
        shown = [(m, timeline_label(m.field, m.to_state, service)) for m in group]
        shown = [
            (m, label) for m, label in shown if label and not (m.field is StateField.PAYMENT and m.to_state == "UNPAID")
        ]
        if shown:
            lead, label = min(shown, key=lambda pair: _PRIORITY[pair[0].field])
            reasons = [m.reason for m in group if m.reason and m.action in PATIENT_REASONS]
            steps.append(TimelineStep(at=lead.at, title=label or "", detail=reasons[0] if reasons else None))
        group.clear()

    for move in moves:
        if group and (group[-1].at, group[-1].actor, group[-1].request) != (move.at, move.actor, move.request):
            flush()
        group.append(move)
    flush()
    return steps
