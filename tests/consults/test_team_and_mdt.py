"""团队咨询 and MDT end to end: the appointment, payment, the coordinator's steps (accept, contact,
experts, schedule with a video meeting for MDT, held), the experts' opinion published and read by the
patient with its authors, the timeline at every step, and the refunds of a rejection or a missed
coordination deadline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from consults_support import (
    Patient,
    consult_row,
    coordinator_token,
    create,
    create_ok,
    department_of,
    doctor_token,
    doctors_in,
    new_patient,
    ok,
    order_of,
    pay,
    read,
    staff_offering,
    staff_read,
    step,
    team_with_members,
)
from identity_support import ClockedApp, codes, gql
from starlette.applications import Starlette

from support import ANCHOR

COORDINATION = """query($s: [ServiceState!]) { coordinationConsultOrders(states: $s, first: 50) {
  totalCount nodes { id service serviceState } } }"""
MEETING = ANCHOR + timedelta(days=2)


async def _team_order(app: Starlette, http: httpx.AsyncClient) -> tuple[Patient, dict[str, Any], list[int]]:
    team, members = await team_with_members(app)
    patient = await new_patient(app, http)
    order = await create_ok(
        http,
        patient,
        "TEAM",
        teamId=str(team),
        complaint="反复胸闷半年",
        history="高血压10年，服用氨氯地平",
        reportIds=["rpt-001", "rpt-002"],
        preferredTimes=[(ANCHOR + timedelta(days=1)).isoformat(), MEETING.isoformat()],
    )
    return patient, order, members


async def _mdt_order(app: Starlette, http: httpx.AsyncClient) -> tuple[Patient, dict[str, Any], list[int]]:
    first, _ = await staff_offering(app, "FOLLOW_UP")
    one = await department_of(app, first)
    other = 1 if one != 1 else 2
    experts = [(await doctors_in(app, one))[0], (await doctors_in(app, other))[0]]
    patient = await new_patient(app, http)
    order = await create_ok(
        http,
        patient,
        "MDT",
        departmentIds=[str(one), str(other)],
        complaint="肺部结节，需多学科评估",
        preferredTimes=[MEETING.isoformat()],
    )
    return patient, order, experts


async def _coordinate_to_scheduled(
    http: httpx.AsyncClient, coordinator: str, order_id: str, experts: list[int]
) -> dict[str, Any]:
    order_of(await step(http, coordinator, "acceptConsultCoordination", id=order_id))
    order_of(await step(http, coordinator, "markConsultPatientContacted", id=order_id, note="电话已联系，患者同意周二"))
    order_of(await step(http, coordinator, "assignConsultExperts", id=order_id, staffIds=[str(e) for e in experts]))
    return order_of(await step(http, coordinator, "scheduleConsultMeeting", id=order_id, startsAt=MEETING.isoformat()))


async def test_a_team_consult_from_appointment_to_published_opinion(clocked: ClockedApp) -> None:
    app, http = clocked.app, clocked.http
    patient, order, members = await _team_order(app, http)
    assert order["price"]["cents"] == 30000 and order["team"]["id"]
    assert order["appointment"] == {
        "complaint": "反复胸闷半年",
        "history": "高血压10年，服用氨氯地平",
        "reportIds": ["rpt-001", "rpt-002"],
        "preferredTimes": [(ANCHOR + timedelta(days=1)).isoformat(), MEETING.isoformat()],
    }
    order_id = order["id"]
    paid = await pay(http, patient, order_id)
    assert (paid["serviceState"], paid["responseDeadline"]) == ("SUBMITTED", (ANCHOR + timedelta(hours=48)).isoformat())

    coordinator = await coordinator_token(app, http)
    waiting = (await ok(http, COORDINATION, {"s": ["SUBMITTED"]}, coordinator))["coordinationConsultOrders"]
    assert order_id in [n["id"] for n in waiting["nodes"]]
    accepted = order_of(await step(http, coordinator, "acceptConsultCoordination", id=order_id))
    assert accepted["serviceState"] == "ACCEPTED" and accepted["acceptedAt"]
    order_of(await step(http, coordinator, "markConsultPatientContacted", id=order_id, note="电话已联系"))
    outsider, _ = await staff_offering(app, "FOLLOW_UP")
    not_members = await step(
        http, coordinator, "assignConsultExperts", id=order_id, staffIds=[str(members[0]), str(outsider)]
    )
    assert (not_members["__typename"], not_members["field"]) == ("ValidationFailed", "staffIds")
    experts = members[:2]
    assigned = order_of(
        await step(http, coordinator, "assignConsultExperts", id=order_id, staffIds=[str(e) for e in experts])
    )
    assert [e["id"] for e in assigned["experts"]] == [str(e) for e in experts]
    too_early = await step(http, coordinator, "markConsultHeld", id=order_id)
    assert too_early["__typename"] == "IllegalTransition"
    scheduled = order_of(
        await step(http, coordinator, "scheduleConsultMeeting", id=order_id, startsAt=MEETING.isoformat())
    )
    assert (scheduled["serviceState"], scheduled["meetingAt"]) == ("SCHEDULED", MEETING.isoformat())
    assert scheduled["videoEntry"] is None  # a team consult meets without the patient's video link
    not_yet = await step(http, coordinator, "markConsultHeld", id=order_id)
    assert (not_yet["__typename"], not_yet["refusal"]) == ("OrderRefused", "NOT_YET")

    clocked.clock.now = MEETING + timedelta(hours=1)
    coordinator = await coordinator_token(app, http, clocked.clock())
    held = order_of(await step(http, coordinator, "markConsultHeld", id=order_id))
    assert held["serviceState"] == "HELD"

    expert = await doctor_token(app, http, experts[0], clocked.clock())
    other_expert = await doctor_token(app, http, experts[1], clocked.clock())
    no_opinion = await step(http, expert, "publishConsultOpinion", id=order_id)
    assert no_opinion["refusal"] == "OPINION_MISSING"
    order_of(await step(http, expert, "writeConsultOpinion", id=order_id, body="初稿"))
    opinion = "综合意见：建议完善冠脉CTA检查，继续控制血压，三个月后复查。"
    drafted = order_of(await step(http, other_expert, "writeConsultOpinion", id=order_id, body=opinion))
    assert drafted["opinion"]["publishedAt"] is None and drafted["opinion"]["body"] == opinion
    assert (await read(http, patient, order_id))["opinion"] is None  # a draft stays with the experts
    outsider_token = await doctor_token(app, http, outsider, clocked.clock())
    attempt = 'mutation($id: ID!) { writeConsultOpinion(id: $id, body: "x") { __typename } }'
    assert codes(await gql(http, attempt, {"id": order_id}, outsider_token)) == ["FORBIDDEN"]

    published = order_of(await step(http, expert, "publishConsultOpinion", id=order_id))
    assert (published["serviceState"], published["completedAt"]) == ("COMPLETED", clocked.clock().isoformat())
    rewrite = await step(http, expert, "writeConsultOpinion", id=order_id, body="改动")
    assert rewrite["__typename"] == "OrderRefused"

    mine = await read(http, patient, order_id)
    assert mine["opinion"]["body"] == opinion and mine["opinion"]["publishedAt"] == clocked.clock().isoformat()
    assert mine["opinion"]["writtenBy"]["id"] == str(experts[1])
    assert [a["id"] for a in mine["opinion"]["authors"]] == [str(e) for e in experts]
    assert [e["title"] for e in mine["timeline"]] == [
        "订单已提交，待支付",
        "已支付，预约信息已提交，等待协调员受理",
        "协调员已受理",
        "协调员已与您联系",
        "会诊专家已确定",
        "会诊时间已安排",
        "会诊已完成，专家正在出具意见书",
        "意见书已发布，可在线查看",
    ]
    scheduled_step = mine["timeline"][5]
    assert scheduled_step["detail"] == "会诊时间 2026-11-17 12:00"  # Asia/Shanghai
    assert mine["timeline"][3]["detail"] is None  # the coordinator's note stays internal
    consult = await consult_row(app, order_id)
    assert (consult["status"], consult["team_id"], consult["staff_id"]) == ("COMPLETED", int(mine["team"]["id"]), None)


async def test_an_mdt_with_its_video_meeting_and_opinion(clocked: ClockedApp) -> None:
    app, http = clocked.app, clocked.http
    patient, order, experts = await _mdt_order(app, http)
    assert order["price"]["cents"] == 80000 and len(order["departments"]) == 2
    await pay(http, patient, order["id"])
    coordinator = await coordinator_token(app, http)
    order_of(await step(http, coordinator, "acceptConsultCoordination", id=order["id"]))
    order_of(await step(http, coordinator, "markConsultPatientContacted", id=order["id"]))
    same_department = (await doctors_in(app, int(order["departments"][0]["id"])))[:2]
    one_sided = await step(
        http, coordinator, "assignConsultExperts", id=order["id"], staffIds=[str(s) for s in same_department]
    )
    assert (one_sided["__typename"], one_sided["field"]) == ("ValidationFailed", "staffIds")
    order_of(await step(http, coordinator, "assignConsultExperts", id=order["id"], staffIds=[str(e) for e in experts]))
    past = await step(
        http, coordinator, "scheduleConsultMeeting", id=order["id"], startsAt=(ANCHOR - timedelta(hours=1)).isoformat()
    )
    assert (past["__typename"], past["field"]) == ("ValidationFailed", "startsAt")
    scheduled = order_of(
        await step(http, coordinator, "scheduleConsultMeeting", id=order["id"], startsAt=MEETING.isoformat())
    )
    patient_link = (await read(http, patient, order["id"]))["videoEntry"]["url"]
    expert = await doctor_token(app, http, experts[0])
    doctor_link = (await staff_read(http, expert, order["id"]))["videoEntry"]["url"]
    assert patient_link.split("?")[0] == doctor_link.split("?")[0]  # one meeting room
    assert scheduled["serviceState"] == "SCHEDULED"
    # the coordinator may move the meeting; then it takes place
    later = MEETING + timedelta(hours=2)
    moved = order_of(
        await step(http, coordinator, "scheduleConsultMeeting", id=order["id"], startsAt=later.isoformat())
    )
    assert moved["meetingAt"] == later.isoformat()
    clocked.clock.now = later + timedelta(minutes=30)
    coordinator = await coordinator_token(app, http, clocked.clock())
    order_of(await step(http, coordinator, "markConsultHeld", id=order["id"]))
    assert (await read(http, patient, order["id"]))["videoEntry"] is None
    expert = await doctor_token(app, http, experts[1], clocked.clock())
    order_of(await step(http, expert, "writeConsultOpinion", id=order["id"], body="MDT意见：建议胸腔镜下切除。"))
    order_of(await step(http, expert, "publishConsultOpinion", id=order["id"]))
    mine = await read(http, patient, order["id"])
    assert mine["serviceState"] == "COMPLETED" and mine["opinion"]["body"] == "MDT意见：建议胸腔镜下切除。"
    assert {a["id"] for a in mine["opinion"]["authors"]} == {str(e) for e in experts}
    # experts see the MDT among their orders
    listed = await ok(http, "{ doctorConsultOrders(first: 50) { nodes { id } } }", {}, expert)
    assert order["id"] in [n["id"] for n in listed["doctorConsultOrders"]["nodes"]]


async def test_a_rejected_team_consult_is_refunded_with_the_reason(app: Starlette, http: httpx.AsyncClient) -> None:
    patient, order, _ = await _team_order(app, http)
    await pay(http, patient, order["id"])
    coordinator = await coordinator_token(app, http)
    order_of(await step(http, coordinator, "acceptConsultCoordination", id=order["id"]))
    no_reason = await step(http, coordinator, "rejectConsultOrder", id=order["id"], reason="")
    assert (no_reason["__typename"], no_reason["field"]) == ("ValidationFailed", "reason")
    rejected = order_of(
        await step(http, coordinator, "rejectConsultOrder", id=order["id"], reason="该病情需线下急诊就医")
    )
    assert (rejected["serviceState"], rejected["paymentState"], rejected["refundState"]) == (
        "REJECTED",
        "REFUNDED",
        "SUCCEEDED",
    )
    timeline = (await read(http, patient, order["id"]))["timeline"]
    assert (timeline[-2]["title"], timeline[-2]["detail"]) == ("协调员未能受理，已为您全额退款", "该病情需线下急诊就医")
    assert (await consult_row(app, order["id"]))["status"] == "REFUNDED"


async def test_a_team_consult_not_accepted_in_48_hours_is_refunded(clocked: ClockedApp) -> None:
    app, http = clocked.app, clocked.http
    patient, order, _ = await _team_order(app, http)
    await pay(http, patient, order["id"])
    clocked.clock.advance(hours=48, minutes=1)
    await app.state.resources.consults.run_jobs(now=clocked.clock())
    expired = await read(http, patient, order["id"])
    assert (expired["serviceState"], expired["paymentState"]) == ("EXPIRED", "REFUNDED")


async def test_coordinator_steps_out_of_order_are_refused(app: Starlette, http: httpx.AsyncClient) -> None:
    patient, order, experts = await _mdt_order(app, http)
    coordinator = await coordinator_token(app, http)
    unpaid = await step(http, coordinator, "acceptConsultCoordination", id=order["id"])
    assert (unpaid["currentState"], unpaid["action"]) == ("AWAITING_PAYMENT", "ACCEPT")
    await pay(http, patient, order["id"])
    for name, extra in (
        ("markConsultPatientContacted", {}),
        ("assignConsultExperts", {"staffIds": [str(e) for e in experts]}),
        ("scheduleConsultMeeting", {"startsAt": MEETING.isoformat()}),
        ("markConsultHeld", {}),
    ):
        refused = await step(http, coordinator, name, id=order["id"], **extra)
        assert (refused["__typename"], refused["currentState"]) == ("IllegalTransition", "SUBMITTED"), name
    scheduled = await _coordinate_to_scheduled(http, coordinator, order["id"], experts)
    assert scheduled["serviceState"] == "SCHEDULED"
    again = await step(http, coordinator, "acceptConsultCoordination", id=order["id"])
    assert (again["__typename"], again["currentState"]) == ("IllegalTransition", "SCHEDULED")
    expert = await doctor_token(app, http, experts[0])
    early = await step(http, expert, "writeConsultOpinion", id=order["id"], body="x")
    assert (early["__typename"], early["refusal"]) == ("OrderRefused", "NOT_YET")
    # the patient can no longer cancel once the coordinator took it on
    cancel = await step(http, patient.token, "cancelConsultOrder", id=order["id"])
    assert (cancel["__typename"], cancel["currentState"]) == ("IllegalTransition", "SCHEDULED")
    assert (await read(http, patient, order["id"]))["serviceState"] == "SCHEDULED"


async def test_coordinators_reach_only_team_and_mdt_orders(app: Starlette, http: httpx.AsyncClient) -> None:
    patient = await new_patient(app, http)
    rapid = await create_ok(http, patient, "RAPID", complaint="咳嗽")
    await pay(http, patient, rapid["id"])
    coordinator = await coordinator_token(app, http)
    assert codes(
        await gql(http, "query($id: ID!) { staffConsultOrder(id: $id) { id } }", {"id": rapid["id"]}, coordinator)
    ) == ["FORBIDDEN"]
    attempt = "mutation($id: ID!) { acceptConsultCoordination(id: $id) { __typename } }"
    assert codes(await gql(http, attempt, {"id": rapid["id"]}, coordinator)) == ["FORBIDDEN"]
    listed = await ok(http, COORDINATION, {"s": None}, coordinator)
    assert {n["service"] for n in listed["coordinationConsultOrders"]["nodes"]} <= {"TEAM", "MDT"}


async def test_team_and_mdt_input_is_checked(app: Starlette, http: httpx.AsyncClient) -> None:
    team, _ = await team_with_members(app)
    patient = await new_patient(app, http)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("TEAM", {"teamId": str(team), "complaint": "x"}, "preferredTimes"),
        (
            "TEAM",
            {"teamId": str(team), "complaint": "x", "preferredTimes": [(ANCHOR - timedelta(days=1)).isoformat()]},
            "preferredTimes",
        ),
        (
            "TEAM",
            {"teamId": str(team), "complaint": "x", "preferredTimes": [(ANCHOR + timedelta(days=61)).isoformat()]},
            "preferredTimes",
        ),
        ("TEAM", {"teamId": str(team), "preferredTimes": [MEETING.isoformat()]}, "complaint"),
        ("TEAM", {"complaint": "x", "preferredTimes": [MEETING.isoformat()]}, "teamId"),
        ("MDT", {"departmentIds": ["1"], "complaint": "x", "preferredTimes": [MEETING.isoformat()]}, "departmentIds"),
        (
            "MDT",
            {"departmentIds": ["1", "1"], "complaint": "x", "preferredTimes": [MEETING.isoformat()]},
            "departmentIds",
        ),
        (
            "MDT",
            {"departmentIds": ["1", "99999"], "complaint": "x", "preferredTimes": [MEETING.isoformat()]},
            "departmentIds",
        ),
        ("MDT", {"complaint": "x", "preferredTimes": [MEETING.isoformat()]}, "departmentIds"),
    ]
    for service, fields, field in cases:
        result = await create(http, patient, service, **fields)
        assert (result["__typename"], result["field"]) == ("ValidationFailed", field), (service, fields)
