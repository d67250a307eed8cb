"""Browser-facing protections of the HTTP layer: CSRF prevention, CORS and security headers.

CSRF prevention follows Apollo Server's `csrfPrevention`: a browser sends a cross-site GET, or a
POST whose content type is absent or "simple" (text/plain, application/x-www-form-urlencoded,
multipart/form-data), without asking the server first (no CORS preflight). Such a request must
therefore carry a header no HTML form or plain `<img>` can set: `Apollo-Require-Preflight` or
`X-Apollo-Operation-Name` (any non-empty value). The mini-program's `wx.request` and Apollo's
clients can send either; JSON POSTs (what GraphiQL and most clients send) need neither, because
`Content-Type: application/json` itself forces the preflight.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Content types a browser may POST cross-site without a CORS preflight.
SIMPLE_CONTENT_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
# Headers that make a browser ask first (a CORS preflight), so a forged request cannot carry them.
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")

# What every response carries. The API answers JSON only: nothing may be framed, run or loaded.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=31536000; includeSubDomains"
BASE_HEADERS: Mapping[str, str] = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": API_CSP,
}


def media_type(content_type: str | None) -> str | None:
    """`application/json` of `Application/JSON; charset=utf-8`; None when absent or empty."""
    if not content_type:
        return None
    value = content_type.split(";", 1)[0].strip().lower()
    return value or None


_NEEDS_PREFLIGHT = SIMPLE_CONTENT_TYPES | {None}


def needs_preflight_header(method: str, content_type: str | None) -> bool:
    """Whether a browser could send this request cross-site without a preflight."""
    if method == "GET":
        return True
    if content_type == "application/json":  # what nearly every client sends; checked on every request
        return False
    return media_type(content_type) in _NEEDS_PREFLIGHT


def has_preflight_header(headers: Headers) -> bool:
    return any(headers.get(name, "").strip() for name in PREFLIGHT_HEADERS)


def csrf_blocked(method: str, headers: Headers) -> bool:
    """True when CSRF prevention refuses the request (see the module's docstring)."""
    return needs_preflight_header(method, headers.get("content-type")) and not has_preflight_header(headers)


_INLINE = re.compile(r"<(script|style)(?:\s[^>]*)?>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\ssrc=", re.IGNORECASE)


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def graphiql_csp(page: str, *, cdn: str | None = None) -> str:
    """A Content-Security-Policy for the GraphiQL page: its own inline scripts by hash, its assets from
    this server (or from `cdn` when it falls back to it), queries to this server only.

    Styles stay `'unsafe-inline'`: GraphiQL's React components set style attributes, which no hash can
    name; scripts, the dangerous part, never run inline unless they are the page's own.
    """
    scripts: list[str] = []
    for match in _INLINE.finditer(page):
        if match.group(1).lower() == "script" and not _EXTERNAL_SCRIPT.match(match.group(0)):
            scripts.append(_sha256_source(match.group(2)))
    extra = f" {cdn.rstrip('/')}" if cdn else ""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self'{extra} {' '.join(dict.fromkeys(scripts))}".rstrip(),
            f"style-src 'self'{extra} 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response; a response that set its own
    Content-Security-Policy (the GraphiQL page) keeps it. HSTS is sent in production only: in
    development the server runs on plain http://localhost, where it would only get in the way."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.headers = [(name.encode(), value.encode()) for name, value in BASE_HEADERS.items()]
        if hsts:
            self.headers.append((b"strict-transport-security", HSTS.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in self.headers if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cors_options(origins: Sequence[str]) -> dict[str, Any]:
    """Options of Starlette's CORSMiddleware for exactly these origins (none: no cross-origin access)."""
    return {
        "allow_origins": list(origins),
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["authorization", "content-type", "x-request-id", *PREFLIGHT_HEADERS],
        "expose_headers": ["x-request-id", "retry-after"],
        "max_age": 600,
    }
