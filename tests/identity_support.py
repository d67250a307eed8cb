"""Helpers for identity tests: sign-in through the sandbox, staff accounts, a movable clock, profiles."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pyotp
from starlette.applications import Starlette

from datasources.identity.staff_accounts import create_staff_account
from domain.enums import AdminRole
from support import ANCHOR

STAFF_PASSWORD = "Correct-horse-battery-9"


async def gql(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


def sandbox_code(user: str) -> str:
    """A wx.login code as the WeChat sandbox accepts it: `<user>.<nonce>`, valid once."""
    return f"{user}.{uuid.uuid4().hex[:12]}"


LOGIN = "mutation($code: String!) { login(code: $code) { token expiresAt account { id } } }"


async def patient_login(http: httpx.AsyncClient, user: str) -> str:
    body = await gql(http, LOGIN, {"code": sandbox_code(user)})
    assert "errors" not in body, body
    token: str = body["data"]["login"]["token"]
    return token


@dataclass(frozen=True)
class StaffUser:
    account_id: int
    username: str
    secret: str

    def code(self, at: datetime) -> str:
        return pyotp.TOTP(self.secret).at(at)


async def make_staff(
    app: Starlette, roles: list[AdminRole], *, active: bool = True, staff_id: int | None = None
) -> StaffUser:
    resources = app.state.resources
    username = f"staff-{uuid.uuid4().hex[:8]}"
    async with resources.sessions() as db, db.begin():
        created = await create_staff_account(
            db,
            username=username,
            password=STAFF_PASSWORD,
            roles=roles,
            cipher=resources.cipher,
            now=ANCHOR,
            staff_id=staff_id,
        )
        created.account.active = active
    secret = pyotp.parse_uri(created.totp_uri).secret
    return StaffUser(created.account.id, username, secret)


STAFF_LOGIN = """
mutation($u: String!, $p: String!, $c: String!) {
  staffLogin(username: $u, password: $p, totpCode: $c) { token expiresAt idleTimeoutMinutes account { id roles } }
}
"""


async def staff_login(http: httpx.AsyncClient, user: StaffUser, at: datetime = ANCHOR) -> str:
    body = await gql(http, STAFF_LOGIN, {"u": user.username, "p": STAFF_PASSWORD, "c": user.code(at)})
    assert "errors" not in body, body
    token: str = body["data"]["staffLogin"]["token"]
    return token


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class ClockedApp:
    app: Starlette
    http: httpx.AsyncClient
    clock: Clock


PROFILE_FIELDS = """id name maskedName gender birthDate age relation idNumber mobile isDefault
  healthDataConsent { granted version givenBy guardianName withdrawnAt }"""
ADD = f"""mutation($input: ProfileInput!) {{ addProfile(input: $input) {{
  __typename
  ... on ProfileSuccess {{ profile {{ {PROFILE_FIELDS} }} account {{ defaultProfileId profiles {{ id }} }} }}
  ... on ValidationFailed {{ code field reason detail message }} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: ProfileInput!) {{ updateProfile(id: $id, input: $input) {{
  __typename ... on ProfileSuccess {{ profile {{ {PROFILE_FIELDS} }} }}
  ... on ValidationFailed {{ field reason }} }} }}"""
REMOVE = """mutation($id: ID!) { removeProfile(id: $id) {
  __typename ... on RemoveProfileSuccess { removedProfileId account { defaultProfileId profiles { id } } } } }"""
SET_DEFAULT = (
    "mutation($id: ID!) { setDefaultProfile(id: $id) { __typename ... on ProfileSuccess { profile { isDefault } } } }"
)
READ = f"query($id: ID!) {{ profile(id: $id) {{ {PROFILE_FIELDS} }} }}"
CONSENT = """mutation($id: ID!, $version: String!, $guardian: String) {
  giveHealthDataConsent(profileId: $id, version: $version, guardianName: $guardian) {
    __typename ... on ProfileSuccess { profile { healthDataConsent { granted version givenBy guardianName } } }
    ... on ValidationFailed { field reason } } }"""
WITHDRAW = """mutation($id: ID!) { withdrawHealthDataConsent(profileId: $id) {
  ... on ProfileSuccess { profile { healthDataConsent { granted withdrawnAt } } } } }"""

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(body: str) -> str:
    """An 18-character number with its GB 11643 check character (computed here, not by the app)."""
    total = sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


ADULT = resident_id("11010519800523001")  # born 1980-05-23, sequence 001: male
CHILD = resident_id("31011520150301002")  # born 2015-03-01: under 14 at the test clock (2026-11-15), female


def profile_input(number: str = ADULT, **changes: Any) -> dict[str, Any]:
    return {"name": "王小明", "idNumber": number, "mobile": "+86 138-1234-5678", "relation": "SELF", **changes}
