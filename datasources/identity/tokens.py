"""Session tokens: signed (HS256 JWT), expiring, and revocable through the cache.

A token carries who the viewer is and a session id; it never carries personal data. Revocation
(logout, lock-out) and the staff idle time-out live in the cache (Redis when configured), so every
instance agrees on them.

While Redis is unreachable no session can be checked against the revocation list, so every check
fails closed (CacheUnavailable) for patients and staff alike: a patient's session lasts a week and
opens health records, and a revoked one (a logout on a shared or lost phone) must not work again
for the length of an outage. Public queries need no session and keep working.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import jwt

from datasources.cache import Cache

ISSUER = "hospital-bff"
ALGORITHM = "HS256"


class SessionKind(StrEnum):
    PATIENT = "patient"
    STAFF = "staff"


@dataclass(frozen=True)
class SessionClaims:
    kind: SessionKind
    account_id: int
    session_id: str
    expires_at: datetime


class InvalidSession(Exception):
    """The token is malformed, tampered with, expired, revoked or idle too long."""


class SessionTokens:
    def __init__(self, secret: str, cache: Cache) -> None:
        self._secret = secret
        # Strict: a miss here would mean "not revoked", so an outage must not look like one.
        self._cache = cache.strict()

    async def issue(
        self, *, kind: SessionKind, account_id: int, now: datetime, lifetime: timedelta, idle: timedelta | None = None
    ) -> tuple[str, SessionClaims]:
        session_id = secrets.token_urlsafe(18)
        expires = now + lifetime
        token = jwt.encode(
            {
                "iss": ISSUER,
                "sub": f"{kind.value}:{account_id}",
                "sid": session_id,
                "iat": int(now.timestamp()),
                "exp": int(expires.timestamp()),
            },
            self._secret,
            algorithm=ALGORITHM,
        )
        if idle is not None:
            await self._touch(session_id, now, idle)
        return token, SessionClaims(kind, account_id, session_id, expires.replace(microsecond=0))

    async def verify(
        self, token: str, *, now: datetime, idle_limits: Mapping[SessionKind, timedelta] | None = None
    ) -> SessionClaims:
        """The claims of a valid session; `idle_limits` gives the idle time-out of each kind that has one."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "sid", "iss"], "verify_exp": False},
            )
            kind_text, _, account_text = str(claims["sub"]).partition(":")
            kind, account_id = SessionKind(kind_text), int(account_text)
            expires = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo)
            session_id = str(claims["sid"])
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise InvalidSession("malformed or tampered token") from exc
        # Expiry is checked against the request's clock, not the wall clock, so tests can move time.
        if expires <= now:
            raise InvalidSession("session expired")
        if await self._cache.get(self._revoked_key(session_id)) is not None:
            raise InvalidSession("session revoked")
        idle = (idle_limits or {}).get(kind)
        if idle is not None:
            last_seen = await self._cache.get(self._idle_key(session_id))
            if last_seen is None or now - datetime.fromisoformat(last_seen.decode()) > idle:
                raise InvalidSession("session idle for too long")
            await self._touch(session_id, now, idle)
        return SessionClaims(kind, account_id, session_id, expires)

    async def _touch(self, session_id: str, now: datetime, idle: timedelta) -> None:
        # The last activity is kept as the request's time (so the rule follows the app's clock); the
        # cache entry's own expiry only cleans up abandoned sessions.
        await self._cache.set(
            self._idle_key(session_id), now.isoformat().encode(), ttl_seconds=idle.total_seconds() * 2
        )

    async def revoke(self, claims: SessionClaims, *, now: datetime) -> None:
        remaining = max(1.0, (claims.expires_at - now).total_seconds())
        await self._cache.set(self._revoked_key(claims.session_id), b"1", ttl_seconds=remaining)
        await self._cache.delete(self._idle_key(claims.session_id))

    @staticmethod
    def _revoked_key(session_id: str) -> str:
        return f"session:revoked:{session_id}"

    @staticmethod
    def _idle_key(session_id: str) -> str:
        return f"session:alive:{session_id}"
