"""Staff sign-in: password + TOTP, lock-out, idle and absolute time-outs, the audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from identity_support import STAFF_LOGIN, STAFF_PASSWORD, ClockedApp, codes, gql, make_staff, staff_login
from sqlalchemy import select

from datasources.db.tables import AuditEntry
from domain.enums import AdminRole
from settings import Settings
from support import ANCHOR

STAFF_ME = "{ staffMe { username roles } }"
AUDIT = "query($action: String) { auditLog(first: 50, action: $action) { totalCount nodes { action result actorId } } }"
AUDIT_PAGE = """query($action: String, $after: String) { auditLog(first: 50, action: $action, after: $after) {
  pageInfo { hasNextPage endCursor } nodes { action result actorId } } }"""


async def _whole_audit_log(http: httpx.AsyncClient, action: str, token: str) -> list[dict[str, Any]]:
    """Every page: other tests sign staff in on the same database too."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await gql(http, AUDIT_PAGE, {"action": action, "after": after}, token=token))["data"]["auditLog"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


async def _attempt(http: httpx.AsyncClient, username: str, password: str, code: str) -> list[str]:
    return codes(await gql(http, STAFF_LOGIN, {"u": username, "p": password, "c": code}))


async def _audit_actions(app: Any, actor_id: int) -> list[str]:
    """The staff sign-in audit rows of one staff account, oldest first."""
    async with app.state.resources.sessions() as db:
        rows = await db.scalars(
            select(AuditEntry.action)
            .where(
                AuditEntry.actor_kind == "STAFF",
                AuditEntry.actor_id == str(actor_id),
                AuditEntry.action.startswith("staff.login"),
            )
            .order_by(AuditEntry.id)
        )
        return list(rows.all())


async def test_password_and_code_give_a_session(clocked: ClockedApp) -> None:
    user = await make_staff(clocked.app, [AdminRole.CONTENT_EDITOR])
    body = await gql(clocked.http, STAFF_LOGIN, {"u": user.username, "p": STAFF_PASSWORD, "c": user.code(ANCHOR)})
    session = body["data"]["staffLogin"]
    assert session["account"]["roles"] == ["CONTENT_EDITOR"]
    assert session["idleTimeoutMinutes"] == 30
    me = await gql(clocked.http, STAFF_ME, token=session["token"])
    assert me["data"]["staffMe"] == {"username": user.username, "roles": ["CONTENT_EDITOR"]}
    assert await _audit_actions(clocked.app, user.account_id) == ["staff.login"]


async def test_every_failure_gets_the_same_answer_and_is_audited(clocked: ClockedApp) -> None:
    user = await make_staff(clocked.app, [AdminRole.OPERATIONS])
    wrong = [
        ("nobody-" + user.username, STAFF_PASSWORD, user.code(ANCHOR)),
        (user.username, STAFF_PASSWORD + "x", user.code(ANCHOR)),
        (user.username, STAFF_PASSWORD, "000000" if user.code(ANCHOR) != "000000" else "111111"),
        (user.username, STAFF_PASSWORD, "12ab56"),
    ]
    answers = [await gql(clocked.http, STAFF_LOGIN, {"u": u, "p": p, "c": c}) for u, p, c in wrong]
    assert all(a == answers[0] for a in answers)
    assert codes(answers[0]) == ["UNAUTHENTICATED"]
    assert await _audit_actions(clocked.app, user.account_id) == [
        "staff.login.wrong_password",
        "staff.login.wrong_code",
        "staff.login.wrong_code",
    ]


async def test_a_code_works_only_once(clocked: ClockedApp) -> None:
    user = await make_staff(clocked.app, [AdminRole.COORDINATOR])
    assert await _attempt(clocked.http, user.username, STAFF_PASSWORD, user.code(ANCHOR)) == []
    assert await _attempt(clocked.http, user.username, STAFF_PASSWORD, user.code(ANCHOR)) == ["UNAUTHENTICATED"]
    clocked.clock.advance(seconds=30)
    assert await _attempt(clocked.http, user.username, STAFF_PASSWORD, user.code(clocked.clock.now)) == []


async def test_repeated_failures_lock_the_account_for_a_while(clocked: ClockedApp, settings: Settings) -> None:
    user = await make_staff(clocked.app, [AdminRole.DOCTOR])
    for _ in range(settings.staff_max_failed_logins):
        assert await _attempt(clocked.http, user.username, "wrong password!", user.code(ANCHOR)) == ["UNAUTHENTICATED"]
    # locked: even the right password and code are refused
    assert await _attempt(clocked.http, user.username, STAFF_PASSWORD, user.code(ANCHOR)) == ["UNAUTHENTICATED"]
    assert (await _audit_actions(clocked.app, user.account_id))[-1] == "staff.login.locked"
    clocked.clock.advance(minutes=settings.staff_lockout_minutes - 1)
    assert await _attempt(clocked.http, user.username, STAFF_PASSWORD, user.code(clocked.clock.now)) == [
        "UNAUTHENTICATED"
    ]
    clocked.clock.advance(minutes=1, seconds=30)
    assert await _attempt(clocked.http, user.username, STAFF_PASSWORD, user.code(clocked.clock.now)) == []


async def test_an_inactive_account_cannot_sign_in(http: httpx.AsyncClient, app: Any) -> None:
    user = await make_staff(app, [AdminRole.SUPER_ADMIN], active=False)
    assert await _attempt(http, user.username, STAFF_PASSWORD, user.code(ANCHOR)) == ["UNAUTHENTICATED"]


async def test_idle_time_out(clocked: ClockedApp, settings: Settings) -> None:
    user = await make_staff(clocked.app, [AdminRole.OPERATIONS])
    token = await staff_login(clocked.http, user)
    clocked.clock.advance(minutes=settings.staff_session_idle_minutes - 1)
    assert "errors" not in await gql(clocked.http, STAFF_ME, token=token)
    clocked.clock.advance(minutes=settings.staff_session_idle_minutes - 1)
    assert "errors" not in await gql(clocked.http, STAFF_ME, token=token), "activity keeps the session alive"
    clocked.clock.advance(minutes=settings.staff_session_idle_minutes + 1)
    body = await gql(clocked.http, STAFF_ME, token=token)
    assert codes(body) == ["UNAUTHENTICATED"] and "idle" in body["errors"][0]["message"]


async def test_absolute_time_out_despite_activity(clocked: ClockedApp, settings: Settings) -> None:
    user = await make_staff(clocked.app, [AdminRole.OPERATIONS])
    token = await staff_login(clocked.http, user)
    end = ANCHOR + timedelta(hours=settings.staff_session_absolute_hours)
    while clocked.clock.now + timedelta(minutes=20) < end:
        clocked.clock.advance(minutes=20)
        assert "errors" not in await gql(clocked.http, STAFF_ME, token=token)
    clocked.clock.now = end
    assert codes(await gql(clocked.http, STAFF_ME, token=token)) == ["UNAUTHENTICATED"]


async def test_a_deactivated_account_loses_its_session(clocked: ClockedApp) -> None:
    user = await make_staff(clocked.app, [AdminRole.CONTENT_EDITOR])
    token = await staff_login(clocked.http, user)
    async with clocked.app.state.resources.sessions() as db, db.begin():
        from datasources.db.tables import StaffAccount

        (await db.get_one(StaffAccount, user.account_id)).active = False
    assert codes(await gql(clocked.http, STAFF_ME, token=token)) == ["UNAUTHENTICATED"]


async def test_only_super_admins_read_the_audit_log(clocked: ClockedApp) -> None:
    admin = await make_staff(clocked.app, [AdminRole.SUPER_ADMIN])
    editor = await make_staff(clocked.app, [AdminRole.CONTENT_EDITOR])
    admin_token = await staff_login(clocked.http, admin)
    editor_token = await staff_login(clocked.http, editor)
    log = await _whole_audit_log(clocked.http, "staff.login", admin_token)
    assert {str(admin.account_id), str(editor.account_id)} <= {n["actorId"] for n in log}
    assert all(n["action"] == "staff.login" and n["result"] == "OK" for n in log)
    assert codes(await gql(clocked.http, AUDIT, token=editor_token)) == ["FORBIDDEN"]
    assert codes(await gql(clocked.http, AUDIT)) == ["UNAUTHENTICATED"]
