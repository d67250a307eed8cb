"""Short-lived signed download links (e.g. a report's PDF): the link itself is the permission.

A token is `v1.<claims>.<signature>`, both parts base64url; the signature is HMAC-SHA256 with a key
derived from the session secret for this purpose only. The claims say who asked and for what, and
until when; they hold no personal data beyond ids.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

_VERSION = "v1"


class InvalidLink(ValueError):
    pass


class ExpiredLink(InvalidLink):
    pass


@dataclass(frozen=True)
class AttachmentClaims:
    account_id: int
    profile_id: int
    patient_id: str
    report_id: str
    index: int
    expires: int  # Unix seconds

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AttachmentLinks:
    def __init__(self, secret: str, *, lifetime: timedelta) -> None:
        self._key = hmac.new(secret.encode(), b"hospital-bff attachment links v1", hashlib.sha256).digest()
        self.lifetime = lifetime

    def issue(
        self, *, account_id: int, profile_id: int, patient_id: str, report_id: str, index: int, now: datetime
    ) -> tuple[str, datetime]:
        expires = int((now + self.lifetime).timestamp())
        claims = AttachmentClaims(account_id, profile_id, patient_id, report_id, index, expires)
        body = _b64(json.dumps(asdict(claims), separators=(",", ":")).encode())
        return f"{_VERSION}.{body}.{self._sign(body)}", claims.expires_at

    def verify(self, token: str, *, now: datetime) -> AttachmentClaims:
        version, _, rest = token.partition(".")
        body, _, signature = rest.partition(".")
        if version != _VERSION or not body or not signature:
            raise InvalidLink("not a download link")
        if not hmac.compare_digest(signature, self._sign(body)):
            raise InvalidLink("bad signature")
        try:
            claims = AttachmentClaims(**json.loads(_unb64(body)))
        except (binascii.Error, ValueError, TypeError):
            raise InvalidLink("unreadable claims") from None
        if now.timestamp() >= claims.expires:
            raise ExpiredLink("expired")
        return claims

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, f"{_VERSION}.{body}".encode(), hashlib.sha256).digest())
