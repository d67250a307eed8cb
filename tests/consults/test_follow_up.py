"""复诊续方 end to end: the staff grouped 医/护/药, eligibility against the HIS visit history, the
chosen staff member accepting, completing or declining (refund), the patient's rating counting in
the staff statistics, and what the other doctors cannot do."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from consults_support import (
    Patient,
    consult_row,
    create,
    create_ok,
    doctor_token,
    new_patient,
    ok,
    order_of,
    pay,
    read,
    rows,
    staff_offering,
    staff_read,
    step,
)
from identity_support import codes, gql
from starlette.applications import Starlette

from domain.health_records import VisitKind

GROUPS = """query($d: ID) { followUpStaff(departmentId: $d, firstPerRole: 3) { role label totalCount
  staff { id name roleLabel department { id } services { service price { cents } }
          stats { acceptedRecent positiveRateText reviewCount avgResponseMinutes } } } }"""
STATS = "query($id: ID!) { staffMember(id: $id) { stats { acceptedAllTime reviewCount positiveReviewCount } } }"


async def _eligible(app: Starlette, http: httpx.AsyncClient, skip: int = 0) -> tuple[Patient, int, str]:
    staff_id, department = await staff_offering(app, "FOLLOW_UP", skip=skip)
    patient = await new_patient(app, http, visits=[(VisitKind.OUTPATIENT, department, 30)])
    return patient, staff_id, department


async def test_follow_up_staff_come_grouped_by_role_with_their_statistics(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    groups = (await ok(http, GROUPS, {"d": None}, None))["followUpStaff"]
    assert [(g["role"], g["label"]) for g in groups] == [("DOCTOR", "医"), ("NURSE", "护"), ("PHARMACIST", "药")]
    for group in groups:
        assert group["totalCount"] >= len(group["staff"]) > 0
        for member in group["staff"]:
            assert member["roleLabel"] == group["label"]
            assert "FOLLOW_UP" in [s["service"] for s in member["services"]]
            assert member["stats"]["positiveRateText"]
    department = groups[0]["staff"][0]["department"]["id"]
    narrowed = (await ok(http, GROUPS, {"d": department}, None))["followUpStaff"]
    assert all(m["department"]["id"] == department for g in narrowed for m in g["staff"])


async def test_a_follow_up_from_order_to_rating(app: Starlette, http: httpx.AsyncClient) -> None:
    patient, staff_id, department = await _eligible(app, http)
    price = (
        await rows(
            app, "SELECT price_cents FROM service_offerings WHERE staff_id = :s AND service = 'FOLLOW_UP'", s=staff_id
        )
    )[0]
    before = (await ok(http, STATS, {"id": str(staff_id)}, None))["staffMember"]["stats"]
    order = await create_ok(http, patient, "FOLLOW_UP", staffId=str(staff_id), complaint="高血压复诊，续开降压药")
    assert order["price"]["cents"] == price["price_cents"]
    assert (order["staff"]["id"], order["department"]["name"]) == (str(staff_id), department)
    assert order["appointment"]["complaint"] == "高血压复诊，续开降压药"
    paid = await pay(http, patient, order["id"])
    assert (paid["paymentState"], paid["serviceState"], paid["statusText"]) == (
        "PAID",
        "WAITING",
        "已支付，等待医生接诊",
    )

    doctor = await doctor_token(app, http, staff_id)
    listed = await ok(http, "{ doctorConsultOrders(first: 50, states: [WAITING]) { nodes { id } } }", {}, doctor)
    assert order["id"] in [n["id"] for n in listed["doctorConsultOrders"]["nodes"]]
    seen = await staff_read(http, doctor, order["id"])
    assert seen["patient"]["name"] == "王小明" and seen["appointment"]["complaint"] == "高血压复诊，续开降压药"
    accepted = order_of(await step(http, doctor, "acceptConsultOrder", id=order["id"]))
    assert (accepted["serviceState"], accepted["acceptedAt"]) == ("IN_CONSULTATION", accepted["acceptedAt"])
    done = order_of(await step(http, doctor, "completeConsultOrder", id=order["id"]))
    assert done["serviceState"] == "COMPLETED" and done["completedAt"]

    rated = order_of(await step(http, patient.token, "rateConsultOrder", id=order["id"], rating=5, review="很耐心"))
    assert (rated["rating"], rated["review"]) == (5, "很耐心")
    again = await step(http, patient.token, "rateConsultOrder", id=order["id"], rating=1)
    assert (again["__typename"], again["refusal"], again["code"]) == ("OrderRefused", "ALREADY_DONE", "CONFLICT")

    mine = await read(http, patient, order["id"])
    assert [e["title"] for e in mine["timeline"]] == [
        "订单已提交，待支付",
        "已支付，等待医生接诊",
        "医生已接诊，问诊进行中",
        "问诊已完成",
    ]
    # the completed order counts in the statistics the staff lists show
    consult = await consult_row(app, order["id"])
    assert (consult["status"], consult["staff_id"], consult["rating"]) == ("COMPLETED", staff_id, 5)
    assert consult["first_response_at"] is not None and consult["completed_at"] is not None
    after = (await ok(http, STATS, {"id": str(staff_id)}, None))["staffMember"]["stats"]
    assert after["acceptedAllTime"] == before["acceptedAllTime"] + 1
    assert (after["reviewCount"], after["positiveReviewCount"]) == (
        before["reviewCount"] + 1,
        before["positiveReviewCount"] + 1,
    )


async def test_the_chosen_doctor_may_decline_and_the_patient_is_refunded(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    patient, staff_id, _ = await _eligible(app, http)
    order = await create_ok(http, patient, "FOLLOW_UP", staffId=str(staff_id))
    await pay(http, patient, order["id"])
    doctor = await doctor_token(app, http, staff_id)
    no_reason = await step(http, doctor, "declineConsultOrder", id=order["id"], reason=" ")
    assert (no_reason["__typename"], no_reason["field"]) == ("ValidationFailed", "reason")
    declined = order_of(await step(http, doctor, "declineConsultOrder", id=order["id"], reason="本周出诊已满"))
    assert (declined["serviceState"], declined["paymentState"], declined["refundState"]) == (
        "DECLINED",
        "REFUNDED",
        "SUCCEEDED",
    )
    assert declined["refund"]["amount"] == declined["price"]
    timeline = (await read(http, patient, order["id"]))["timeline"]
    assert timeline[-2] == {
        "at": timeline[-2]["at"],
        "title": "医生暂时无法接诊，已为您全额退款",
        "detail": "本周出诊已满",
    }
    assert timeline[-1]["title"] == "退款成功，款项已原路退回"
    assert (await consult_row(app, order["id"]))["status"] == "REFUNDED"


async def test_the_patient_may_cancel_before_the_doctor_accepts(app: Starlette, http: httpx.AsyncClient) -> None:
    patient, staff_id, _ = await _eligible(app, http)
    unpaid = await create_ok(http, patient, "FOLLOW_UP", staffId=str(staff_id))
    closed = order_of(await step(http, patient.token, "cancelConsultOrder", id=unpaid["id"]))
    assert (closed["serviceState"], closed["paymentState"], closed["refund"]) == ("CANCELLED", "CLOSED", None)
    paid = await create_ok(http, patient, "FOLLOW_UP", staffId=str(staff_id))
    await pay(http, patient, paid["id"])
    cancelled = order_of(await step(http, patient.token, "cancelConsultOrder", id=paid["id"], reason="已线下就诊"))
    assert (cancelled["serviceState"], cancelled["paymentState"]) == ("CANCELLED", "REFUNDED")
    assert cancelled["statusText"] == "订单已取消，已全额退款"
    # once taken on, it cannot be cancelled by the patient
    taken = await create_ok(http, patient, "FOLLOW_UP", staffId=str(staff_id))
    await pay(http, patient, taken["id"])
    await step(http, await doctor_token(app, http, staff_id), "acceptConsultOrder", id=taken["id"])
    refused = await step(http, patient.token, "cancelConsultOrder", id=taken["id"])
    assert (refused["__typename"], refused["currentState"], refused["action"]) == (
        "IllegalTransition",
        "IN_CONSULTATION",
        "CANCEL",
    )


@pytest.mark.parametrize(
    ("visits", "his", "refusal", "code"),
    [
        ([], True, "NO_RECENT_VISIT", "NOT_ELIGIBLE"),
        ([(VisitKind.OUTPATIENT, "DEPT", 181)], True, "NO_RECENT_VISIT", "NOT_ELIGIBLE"),  # outside the window
        ([(VisitKind.OUTPATIENT, "另一个科室", 10)], True, "NO_RECENT_VISIT", "NOT_ELIGIBLE"),
        ([(VisitKind.OTHER, "DEPT", 10)], True, "NO_RECENT_VISIT", "NOT_ELIGIBLE"),  # an online visit
        ([(VisitKind.OUTPATIENT, "DEPT", 10)], False, "NO_HIS_PATIENT_ID", "NOT_ELIGIBLE"),
    ],
    ids=["no-visit", "too-old", "other-department", "not-offline", "no-his-id"],
)
async def test_eligibility_is_checked_against_the_his_before_anything_is_written(
    app: Starlette, http: httpx.AsyncClient, visits: list[Any], his: bool, refusal: str, code: str
) -> None:
    staff_id, department = await staff_offering(app, "FOLLOW_UP")
    visits = [(kind, department if name == "DEPT" else name, days) for kind, name, days in visits]
    patient = await new_patient(app, http, visits=visits, his=his)
    before = await rows(app, "SELECT COUNT(*) AS n FROM consult_orders")
    result = await create(http, patient, "FOLLOW_UP", staffId=str(staff_id))
    assert (result["__typename"], result["refusal"], result["code"]) == ("OrderRefused", refusal, code)
    assert await rows(app, "SELECT COUNT(*) AS n FROM consult_orders") == before


@pytest.mark.parametrize("kind", [VisitKind.EMERGENCY, VisitKind.INPATIENT])
async def test_an_emergency_or_inpatient_visit_also_qualifies(
    app: Starlette, http: httpx.AsyncClient, kind: VisitKind
) -> None:
    staff_id, department = await staff_offering(app, "FOLLOW_UP")
    patient = await new_patient(app, http, visits=[(kind, department, 90)])
    assert (await create(http, patient, "FOLLOW_UP", staffId=str(staff_id)))[
        "__typename"
    ] == "CreateConsultOrderSuccess"


async def test_a_his_that_cannot_answer_refuses_the_order_for_now(app: Starlette, http: httpx.AsyncClient) -> None:
    patient, staff_id, _ = await _eligible(app, http)
    his = app.state.resources.visit_history
    his.unavailable = True
    try:
        result = await create(http, patient, "FOLLOW_UP", staffId=str(staff_id))
    finally:
        his.unavailable = False
    assert (result["refusal"], result["code"]) == ("HIS_UNAVAILABLE", "UNAVAILABLE")
    assert (await create(http, patient, "FOLLOW_UP", staffId=str(staff_id)))[
        "__typename"
    ] == "CreateConsultOrderSuccess"


async def test_health_data_consent_is_needed_to_order(app: Starlette, http: httpx.AsyncClient) -> None:
    staff_id, department = await staff_offering(app, "FOLLOW_UP")
    patient = await new_patient(app, http, visits=[(VisitKind.OUTPATIENT, department, 5)], consent=False)
    result = await create(http, patient, "FOLLOW_UP", staffId=str(staff_id))
    assert (result["refusal"], result["code"]) == ("HEALTH_DATA_CONSENT_REQUIRED", "BAD_USER_INPUT")


async def test_a_withdrawn_consent_refuses_the_order_as_the_health_record_does(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    staff_id, department = await staff_offering(app, "FOLLOW_UP")
    patient = await new_patient(app, http, visits=[(VisitKind.OUTPATIENT, department, 5)])
    withdraw = "mutation($id: ID!) { withdrawHealthDataConsent(profileId: $id) { __typename } }"
    await ok(http, withdraw, {"id": patient.profile_id}, patient.token)
    result = await create(http, patient, "FOLLOW_UP", staffId=str(staff_id))
    assert (result["refusal"], result["code"]) == ("HEALTH_DATA_CONSENT_REQUIRED", "BAD_USER_INPUT")
    record = await gql(
        http, "query($id: ID!) { healthRecord(profileId: $id) { stale } }", {"id": patient.profile_id}, patient.token
    )
    assert codes(record) == ["CONSENT_REQUIRED"]


async def test_input_errors_name_their_field(app: Starlette, http: httpx.AsyncClient) -> None:
    patient, staff_id, _ = await _eligible(app, http)
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "staffId"),
        ({"staffId": str(staff_id), "teamId": "1"}, "teamId"),
        ({"staffId": str(staff_id), "complaint": "痛" * 501}, "complaint"),
        ({"staffId": str(staff_id), "history": "史" * 2001}, "history"),
        ({"staffId": str(staff_id), "reportIds": ["ok-1", "not ok"]}, "reportIds"),
        ({"staffId": str(staff_id), "reportIds": [f"r{i}" for i in range(11)]}, "reportIds"),
        ({"staffId": str(staff_id), "preferredTimes": ["2026-11-20T02:00:00Z"]}, "preferredTimes"),
        ({"staffId": str(staff_id), "departmentIds": ["1", "2"]}, "departmentIds"),
    ]
    for fields, field in cases:
        result = await create(http, patient, "FOLLOW_UP", **fields)
        assert (result["__typename"], result["field"]) == ("ValidationFailed", field), fields
    not_offered = await create(http, patient, "FOLLOW_UP", staffId="999999")
    assert not_offered["refusal"] == "NOT_OFFERED"


async def test_only_the_chosen_doctor_reaches_the_order(app: Starlette, http: httpx.AsyncClient) -> None:
    patient, staff_id, _ = await _eligible(app, http)
    order = await create_ok(http, patient, "FOLLOW_UP", staffId=str(staff_id))
    await pay(http, patient, order["id"])
    other_id, _ = await staff_offering(app, "FOLLOW_UP", skip=1)
    other = await doctor_token(app, http, other_id)
    attempts = [
        "mutation($id: ID!) { acceptConsultOrder(id: $id) { __typename } }",
        "mutation($id: ID!) { completeConsultOrder(id: $id) { __typename } }",
        'mutation($id: ID!) { declineConsultOrder(id: $id, reason: "x") { __typename } }',
        "query($id: ID!) { staffConsultOrder(id: $id) { id } }",
    ]
    for document in attempts:
        assert codes(await gql(http, document, {"id": order["id"]}, other)) == ["FORBIDDEN"], document
    # the same answer for an order that does not exist
    assert codes(await gql(http, attempts[-1], {"id": "2000000000"}, other)) == ["FORBIDDEN"]
    # nor does another patient reach it
    stranger = await new_patient(app, http)
    mine = "query($id: ID!) { consultOrder(id: $id) { id } }"
    assert codes(await gql(http, mine, {"id": order["id"]}, stranger.token)) == ["FORBIDDEN"]
    assert (await read(http, patient, order["id"]))["serviceState"] == "WAITING"
