"""Entry links of the third-party video service (视频问诊, MDT meetings).

A link is `{VIDEO_PROVIDER_BASE_URL}/{room}?token={token}`: the room is a random name with no
meaning, the token a short-lived JWT (HS256, secret shared with the provider) naming only the room,
the role (patient or doctor), an expiry and a unique id. No name, ID number, phone number or
diagnosis is ever in the link.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import jwt

Role = Literal["patient", "doctor"]
AUDIENCE = "hospital-video"


@dataclass(frozen=True)
class VideoEntry:
    url: str
    expires_at: datetime


class VideoLinks:
    def __init__(self, *, base_url: str, secret: str, lifetime: timedelta) -> None:
        self._base = base_url.rstrip("/")
        self._secret = secret
        self._lifetime = lifetime

    @staticmethod
    def new_room() -> str:
        return secrets.token_urlsafe(18)

    def entry(self, *, room: str, role: Role, now: datetime) -> VideoEntry:
        expires = now + self._lifetime
        claims = {
            "room": room,
            "role": role,
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_hex(8),
        }
        token = jwt.encode(claims, self._secret, algorithm="HS256")
        return VideoEntry(url=f"{self._base}/{room}?token={token}", expires_at=expires)

    def verify(self, token: str, *, room: str, now: datetime) -> Role:
        """What the provider does with a token: its role, or jwt.InvalidTokenError. The expiry is
        checked against `now` (the app's clock), not PyJWT's own."""
        claims: dict[str, object] = jwt.decode(
            token,
            self._secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["exp", "room", "role"], "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
        expires = claims.get("exp")
        if not isinstance(expires, int) or now.timestamp() >= expires:
            raise jwt.ExpiredSignatureError("video link expired")
        role = claims.get("role")
        if claims.get("room") != room or role not in ("patient", "doctor"):
            raise jwt.InvalidTokenError("token for another room")
        return "patient" if role == "patient" else "doctor"
