"""Encryption at rest for the personal fields that must be stored in full (ID and phone numbers).

AES-256-GCM with a random nonce per value; a keyed digest (HMAC-SHA256) lets the database find
duplicates without holding the number in clear. A database dump alone reveals neither.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class FieldCipher:
    def __init__(self, key_b64: str) -> None:
        key = base64.b64decode(key_b64)
        self._aead = AESGCM(key)
        # A separate key for digests, so a digest never helps to attack the encryption key.
        self._digest_key = hmac.new(key, b"hospital-bff field digest", hashlib.sha256).digest()

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """`context` (e.g. "profile.id_number") is bound to the value: it cannot be moved to another field."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, *, context: str) -> str:
        raw = base64.b64decode(token)
        return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()

    def seal(self, data: bytes, *, context: str) -> bytes:
        """`encrypt` for bytes, without the base64: for caches that store binary values."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data, context.encode())

    def open(self, sealed: bytes, *, context: str) -> bytes:
        """Raises cryptography's InvalidTag when `sealed` was altered or sealed for another context."""
        return self._aead.decrypt(sealed[:12], sealed[12:], context.encode())

    def digest(self, plaintext: str, *, context: str) -> str:
        return hmac.new(self._digest_key, f"{context}:{plaintext}".encode(), hashlib.sha256).hexdigest()
