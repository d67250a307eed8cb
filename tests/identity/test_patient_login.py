"""Patient sign-in through WeChat's code2Session (the sandbox), sessions, logout, devLogin."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
from identity_support import LOGIN, ClockedApp, codes, gql, patient_login, sandbox_code
from sqlalchemy import func, select

from app import create_app
from datasources.db.tables import AuditEntry, PatientAccount
from settings import Environment, Settings

ME = "{ me { id profiles { id } } }"


async def _accounts(app: Any) -> int:
    async with app.state.resources.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(PatientAccount)) or 0)


async def test_the_same_wechat_user_gets_the_same_account(http: httpx.AsyncClient) -> None:
    first = await gql(http, LOGIN, {"code": sandbox_code("login-same")})
    second = await gql(http, LOGIN, {"code": sandbox_code("login-same")})
    other = await gql(http, LOGIN, {"code": sandbox_code("login-other")})
    ids = [b["data"]["login"]["account"]["id"] for b in (first, second, other)]
    assert ids[0] == ids[1] != ids[2]
    me = await gql(http, ME, token=second["data"]["login"]["token"])
    assert me["data"]["me"]["id"] == ids[0]


async def test_a_reused_or_invalid_code_is_unauthenticated_and_creates_nothing(
    http: httpx.AsyncClient, app: Any
) -> None:
    code = sandbox_code("login-reuse")
    assert "errors" not in await gql(http, LOGIN, {"code": code})
    before = await _accounts(app)
    for bad in (code, "no-dot-in-this-code", "risk-user.abcdef", "x" * 200):
        body = await gql(http, LOGIN, {"code": bad})
        assert codes(body) == ["UNAUTHENTICATED"], body
        assert body["data"] is None
    assert await _accounts(app) == before


async def test_the_wechat_session_key_never_reaches_the_client(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": LOGIN, "variables": {"code": sandbox_code("login-key")}})
    assert "session_key" not in response.text and "sessionKey" not in response.text
    introspection = await gql(http, '{ __type(name: "PatientSession") { fields { name } } }')
    assert {f["name"] for f in introspection["data"]["__type"]["fields"]} == {"token", "expiresAt", "account"}


async def test_tampered_and_garbage_tokens_are_unauthenticated(http: httpx.AsyncClient) -> None:
    token = await patient_login(http, "login-tamper")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "patient:1"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    for bad in (f"{header}.{forged}.{signature}", "garbage", token[:-2] + "xx"):
        assert codes(await gql(http, ME, token=bad)) == ["UNAUTHENTICATED"]
    assert codes(await gql(http, ME)) == ["UNAUTHENTICATED"]


async def test_sessions_expire(clocked: ClockedApp, settings: Settings) -> None:
    token = await patient_login(clocked.http, "login-expiry")
    clocked.clock.advance(hours=settings.patient_session_hours - 1)
    assert "errors" not in await gql(clocked.http, ME, token=token)
    clocked.clock.advance(hours=1)
    assert codes(await gql(clocked.http, ME, token=token)) == ["UNAUTHENTICATED"]


async def test_logout_revokes_the_session(http: httpx.AsyncClient) -> None:
    token = await patient_login(http, "login-logout")
    other = await patient_login(http, "login-logout")
    assert (await gql(http, "mutation { logout }", token=token))["data"] == {"logout": True}
    assert codes(await gql(http, ME, token=token)) == ["UNAUTHENTICATED"]
    assert "errors" not in await gql(http, ME, token=other), "other sessions of the account stay valid"
    assert codes(await gql(http, "mutation { logout }")) == ["UNAUTHENTICATED"]


async def test_logins_are_audited(http: httpx.AsyncClient, app: Any) -> None:
    body = await gql(http, LOGIN, {"code": sandbox_code("login-audited")}, token=None)
    account_id = body["data"]["login"]["account"]["id"]
    async with app.state.resources.sessions() as db:
        rows = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "patient.login"))).all()
    assert any(r.actor_kind == "PATIENT" and r.actor_id == account_id and r.result == "OK" for r in rows)


DEV_LOGIN = "mutation { devLogin(demoPatient: 2) { token account { profiles { name relation idNumber mobile } } } }"


async def test_dev_login_gives_a_demo_patient_with_masked_profiles(http: httpx.AsyncClient) -> None:
    body = await gql(http, DEV_LOGIN)
    profiles = body["data"]["devLogin"]["account"]["profiles"]
    assert [p["relation"] for p in profiles] == ["SELF", "PARENT"]
    for p in profiles:
        assert p["idNumber"].startswith("110105********") and len(p["idNumber"]) == 18
        assert p["mobile"][3:7] == "****"
    assert codes(await gql(http, "mutation { devLogin(demoPatient: 99) { token } }")) == ["BAD_USER_INPUT"]


async def test_dev_login_does_not_exist_in_production(settings: Settings) -> None:
    production = settings.model_copy(update={"env": Environment.PROD, "wechat_api_base_url": "http://127.0.0.1:9"})
    app = create_app(production)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        body = await gql(http, DEV_LOGIN)
        assert "Cannot query field 'devLogin'" in body["errors"][0]["message"]
        assert (await http.get("/graphql", headers={"accept": "text/html"})).status_code != 200
