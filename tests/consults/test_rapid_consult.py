"""极速咨询 end to end: the entry's queue length and expected wait, the queue of the on-duty GP team,
exactly one winner when two doctors accept at once, and the automatic refund past the deadline."""

from __future__ import annotations

import asyncio

import httpx
from consults_support import (
    Patient,
    consult_row,
    create_ok,
    doctor_token,
    new_patient,
    ok,
    order_of,
    pay,
    rapid_doctors,
    read,
    staff_offering,
    step,
    transitions,
)
from identity_support import ClockedApp, codes, gql
from starlette.applications import Starlette

from support import ANCHOR

STATUS = (
    "{ rapidConsultStatus { queueLength doctorsOnDuty expectedWaitMinutes responseDeadlineMinutes price { cents } } }"
)
QUEUE = "{ rapidConsultQueue(first: 50) { totalCount nodes { id serviceState patient { maskedName } } } }"
DUTY = "mutation($on: Boolean!) { setRapidConsultDuty(onDuty: $on) }"


async def _queued(app: Starlette, http: httpx.AsyncClient) -> tuple[Patient, str]:
    patient = await new_patient(app, http)
    order = await create_ok(http, patient, "RAPID", complaint="发热两天，38.5℃")
    paid = await pay(http, patient, order["id"])
    assert paid["serviceState"] == "QUEUED"
    return patient, str(order["id"])


async def _on_duty(app: Starlette, http: httpx.AsyncClient, staff_id: int) -> str:
    token = await doctor_token(app, http, staff_id)
    assert (await ok(http, DUTY, {"on": True}, token))["setRapidConsultDuty"] is True
    return token


async def test_the_entry_shows_queue_length_and_expected_wait(app: Starlette, http: httpx.AsyncClient) -> None:
    doctors = await rapid_doctors(app)
    tokens = [await doctor_token(app, http, staff_id) for staff_id in doctors[:2]]
    for token in tokens:
        await ok(http, DUTY, {"on": False}, token)
    status = (await ok(http, STATUS, {}, None))["rapidConsultStatus"]
    if status["doctorsOnDuty"] == 0:
        assert status["expectedWaitMinutes"] is None
    assert (status["responseDeadlineMinutes"], status["price"]["cents"]) == (15, 1000)
    await _queued(app, http)
    await ok(http, DUTY, {"on": True}, tokens[0])
    more = (await ok(http, STATUS, {}, None))["rapidConsultStatus"]
    assert more["queueLength"] == status["queueLength"] + 1
    assert more["doctorsOnDuty"] >= 1 and more["expectedWaitMinutes"] >= 1
    await ok(http, DUTY, {"on": True}, tokens[1])
    both = (await ok(http, STATUS, {}, None))["rapidConsultStatus"]
    assert both["doctorsOnDuty"] == more["doctorsOnDuty"] + 1
    assert both["expectedWaitMinutes"] <= more["expectedWaitMinutes"]


async def test_a_rapid_consult_from_queue_to_completion(app: Starlette, http: httpx.AsyncClient) -> None:
    patient, order_id = await _queued(app, http)
    doctor_id = (await rapid_doctors(app))[0]
    doctor = await doctor_token(app, http, doctor_id)
    await ok(http, DUTY, {"on": False}, doctor)
    queue = (await ok(http, QUEUE, {}, doctor))["rapidConsultQueue"]
    assert order_id in [n["id"] for n in queue["nodes"]]
    assert {n["serviceState"] for n in queue["nodes"]} == {"QUEUED"}
    off_duty = await step(http, doctor, "acceptRapidConsult", id=order_id)
    assert (off_duty["__typename"], off_duty["refusal"]) == ("OrderRefused", "NOT_ON_DUTY")
    await ok(http, DUTY, {"on": True}, doctor)
    taken = order_of(await step(http, doctor, "acceptRapidConsult", id=order_id))
    assert (taken["serviceState"], taken["staff"]["id"]) == ("IN_CONSULTATION", str(doctor_id))
    assert order_id not in [n["id"] for n in (await ok(http, QUEUE, {}, doctor))["rapidConsultQueue"]["nodes"]]
    done = order_of(await step(http, doctor, "completeConsultOrder", id=order_id))
    assert done["serviceState"] == "COMPLETED"
    consult = await consult_row(app, order_id)
    assert (consult["status"], consult["staff_id"]) == ("COMPLETED", doctor_id)
    mine = await read(http, patient, order_id)
    assert mine["staff"]["id"] == str(doctor_id)


async def test_two_doctors_accepting_at_once_exactly_one_wins(app: Starlette, http: httpx.AsyncClient) -> None:
    _, order_id = await _queued(app, http)
    first, second = (await rapid_doctors(app))[:2]
    tokens = [await _on_duty(app, http, first), await _on_duty(app, http, second)]
    results = await asyncio.gather(*(step(http, token, "acceptRapidConsult", id=order_id) for token in tokens))
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["ConsultOrderSuccess", "IllegalTransition"]
    loser = next(r for r in results if r["__typename"] == "IllegalTransition")
    assert (loser["currentState"], loser["action"], loser["code"]) == (
        "IN_CONSULTATION",
        "ACCEPT",
        "ILLEGAL_TRANSITION",
    )
    winner = next(r for r in results if r["__typename"] == "ConsultOrderSuccess")["order"]["staff"]["id"]
    accepted = [t for t in await transitions(app, order_id) if t["action"] == "ACCEPT"]
    assert len(accepted) == 1
    assert (await consult_row(app, order_id))["staff_id"] == int(winner)


async def test_many_doctors_racing_for_many_orders_take_each_once(app: Starlette, http: httpx.AsyncClient) -> None:
    orders = [(await _queued(app, http))[1] for _ in range(3)]
    tokens = [await _on_duty(app, http, staff_id) for staff_id in (await rapid_doctors(app))[:4]]
    results = await asyncio.gather(
        *(step(http, token, "acceptRapidConsult", id=order_id) for order_id in orders for token in tokens)
    )
    assert sum(r["__typename"] == "ConsultOrderSuccess" for r in results) == len(orders)
    for order_id in orders:
        assert len([t for t in await transitions(app, order_id) if t["action"] == "ACCEPT"]) == 1


async def test_doctors_outside_the_gp_team_cannot_take_rapid_consults(app: Starlette, http: httpx.AsyncClient) -> None:
    _, order_id = await _queued(app, http)
    gp = set(await rapid_doctors(app))
    outsider = (await staff_offering(app, "FOLLOW_UP"))[0]
    assert outsider not in gp
    token = await doctor_token(app, http, outsider)
    assert codes(await gql(http, QUEUE, {}, token)) == ["FORBIDDEN"]
    assert codes(await gql(http, DUTY, {"on": True}, token)) == ["FORBIDDEN"]
    attempt = "mutation($id: ID!) { acceptRapidConsult(id: $id) { __typename } }"
    assert codes(await gql(http, attempt, {"id": order_id}, token)) == ["FORBIDDEN"]


async def test_a_rapid_consult_nobody_takes_on_is_refunded_automatically(clocked: ClockedApp) -> None:
    app, http = clocked.app, clocked.http
    patient, order_id = await _queued(app, http)
    order = await read(http, patient, order_id)
    assert order["responseDeadline"] == ANCHOR.replace(minute=15).isoformat()
    clocked.clock.advance(minutes=14)
    await app.state.resources.consults.run_jobs(now=clocked.clock())
    assert (await read(http, patient, order_id))["serviceState"] == "QUEUED"
    clocked.clock.advance(minutes=2)
    report = await app.state.resources.consults.run_jobs(now=clocked.clock())
    assert report.missed_deadlines >= 1
    refunded = await read(http, patient, order_id)
    assert (refunded["serviceState"], refunded["paymentState"], refunded["refundState"]) == (
        "EXPIRED",
        "REFUNDED",
        "SUCCEEDED",
    )
    assert refunded["refund"]["reason"] == "超时未接诊，全额退款"
    assert [e["title"] for e in refunded["timeline"]][-2:] == ["超时未接诊，已为您全额退款", "退款成功，款项已原路退回"]
    assert (await consult_row(app, order_id))["status"] == "REFUNDED"
    moved = await transitions(app, order_id)
    expired = [t for t in moved if t["action"] == "MISS_DEADLINE"]
    assert expired == [
        {
            "field": "SERVICE",
            "from_state": "QUEUED",
            "to_state": "EXPIRED",
            "action": "MISS_DEADLINE",
            "actor_kind": "SYSTEM",
            "actor_id": "consult-jobs",
            "reason": "超时未接诊，全额退款",
        }
    ]
