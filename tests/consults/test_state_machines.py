"""The consult order state machines, exhaustively: every (state, action) pair of every field and
service is either one of the moves written out below, or refused with IllegalTransition.

The expected moves are written here again, as the hospital described the flows, independently of
the tables in domain/consults.py.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from domain.consults import (
    Action,
    Deadlines,
    IllegalTransition,
    Moved,
    PaymentState,
    RefundState,
    ServiceState,
    StateField,
    Visit,
    consult_status,
    next_state,
    qualifying_visit,
    same_department,
    states_of,
    status_text,
    timeline,
    timeline_label,
)
from domain.enums import ConsultService, ConsultStatus
from domain.health_records import VisitKind


def _moves(text: str) -> dict[tuple[str, str], str]:
    """Lines of `FROM ACTION TO`."""
    found = {}
    for line in filter(str.strip, text.splitlines()):
        source, action, target = line.split()
        found[(source, action)] = target
    return found


PAYMENT = _moves("""
    UNPAID CONFIRM_PAYMENT PAID
    CLOSED CONFIRM_PAYMENT PAID
    UNPAID CLOSE CLOSED
    PAID START_REFUND REFUNDING
    REFUNDING REFUND_FULL REFUNDED
    REFUNDING REFUND_PARTIAL PARTIALLY_REFUNDED
""")

REFUND = _moves("""
    NONE REQUEST_REFUND REQUESTED
    FAILED REQUEST_REFUND REQUESTED
    REQUESTED REFUND_ACCEPTED PROCESSING
    REQUESTED REFUND_SUCCEEDED SUCCEEDED
    PROCESSING REFUND_SUCCEEDED SUCCEEDED
    REQUESTED REFUND_FAILED FAILED
    PROCESSING REFUND_FAILED FAILED
""")

UNPAID = """
    AWAITING_PAYMENT CANCEL CANCELLED
    AWAITING_PAYMENT EXPIRE CANCELLED
"""

# 复诊续方 and 视频问诊: the patient chose the staff member, who accepts or declines.
DIRECT = _moves(
    UNPAID
    + """
    AWAITING_PAYMENT PAY WAITING
    WAITING ACCEPT IN_CONSULTATION
    WAITING DECLINE DECLINED
    WAITING CANCEL CANCELLED
    WAITING MISS_DEADLINE EXPIRED
    WAITING ADMIN_CANCEL CANCELLED
    IN_CONSULTATION COMPLETE COMPLETED
    IN_CONSULTATION ADMIN_CANCEL CANCELLED
"""
)

# 极速咨询: a queue in front of the on-duty GP team.
RAPID = _moves(
    UNPAID
    + """
    AWAITING_PAYMENT PAY QUEUED
    QUEUED ACCEPT IN_CONSULTATION
    QUEUED CANCEL CANCELLED
    QUEUED MISS_DEADLINE EXPIRED
    QUEUED ADMIN_CANCEL CANCELLED
    IN_CONSULTATION COMPLETE COMPLETED
    IN_CONSULTATION ADMIN_CANCEL CANCELLED
"""
)

# 团队咨询 and MDT: a coordinator accepts, contacts, assigns experts, schedules, marks held; the
# published opinion completes it. Rejection is possible until the consultation was held.
COORDINATED = _moves(
    UNPAID
    + """
    AWAITING_PAYMENT PAY SUBMITTED
    SUBMITTED ACCEPT ACCEPTED
    SUBMITTED CANCEL CANCELLED
    SUBMITTED MISS_DEADLINE EXPIRED
    SUBMITTED REJECT REJECTED
    SUBMITTED ADMIN_CANCEL CANCELLED
    ACCEPTED CONTACT CONTACTED
    ACCEPTED REJECT REJECTED
    ACCEPTED ADMIN_CANCEL CANCELLED
    CONTACTED ASSIGN_EXPERTS EXPERTS_ASSIGNED
    CONTACTED REJECT REJECTED
    CONTACTED ADMIN_CANCEL CANCELLED
    EXPERTS_ASSIGNED ASSIGN_EXPERTS EXPERTS_ASSIGNED
    EXPERTS_ASSIGNED SCHEDULE SCHEDULED
    EXPERTS_ASSIGNED REJECT REJECTED
    EXPERTS_ASSIGNED ADMIN_CANCEL CANCELLED
    SCHEDULED SCHEDULE SCHEDULED
    SCHEDULED MARK_HELD HELD
    SCHEDULED REJECT REJECTED
    SCHEDULED ADMIN_CANCEL CANCELLED
    HELD PUBLISH_OPINION COMPLETED
    HELD ADMIN_CANCEL CANCELLED
"""
)

SERVICE = {
    ConsultService.FOLLOW_UP: DIRECT,
    ConsultService.VIDEO: DIRECT,
    ConsultService.RAPID: RAPID,
    ConsultService.TEAM: COORDINATED,
    ConsultService.MDT: COORDINATED,
}


def _expected(field: StateField, service: ConsultService) -> dict[tuple[str, str], str]:
    return {StateField.PAYMENT: PAYMENT, StateField.REFUND: REFUND, StateField.SERVICE: SERVICE[service]}[field]


CASES = [
    (field, service, state, action)
    for field in StateField
    for service in ConsultService
    for state in states_of(field)
    for action in Action
]


@pytest.mark.parametrize(("field", "service", "state", "action"), CASES)
def test_every_move_is_either_listed_or_refused(
    field: StateField, service: ConsultService, state: str, action: Action
) -> None:
    expected = _expected(field, service).get((state, action.value))
    if expected is None:
        with pytest.raises(IllegalTransition) as refused:
            next_state(field, service, state, action)
        assert (refused.value.field, refused.value.state, refused.value.action) == (field, state, action)
        assert action.value in str(refused.value)
    else:
        assert next_state(field, service, state, action) == expected


def test_the_listed_moves_use_only_real_states_and_actions() -> None:
    for field in StateField:
        for service in ConsultService:
            for (source, action), target in _expected(field, service).items():
                assert source in states_of(field) and target in states_of(field)
                assert action in Action.__members__


def test_every_service_state_is_reachable_from_awaiting_payment() -> None:
    for service, moves in SERVICE.items():
        reached = {"AWAITING_PAYMENT"}
        frontier = ["AWAITING_PAYMENT"]
        while frontier:
            state = frontier.pop()
            for (source, _action), target in moves.items():
                if source == state and target not in reached:
                    reached.add(target)
                    frontier.append(target)
        used = {s for pair in moves for s in (pair[0],)} | set(moves.values())
        assert reached == used, service


def test_terminal_states_have_no_way_out() -> None:
    for field in (StateField.SERVICE,):
        for service in ConsultService:
            for state in ("COMPLETED", "CANCELLED", "DECLINED", "REJECTED", "EXPIRED"):
                for action in Action:
                    with pytest.raises(IllegalTransition):
                        next_state(field, service, state, action)


# ---- how orders count in the consult statistics ------------------------------------------------

STATUS = {
    "AWAITING_PAYMENT": {"UNPAID": "CREATED"},
    "CANCELLED": {"UNPAID": "CANCELLED", "CLOSED": "CANCELLED"},
    "WAITING": {"PAID": "PAID"},
    "QUEUED": {"PAID": "PAID"},
    "SUBMITTED": {"PAID": "PAID"},
    "IN_CONSULTATION": {"PAID": "IN_PROGRESS"},
    "HELD": {"PAID": "IN_PROGRESS"},
    "COMPLETED": {
        "PAID": "COMPLETED",
        "PARTIALLY_REFUNDED": "COMPLETED",
        "REFUNDING": "COMPLETED",
        "REFUNDED": "REFUNDED",
    },
}


@pytest.mark.parametrize(("service", "payment"), list(itertools.product(ServiceState, PaymentState)))
def test_consult_status_of_every_state_pair(service: ServiceState, payment: PaymentState) -> None:
    status = consult_status(payment, service)
    assert isinstance(status, ConsultStatus)
    listed = STATUS.get(service.value, {}).get(payment.value)
    if listed is not None:
        assert status.value == listed
    elif service in (ServiceState.DECLINED, ServiceState.REJECTED, ServiceState.EXPIRED, ServiceState.CANCELLED):
        # ended after payment: the money goes back
        assert status is (ConsultStatus.CANCELLED if payment.value in ("UNPAID", "CLOSED") else ConsultStatus.REFUNDED)
    elif payment in (PaymentState.REFUNDING, PaymentState.REFUNDED, PaymentState.PARTIALLY_REFUNDED):
        assert status is ConsultStatus.REFUNDED


def test_response_deadlines_per_service() -> None:
    deadlines = Deadlines(rapid=timedelta(minutes=15), direct=timedelta(hours=24), coordinated=timedelta(hours=48))
    paid = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)
    assert deadlines.response_deadline(ConsultService.RAPID, paid) == paid + timedelta(minutes=15)
    assert deadlines.response_deadline(ConsultService.FOLLOW_UP, paid) == paid + timedelta(hours=24)
    assert deadlines.response_deadline(ConsultService.VIDEO, paid) == paid + timedelta(hours=24)
    assert deadlines.response_deadline(ConsultService.TEAM, paid) == paid + timedelta(hours=48)
    assert deadlines.response_deadline(ConsultService.MDT, paid) == paid + timedelta(hours=48)


# ---- 复诊续方 eligibility --------------------------------------------------------------------

NOW = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=180)


def _visit(days_ago: float, department: str = "心血管内科", kind: VisitKind = VisitKind.OUTPATIENT, **kw: str) -> Visit:
    return Visit(kind=kind, department=department, started_at=NOW - timedelta(days=days_ago), status=kw.get("status"))


def test_an_outpatient_visit_in_the_department_within_the_window_qualifies() -> None:
    visit = _visit(20)
    assert qualifying_visit([visit], departments=["心血管内科"], since=SINCE, now=NOW) == visit


@pytest.mark.parametrize("kind", [VisitKind.OUTPATIENT, VisitKind.EMERGENCY, VisitKind.INPATIENT])
def test_every_kind_of_offline_visit_qualifies(kind: VisitKind) -> None:
    assert qualifying_visit([_visit(5, kind=kind)], departments=["心血管内科"], since=SINCE, now=NOW)


@pytest.mark.parametrize(
    "visit",
    [
        _visit(181),  # outside the window
        _visit(-1),  # in the future (a booked visit)
        _visit(20, department="消化内科"),  # another department
        _visit(20, department=""),
        _visit(20, kind=VisitKind.OTHER),  # a virtual encounter is not an offline visit
        _visit(20, status="cancelled"),
        _visit(20, status="planned"),
        _visit(20, status="entered-in-error"),
        Visit(kind=VisitKind.OUTPATIENT, department="心血管内科", started_at=None),
    ],
)
def test_what_does_not_qualify(visit: Visit) -> None:
    assert qualifying_visit([visit], departments=["心血管内科"], since=SINCE, now=NOW) is None


def test_the_window_edges_are_inclusive_and_the_latest_visit_is_given() -> None:
    edge, later = _visit(180), _visit(3)
    assert qualifying_visit([edge], departments=["心血管内科"], since=SINCE, now=NOW) == edge
    assert qualifying_visit([edge, later], departments=["心血管内科"], since=SINCE, now=NOW) == later


def test_department_names_compare_without_spaces_or_case() -> None:
    assert same_department(" 心血管 内科 ", ["心血管内科"])
    assert same_department("Cardiology", ["cardiology"])
    assert not same_department(None, ["心血管内科"])
    assert not same_department("心内科", ["心血管内科"])


# ---- the patient's timeline ----------------------------------------------------------------


@pytest.mark.parametrize(("field", "service"), list(itertools.product(StateField, ConsultService)))
def test_every_state_has_a_plain_label_or_is_deliberately_quiet(field: StateField, service: ConsultService) -> None:
    quiet = {(StateField.REFUND, "NONE"), (StateField.REFUND, "PROCESSING"), (StateField.PAYMENT, "REFUNDING")}
    for state in states_of(field):
        label = timeline_label(field, state, service)
        assert (label is None) == ((field, state) in quiet), (field, state)
        assert label is None or not any(c.isascii() and c.isalpha() for c in label)


def test_labels_follow_the_service() -> None:
    assert "视频" in (timeline_label(StateField.SERVICE, "WAITING", ConsultService.VIDEO) or "")
    assert "意见书" in (timeline_label(StateField.SERVICE, "COMPLETED", ConsultService.MDT) or "")
    assert timeline_label(StateField.SERVICE, "COMPLETED", ConsultService.RAPID) == "问诊已完成"
    assert timeline_label(StateField.REFUND, "SUCCEEDED", ConsultService.RAPID) == "退款成功，款项已原路退回"
    assert RefundState.NONE.value == "NONE"


# ---- the timeline and the status sentence -----------------------------------------------------


def _moved(field: str, state: str, action: str, actor: str, at: int, request: str, reason: str | None = None) -> Moved:
    return Moved(StateField(field), state, action, actor, reason, NOW + timedelta(minutes=at), request)


def test_one_change_is_one_line_titled_by_its_most_telling_field() -> None:
    moves = [
        _moved("SERVICE", "AWAITING_PAYMENT", "CREATE", "PATIENT:1", 0, "r1"),
        _moved("PAYMENT", "UNPAID", "CREATE", "PATIENT:1", 0, "r1"),
        _moved("PAYMENT", "PAID", "CONFIRM_PAYMENT", "SYSTEM:wechatpay", 1, "r2"),
        _moved("SERVICE", "WAITING", "PAY", "SYSTEM:wechatpay", 1, "r2"),
        _moved("SERVICE", "DECLINED", "DECLINE", "STAFF:7", 5, "r3", "本周停诊"),
        _moved("PAYMENT", "REFUNDING", "START_REFUND", "STAFF:7", 5, "r3", "本周停诊"),
        _moved("REFUND", "REQUESTED", "REQUEST_REFUND", "STAFF:7", 5, "r3", "本周停诊"),
        _moved("REFUND", "PROCESSING", "REFUND_ACCEPTED", "SYSTEM:wechatpay", 5, "r3"),
        _moved("REFUND", "SUCCEEDED", "REFUND_SUCCEEDED", "SYSTEM:wechatpay", 6, "r4"),
        _moved("PAYMENT", "REFUNDED", "REFUND_FULL", "SYSTEM:wechatpay", 6, "r4"),
    ]
    steps = timeline(moves, ConsultService.FOLLOW_UP)
    assert [(s.title, s.detail) for s in steps] == [
        ("订单已提交，待支付", None),
        ("已支付，等待医生接诊", None),
        ("医生暂时无法接诊，已为您全额退款", "本周停诊"),
        ("退款成功，款项已原路退回", None),
    ]
    assert [s.at for s in steps] == [
        NOW,
        NOW + timedelta(minutes=1),
        NOW + timedelta(minutes=5),
        NOW + timedelta(minutes=6),
    ]


def test_the_same_actor_twice_at_one_instant_makes_two_lines() -> None:
    moves = [
        _moved("SERVICE", "IN_CONSULTATION", "ACCEPT", "STAFF:7", 0, "r1"),
        _moved("SERVICE", "COMPLETED", "COMPLETE", "STAFF:7", 0, "r2"),
    ]
    assert [s.title for s in timeline(moves, ConsultService.RAPID)] == ["医生已接诊，问诊进行中", "问诊已完成"]


def test_internal_notes_stay_internal_and_meeting_times_are_shown() -> None:
    moves = [
        _moved("SERVICE", "CONTACTED", "CONTACT", "STAFF:2", 0, "r1", "患者说下午不方便，家属张某电话138"),
        _moved("SERVICE", "SCHEDULED", "SCHEDULE", "STAFF:2", 1, "r2", "会诊时间 2026-11-17 12:00"),
    ]
    steps = timeline(moves, ConsultService.MDT)
    assert [(s.title, s.detail) for s in steps] == [
        ("协调员已与您联系", None),
        ("会诊时间已安排", "会诊时间 2026-11-17 12:00"),
    ]


@pytest.mark.parametrize(
    ("payment", "service", "refund", "text"),
    [
        ("UNPAID", "AWAITING_PAYMENT", "NONE", "订单已提交，待支付"),
        ("CLOSED", "CANCELLED", "NONE", "订单已取消"),
        ("REFUNDING", "CANCELLED", "PROCESSING", "订单已取消，费用将原路退回"),
        ("REFUNDED", "CANCELLED", "SUCCEEDED", "订单已取消，已全额退款"),
        ("REFUNDING", "DECLINED", "REQUESTED", "医生暂时无法接诊，费用将全额原路退回"),
        ("REFUNDED", "EXPIRED", "SUCCEEDED", "超时未接诊，已为您全额退款"),
        ("PARTIALLY_REFUNDED", "COMPLETED", "SUCCEEDED", "问诊已完成，已部分退款"),
        ("PAID", "QUEUED", "NONE", "已支付，正在排队等待值班医生"),
    ],
)
def test_the_status_sentence(payment: str, service: str, refund: str, text: str) -> None:
    assert status_text(PaymentState(payment), ServiceState(service), RefundState(refund)) == text
