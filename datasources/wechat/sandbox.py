"""A stand-in for WeChat's code2Session, so logins work in development and tests without a phone.

It answers GET /sns/jscode2session the way WeChat does (HTTP 200, a JSON body labelled text/plain,
`errcode`/`errmsg` on failure), so `WeChatClient` runs against it unchanged: either in-process
through `sandbox_transport()` or over TCP with

    python -m datasources.wechat.sandbox --port 8181

(app id and secret from WECHAT_APP_ID / WECHAT_APP_SECRET, default "wx-sandbox-app" /
"sandbox-secret"), then base_url http://127.0.0.1:8181.

Minting a code: `<user>.<nonce>`, user [A-Za-z0-9_-]{1,64}, nonce [A-Za-z0-9]{4,64}, at most 128
characters in all (the client's limit), e.g. `demo-patient-1.a1b2c3`. The same user always gets
the same openid ("o" + 27 characters, derived from the app secret and the user) and unionid; a new
nonce makes a new code. Each answer carries a fresh random session_key. Unlike WeChat's, codes
do not expire after five minutes.

Failures, checked in WeChat's order:

| errcode | when |
|---|---|
| 41002 / 40013 | appid missing / not the sandbox's |
| 41004 / 40125 | secret missing / wrong |
| 41008 / 40029 | js_code missing / not of the form above |
| 40163 | the code was used before (remembered for the last 100,000 codes) |
| -1    | user starts with "busy" (WeChat busy; the code is not used up) |
| 45011 | user starts with "quota" (minute quota reached; the code is not used up) |
| 40226 | user starts with "risk" (high-risk user) |
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
from collections import OrderedDict

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from datasources.wechat.client import CODE2SESSION_PATH, RedactQuerySecrets, WeChatErrcode

DEFAULT_APP_ID = "wx-sandbox-app"
DEFAULT_APP_SECRET = "sandbox-secret"
REMEMBERED_CODES = 100_000

_CODE = re.compile(r"(?P<user>[A-Za-z0-9_-]{1,64})\.(?P<nonce>[A-Za-z0-9]{4,64})")
_MAX_CODE_LENGTH = 128

_ERRMSGS = {
    WeChatErrcode.SYSTEM_BUSY: "system error",
    WeChatErrcode.INVALID_APPID: "invalid appid",
    WeChatErrcode.INVALID_CODE: "invalid code",
    WeChatErrcode.INVALID_APPSECRET: "invalid appsecret",
    WeChatErrcode.CODE_USED: "code been used",
    WeChatErrcode.HIGH_RISK_USER: "high risk user",
    WeChatErrcode.APPID_MISSING: "appid missing",
    WeChatErrcode.APPSECRET_MISSING: "appsecret missing",
    WeChatErrcode.CODE_MISSING: "missing code",
    WeChatErrcode.MINUTE_QUOTA_REACHED: "api minute-quota reach limit",
}


def _answer(body: dict[str, object]) -> Response:
    # WeChat labels its JSON text/plain; doing the same catches clients that trust the header.
    return Response(json.dumps(body), media_type="text/plain")


def _error(errcode: WeChatErrcode) -> Response:
    rid = f"{int(time.time()):08x}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"
    return _answer({"errcode": int(errcode), "errmsg": f"{_ERRMSGS[errcode]}, rid: {rid}"})


def _stable_id(app_secret: str, label: str) -> str:
    digest = hmac.new(app_secret.encode(), label.encode(), hashlib.sha256).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode()[:27]


def create_sandbox(app_id: str, app_secret: str, *, remember_codes: int = REMEMBERED_CODES) -> Starlette:
    """The sandbox app for one mini-program; `remember_codes` bounds the memory of used codes."""
    # Insertion-ordered, so the oldest code is forgotten first. Check and insert run with no await
    # in between on the one event loop, so two requests cannot both spend the same code.
    used: OrderedDict[str, None] = OrderedDict()

    async def code2session(request: Request) -> Response:
        query = request.query_params
        appid, secret, code = query.get("appid"), query.get("secret"), query.get("js_code")
        if not appid:
            return _error(WeChatErrcode.APPID_MISSING)
        if appid != app_id:
            return _error(WeChatErrcode.INVALID_APPID)
        if not secret:
            return _error(WeChatErrcode.APPSECRET_MISSING)
        if not hmac.compare_digest(secret.encode(), app_secret.encode()):
            return _error(WeChatErrcode.INVALID_APPSECRET)
        if not code:
            return _error(WeChatErrcode.CODE_MISSING)
        match = _CODE.fullmatch(code) if len(code) <= _MAX_CODE_LENGTH else None
        if match is None:
            return _error(WeChatErrcode.INVALID_CODE)
        if code in used:
            return _error(WeChatErrcode.CODE_USED)
        user = match["user"]
        if user.startswith("busy"):
            return _error(WeChatErrcode.SYSTEM_BUSY)
        if user.startswith("quota"):
            return _error(WeChatErrcode.MINUTE_QUOTA_REACHED)
        used[code] = None
        while len(used) > remember_codes:
            used.popitem(last=False)
        if user.startswith("risk"):
            return _error(WeChatErrcode.HIGH_RISK_USER)
        return _answer(
            {
                "session_key": base64.b64encode(secrets.token_bytes(24)).decode(),
                "openid": _stable_id(app_secret, user),
                "unionid": _stable_id(app_secret, "unionid:" + user),
            }
        )

    return Starlette(routes=[Route(CODE2SESSION_PATH, code2session, methods=["GET"])])


def sandbox_transport(app_id: str, app_secret: str) -> httpx.ASGITransport:
    """An httpx transport that serves the sandbox in-process: no port, no network."""
    return httpx.ASGITransport(app=create_sandbox(app_id, app_secret))


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Serve the WeChat code2Session sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8181)
    args = parser.parse_args(argv)
    app_id = os.environ.get("WECHAT_APP_ID") or DEFAULT_APP_ID
    app_secret = os.environ.get("WECHAT_APP_SECRET") or DEFAULT_APP_SECRET
    config = uvicorn.Config(create_sandbox(app_id, app_secret), host=args.host, port=args.port)
    # After Config, which sets up uvicorn's logging: its access log prints every request line,
    # secret and code included.
    logging.getLogger("uvicorn.access").addFilter(RedactQuerySecrets())
    print(f"WeChat sandbox for appid {app_id}; try js_code=demo-patient-1.{secrets.token_hex(3)}", flush=True)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
