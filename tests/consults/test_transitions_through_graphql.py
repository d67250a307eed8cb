"""Every service action, from every service state, through GraphQL: a move the rules allow happens;
one they refuse answers IllegalTransition with the current state, and changes nothing at all.

Orders are placed through GraphQL, then put into the state under test directly in the database
(with what the step needs besides: the doctor, the experts, a past meeting time, a drafted opinion),
so that the state is the only reason an action can be refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from consults_support import (
    Patient,
    coordinator_token,
    create_ok,
    department_of,
    doctor_token,
    doctors_in,
    new_patient,
    rapid_doctors,
    rows,
    step,
    transitions,
)
from sqlalchemy import text
from starlette.applications import Starlette

from datasources.consults.service import OPINION_CONTEXT
from domain.consults import SERVICE_MOVES, Action, IllegalTransition, ServiceState, StateField, next_state
from domain.enums import ConsultService
from domain.health_records import VisitKind
from support import ANCHOR


@dataclass(frozen=True)
class Move:
    mutation: str
    action: Action
    by: str  # patient, doctor or coordinator
    arguments: tuple[tuple[str, Any], ...] = ()


DIRECT = [
    Move("acceptConsultOrder", Action.ACCEPT, "doctor"),
    Move("declineConsultOrder", Action.DECLINE, "doctor", (("reason", "今日停诊"),)),
    Move("completeConsultOrder", Action.COMPLETE, "doctor"),
    Move("cancelConsultOrder", Action.CANCEL, "patient"),
]
RAPID = [
    Move("acceptRapidConsult", Action.ACCEPT, "doctor"),
    Move("completeConsultOrder", Action.COMPLETE, "doctor"),
    Move("cancelConsultOrder", Action.CANCEL, "patient"),
]
COORDINATED = [
    Move("acceptConsultCoordination", Action.ACCEPT, "coordinator"),
    Move("rejectConsultOrder", Action.REJECT, "coordinator", (("reason", "无法安排"),)),
    Move("markConsultPatientContacted", Action.CONTACT, "coordinator"),
    Move("assignConsultExperts", Action.ASSIGN_EXPERTS, "coordinator", (("staffIds", "EXPERTS"),)),
    Move(
        "scheduleConsultMeeting",
        Action.SCHEDULE,
        "coordinator",
        (("startsAt", (ANCHOR + timedelta(days=1)).isoformat()),),
    ),
    Move("markConsultHeld", Action.MARK_HELD, "coordinator"),
    Move("publishConsultOpinion", Action.PUBLISH_OPINION, "doctor"),
    Move("cancelConsultOrder", Action.CANCEL, "patient"),
]
FLOWS = {ConsultService.FOLLOW_UP: DIRECT, ConsultService.RAPID: RAPID, ConsultService.MDT: COORDINATED}


@dataclass
class World:
    app: Starlette
    http: httpx.AsyncClient
    patient: Patient
    doctor_id: int
    other_doctor_id: int
    departments: list[int]
    tokens: dict[str, str]


@pytest.fixture(scope="module")
async def world(app: Starlette) -> AsyncIterator[World]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield await _world(app, http)


async def _world(app: Starlette, http: httpx.AsyncClient) -> World:
    doctor_id = (await rapid_doctors(app))[0]
    department = await department_of(app, doctor_id)
    name = (await rows(app, "SELECT name FROM departments WHERE id = :d", d=department))[0]["name"]
    other = 1 if department != 1 else 2
    patient = await new_patient(app, http, visits=[(VisitKind.OUTPATIENT, name, 10)])
    tokens = {
        "patient": patient.token,
        "doctor": await doctor_token(app, http, doctor_id),
        "coordinator": await coordinator_token(app, http),
    }
    return World(app, http, patient, doctor_id, (await doctors_in(app, other))[0], [department, other], tokens)


async def _order_in(world: World, service: ConsultService, state: ServiceState) -> str:
    by_service: dict[ConsultService, dict[str, Any]] = {
        ConsultService.FOLLOW_UP: {"staffId": str(world.doctor_id)},
        ConsultService.RAPID: {"complaint": "咳嗽"},
        ConsultService.MDT: {
            "complaint": "会诊",
            "departmentIds": [str(d) for d in world.departments],
            "preferredTimes": [(ANCHOR + timedelta(days=2)).isoformat()],
        },
    }
    fields = by_service[service]
    order_id = str((await create_ok(world.http, world.patient, service.value, **fields))["id"])
    payment = {ServiceState.AWAITING_PAYMENT: "UNPAID", ServiceState.CANCELLED: "CLOSED"}.get(state, "PAID")
    resources = world.app.state.resources
    async with resources.sessions() as db, db.begin():
        await db.execute(
            text(
                "UPDATE consult_orders SET service_state = :state, payment_state = :payment, staff_id = :staff, "
                "meeting_at = :meeting, paid_at = :paid WHERE id = :id"
            ),
            {
                "state": state.value,
                "payment": payment,
                "staff": world.doctor_id if service is not ConsultService.MDT else None,
                "meeting": ANCHOR - timedelta(hours=1) if service is ConsultService.MDT else None,
                "paid": ANCHOR if payment == "PAID" else None,
                "id": int(order_id),
            },
        )
        if service is ConsultService.MDT:
            for position, staff_id in enumerate((world.doctor_id, world.other_doctor_id)):
                await db.execute(
                    text("INSERT INTO consult_order_experts (order_id, staff_id, position) VALUES (:o, :s, :p)"),
                    {"o": int(order_id), "s": staff_id, "p": position},
                )
            await db.execute(
                text(
                    "INSERT INTO consult_opinions (order_id, body_cipher, author_staff_id, created_at, updated_at) "
                    "VALUES (:o, :b, :s, :t, :t)"
                ),
                {
                    "o": int(order_id),
                    "b": resources.cipher.encrypt("意见草稿", context=OPINION_CONTEXT),
                    "s": world.doctor_id,
                    "t": ANCHOR if resources.engine.dialect.name != "sqlite" else ANCHOR.replace(tzinfo=None),
                },
            )
        if service is ConsultService.RAPID:
            await db.execute(text("DELETE FROM rapid_duty WHERE staff_id = :s"), {"s": world.doctor_id})
            await db.execute(
                text("INSERT INTO rapid_duty (staff_id, on_duty, changed_at) VALUES (:s, true, :t)"),
                {
                    "s": world.doctor_id,
                    "t": ANCHOR if resources.engine.dialect.name != "sqlite" else ANCHOR.replace(tzinfo=None),
                },
            )
    return order_id


async def _try(world: World, move: Move, order_id: str) -> dict[str, Any]:
    arguments = {
        name: [str(world.doctor_id), str(world.other_doctor_id)] if value == "EXPERTS" else value
        for name, value in move.arguments
    }
    return await step(world.http, world.tokens[move.by], move.mutation, id=order_id, **arguments)


async def _state(world: World, order_id: str) -> dict[str, Any]:
    return (
        await rows(
            world.app,
            "SELECT payment_state, service_state, refund_state FROM consult_orders WHERE id = :id",
            id=int(order_id),
        )
    )[0]


CASES = [(service, state) for service in FLOWS for state in ServiceState]


@pytest.mark.parametrize(("service", "state"), CASES, ids=[f"{s.value}-{st.value}" for s, st in CASES])
async def test_each_action_from_this_state(world: World, service: ConsultService, state: ServiceState) -> None:
    moves = FLOWS[service]
    legal = {
        m.action: next_state(StateField.SERVICE, service, state.value, m.action)
        for m in moves
        if (state, m.action) in SERVICE_MOVES[service]
    }
    # every refused action on one order: each must leave it exactly as it was
    order_id = await _order_in(world, service, state)
    before = (await _state(world, order_id), await transitions(world.app, order_id))
    for move in moves:
        if move.action in legal:
            continue
        with pytest.raises(IllegalTransition):
            next_state(StateField.SERVICE, service, state.value, move.action)
        result = await _try(world, move, order_id)
        assert result["__typename"] == "IllegalTransition", (move.mutation, result)
        assert (result["stateField"], result["currentState"], result["action"], result["code"]) == (
            "SERVICE",
            state.value,
            move.action.value,
            "ILLEGAL_TRANSITION",
        )
        assert (await _state(world, order_id), await transitions(world.app, order_id)) == before, move.mutation
    # every allowed action on an order of its own: it happens, and is logged once
    for move in moves:
        if move.action not in legal:
            continue
        order_id = await _order_in(world, service, state)
        result = await _try(world, move, order_id)
        assert result["__typename"] == "ConsultOrderSuccess", (move.mutation, result)
        assert result["order"]["serviceState"] == legal[move.action], move.mutation
        logged = [t for t in await transitions(world.app, order_id) if t["action"] == move.action.value]
        assert [(t["field"], t["from_state"], t["to_state"]) for t in logged] == [
            ("SERVICE", state.value, legal[move.action])
        ], move.mutation
