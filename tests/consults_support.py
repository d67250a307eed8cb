"""Helpers for consult-order tests: patients with a consented profile and HIS visits, staff accounts
for doctors and coordinators, and the GraphQL documents of every step."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from identity_support import ADD, CONSENT, gql, make_staff, patient_login, profile_input, resident_id, staff_login
from sqlalchemy import text
from starlette.applications import Starlette

from datasources.his.embedded import EmbeddedHis, encounter
from domain.enums import AdminRole
from domain.health_records import VisitKind
from support import ANCHOR

ORDER = """id orderNo service serviceTitle paymentState serviceState refundState statusText price { cents }
  createdAt payBefore paidAt responseDeadline acceptedAt completedAt meetingAt profileId
  patient { name maskedName gender age }
  appointment { complaint history reportIds preferredTimes }
  consent { version acceptedAt }
  staff { id name } team { id name } department { id name } departments { id name } experts { id name }
  refund { amount { cents } state reason refundedAt }
  timeline { at title detail }
  videoEntry { url expiresAt }
  opinion { body publishedAt writtenBy { id name } authors { id name } }
  rating review"""

PAYMENT = "appId timeStamp nonceStr package signType paySign"

RESULT = f"""__typename
  ... on ConsultOrderSuccess {{ order {{ {ORDER} }} }}
  ... on IllegalTransition {{ stateField currentState action code message }}
  ... on OrderRefused {{ refusal code message }}
  ... on ValidationFailed {{ field reason message }}"""

CREATE = f"""mutation($input: CreateConsultOrderInput!) {{ createConsultOrder(input: $input) {{ __typename
  ... on CreateConsultOrderSuccess {{ replayed order {{ {ORDER} }} payment {{ {PAYMENT} }} }}
  ... on OrderRefused {{ refusal code message }}
  ... on ValidationFailed {{ field reason message }} }} }}"""

READ = f"query($id: ID!) {{ consultOrder(id: $id) {{ {ORDER} }} }}"
TRANSITIONS = "transitions { field fromState toState action actorKind actorId reason reference at }"
STAFF_READ = f"query($id: ID!) {{ staffConsultOrder(id: $id) {{ {ORDER} {TRANSITIONS} }} }}"


def mutation(name: str, **arguments: str) -> str:
    """A mutation document answering the ConsultOrderResult union: `mutation("acceptConsultOrder", id="ID!")`."""
    declared = ", ".join(f"${k}: {v}" for k, v in arguments.items())
    passed = ", ".join(f"{k}: ${k}" for k in arguments)
    return f"mutation({declared}) {{ {name}({passed}) {{ {RESULT} }} }}"


def key() -> str:
    return uuid.uuid4().hex


async def ok(http: httpx.AsyncClient, document: str, variables: dict[str, Any], token: str | None) -> dict[str, Any]:
    body = await gql(http, document, variables, token)
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def step(http: httpx.AsyncClient, token: str, name: str, **variables: Any) -> dict[str, Any]:
    """Run one ConsultOrderResult mutation; `id` is declared ID!, other arguments by their value's type."""
    types = {"id": "ID!", "reason": "String", "note": "String", "body": "String!", "rating": "Int!", "review": "String"}
    types |= {"staffIds": "[ID!]!", "startsAt": "DateTime!", "amountCents": "Int"}
    if name in ("declineConsultOrder", "rejectConsultOrder", "refundConsultOrder"):
        types["reason"] = "String!"
    document = mutation(name, **{k: types[k] for k in variables})
    result: dict[str, Any] = (await ok(http, document, variables, token))[name]
    return result


def order_of(result: dict[str, Any]) -> dict[str, Any]:
    assert result["__typename"] == "ConsultOrderSuccess", result
    order: dict[str, Any] = result["order"]
    return order


@dataclass(frozen=True)
class Patient:
    token: str
    profile_id: str
    his_id: str


async def new_patient(
    app: Starlette,
    http: httpx.AsyncClient,
    *,
    visits: list[tuple[VisitKind, str, int]] | None = None,
    consent: bool = True,
    his: bool = True,
) -> Patient:
    """A signed-in patient with one profile (health-data consent given) whose HIS record holds `visits`
    ((kind, department name, days ago) relative to ANCHOR)."""
    token = await patient_login(http, f"consult-{uuid.uuid4().hex[:12]}")
    his_id = f"T{uuid.uuid4().hex[:12]}"
    changes = {"hisPatientId": his_id} if his else {}
    data = await ok(http, ADD, {"input": profile_input(resident_id("11010519800523001"), **changes)}, token)
    profile_id = str(data["addProfile"]["profile"]["id"])
    if consent:
        await ok(http, CONSENT, {"id": profile_id, "version": "1.0"}, token)
    embedded: EmbeddedHis = app.state.resources.visit_history
    embedded.remember(
        his_id,
        [
            encounter(f"{his_id}-{n}", kind, department, ANCHOR - timedelta(days=days))
            for n, (kind, department, days) in enumerate(visits or [])
        ],
    )
    return Patient(token, profile_id, his_id)


def order_input(patient: Patient, service: str, **fields: Any) -> dict[str, Any]:
    return {"idempotencyKey": key(), "service": service, "profileId": patient.profile_id, **fields}


async def create(http: httpx.AsyncClient, patient: Patient, service: str, **fields: Any) -> dict[str, Any]:
    data = await ok(http, CREATE, {"input": order_input(patient, service, **fields)}, patient.token)
    result: dict[str, Any] = data["createConsultOrder"]
    return result


async def create_ok(http: httpx.AsyncClient, patient: Patient, service: str, **fields: Any) -> dict[str, Any]:
    result = await create(http, patient, service, **fields)
    assert result["__typename"] == "CreateConsultOrderSuccess", result
    order: dict[str, Any] = result["order"]
    return order


async def pay(http: httpx.AsyncClient, patient: Patient, order_id: str) -> dict[str, Any]:
    """Pay in the WeChat Pay sandbox, which notifies the app through its endpoint."""
    return order_of(await step(http, patient.token, "devPayConsultOrder", id=order_id))


async def read(http: httpx.AsyncClient, patient: Patient, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = (await ok(http, READ, {"id": order_id}, patient.token))["consultOrder"]
    return order


async def staff_read(http: httpx.AsyncClient, token: str, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = (await ok(http, STAFF_READ, {"id": order_id}, token))["staffConsultOrder"]
    return order


async def rows(app: Starlette, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with app.state.resources.engine.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(text(sql), params)]


async def rapid_doctors(app: Starlette) -> list[int]:
    found = await rows(
        app,
        "SELECT s.id FROM staff s JOIN service_offerings o ON o.staff_id = s.id "
        "WHERE o.service = 'RAPID' AND o.active AND s.active ORDER BY s.id",
    )
    return [row["id"] for row in found]


async def staff_offering(app: Starlette, service: str, *, role: str = "DOCTOR", skip: int = 0) -> tuple[int, str]:
    """(staff id, department name) of an active staff member offering `service`."""
    found = await rows(
        app,
        "SELECT s.id, d.name FROM staff s JOIN service_offerings o ON o.staff_id = s.id "
        "JOIN departments d ON d.id = s.department_id "
        "WHERE o.service = :service AND o.active AND s.active AND s.role = :role ORDER BY s.id",
        service=service,
        role=role,
    )
    return found[skip]["id"], found[skip]["name"]


async def team_with_members(app: Starlette) -> tuple[int, list[int]]:
    team = (
        await rows(
            app,
            "SELECT t.id FROM teams t JOIN service_offerings o ON o.team_id = t.id "
            "WHERE o.service = 'TEAM' AND t.active ORDER BY t.id LIMIT 1",
        )
    )[0]["id"]
    members = await rows(
        app,
        "SELECT m.staff_id FROM team_members m JOIN staff s ON s.id = m.staff_id "
        "WHERE m.team_id = :team AND s.active AND s.role = 'DOCTOR' ORDER BY m.position",
        team=team,
    )
    return team, [row["staff_id"] for row in members]


async def doctors_in(app: Starlette, department_id: int) -> list[int]:
    found = await rows(
        app,
        "SELECT id FROM staff WHERE department_id = :d AND role = 'DOCTOR' AND active ORDER BY id",
        d=department_id,
    )
    return [row["id"] for row in found]


async def department_of(app: Starlette, staff_id: int) -> int:
    return int((await rows(app, "SELECT department_id FROM staff WHERE id = :s", s=staff_id))[0]["department_id"])


async def doctor_token(app: Starlette, http: httpx.AsyncClient, staff_id: int, at: datetime = ANCHOR) -> str:
    return await staff_login(http, await make_staff(app, [AdminRole.DOCTOR], staff_id=staff_id), at)


async def coordinator_token(app: Starlette, http: httpx.AsyncClient, at: datetime = ANCHOR) -> str:
    return await staff_login(http, await make_staff(app, [AdminRole.COORDINATOR]), at)


async def transitions(app: Starlette, order_id: str) -> list[dict[str, Any]]:
    return await rows(
        app,
        "SELECT field, from_state, to_state, action, actor_kind, actor_id, reason FROM consult_order_transitions "
        "WHERE order_id = :id ORDER BY id",
        id=int(order_id),
    )


async def consult_row(app: Starlette, order_id: str) -> dict[str, Any]:
    found = await rows(
        app,
        "SELECT c.* FROM consults c JOIN consult_orders o ON o.consult_id = c.id WHERE o.id = :id",
        id=int(order_id),
    )
    return found[0]
