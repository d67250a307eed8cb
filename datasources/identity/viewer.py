"""Who is asking: resolved once per request from the `Authorization: Bearer <token>` header."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from datasources.cache import CacheUnavailable
from datasources.db.engine import Sessions, database_unreachable
from datasources.identity.staff_accounts import staff_accounts_by_ids
from datasources.identity.tokens import InvalidSession, SessionClaims, SessionKind, SessionTokens
from domain.enums import AdminRole


class ViewerKind(StrEnum):
    ANONYMOUS = "ANONYMOUS"
    PATIENT = "PATIENT"
    STAFF = "STAFF"


@dataclass(frozen=True)
class Viewer:
    kind: ViewerKind
    account_id: int | None = None
    roles: frozenset[AdminRole] = field(default_factory=frozenset)
    staff_id: int | None = None  # the staff member (doctor) behind a DOCTOR account
    claims: SessionClaims | None = None
    # Why a presented token was not accepted; a field that needs a session reports it.
    session_problem: str | None = None
    # The session could not be checked (Redis or the database unreachable): fields that need one
    # answer UNAVAILABLE rather than UNAUTHENTICATED, so the client retries instead of signing out.
    session_unavailable: bool = False

    @property
    def is_patient(self) -> bool:
        return self.kind is ViewerKind.PATIENT

    @property
    def is_staff(self) -> bool:
        return self.kind is ViewerKind.STAFF

    @property
    def audit_id(self) -> str | None:
        return None if self.account_id is None else str(self.account_id)


ANONYMOUS = Viewer(ViewerKind.ANONYMOUS)
UNCHECKED = Viewer(
    ViewerKind.ANONYMOUS, session_problem="the session cannot be checked right now", session_unavailable=True
)


async def resolve_viewer(
    authorization: str | None,
    *,
    tokens: SessionTokens,
    sessions: Sessions,
    now: datetime,
    staff_idle: timedelta,
) -> Viewer:
    if not authorization:
        return ANONYMOUS
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return Viewer(ViewerKind.ANONYMOUS, session_problem="Authorization must be 'Bearer <token>'")
    try:
        # Staff sessions also time out when idle.
        claims = await tokens.verify(token.strip(), now=now, idle_limits={SessionKind.STAFF: staff_idle})
    except InvalidSession as problem:
        return Viewer(ViewerKind.ANONYMOUS, session_problem=str(problem))
    except CacheUnavailable:
        return UNCHECKED
    if claims.kind is SessionKind.PATIENT:
        return Viewer(ViewerKind.PATIENT, account_id=claims.account_id, claims=claims)
    # Staff follow the account's current roles and state, not what they were at login.
    try:
        async with sessions() as db:
            account = (await staff_accounts_by_ids(db, ids=[claims.account_id])).get(claims.account_id)
    except Exception as error:
        if not database_unreachable(error):
            raise
        return UNCHECKED
    if account is None or not account.active or (account.locked_until is not None and account.locked_until > now):
        return Viewer(ViewerKind.ANONYMOUS, session_problem="staff account disabled or locked")
    return Viewer(
        ViewerKind.STAFF,
        account_id=account.id,
        roles=frozenset(AdminRole(role) for role in account.roles),
        staff_id=account.staff_id,
        claims=claims,
    )
