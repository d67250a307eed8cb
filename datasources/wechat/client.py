"""WeChat mini-program login: exchange a wx.login() code for the user's openid (code2Session).

    GET {base}/sns/jscode2session?appid=APPID&secret=SECRET&js_code=CODE&grant_type=authorization_code

WeChat answers HTTP 200 with a JSON body either way: {"openid", "session_key", "unionid"?} on
success, {"errcode", "errmsg"} on failure. It labels that JSON `text/plain`, so the body is parsed
whatever the content type says.

Three values here are secrets: the app secret (it can mint sessions for any user), the one-time
code, and the session_key (it decrypts the user's encrypted data). None of them is ever logged or
put in an exception message; only errcodes are. WeChat wants the app secret in the query string,
so the request URL itself is sensitive: httpx logs every request line (URL included) at INFO on the
"httpx" logger. Passing the parameters through `params=` keeps them out of our own strings but not
out of that log line, so the app must keep the "httpx" logger at WARNING or above and install
`RedactQuerySecrets` on it (and on its handlers, for any other logger that might print a URL).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import httpx

logger = logging.getLogger(__name__)

CODE2SESSION_PATH = "/sns/jscode2session"

# Real codes are 32 characters; the wider alphabet and length admit the sandbox's readable codes.
# Anything else cannot be a code, so it is refused before it costs a request (and a quota unit).
_CODE_SHAPE = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class WeChatErrcode(IntEnum):
    """The errcodes code2Session answers; WeChat may add others, so errcodes stay plain ints."""

    SYSTEM_BUSY = -1
    INVALID_APPID = 40013
    INVALID_CODE = 40029
    INVALID_APPSECRET = 40125
    CODE_USED = 40163
    HIGH_RISK_USER = 40226
    APPID_MISSING = 41002
    APPSECRET_MISSING = 41004
    CODE_MISSING = 41008
    MINUTE_QUOTA_REACHED = 45011


_DESCRIPTIONS: dict[int, str] = {
    WeChatErrcode.SYSTEM_BUSY: "WeChat is busy or could not be reached",
    WeChatErrcode.INVALID_APPID: "invalid appid",
    WeChatErrcode.INVALID_CODE: "invalid code",
    WeChatErrcode.INVALID_APPSECRET: "invalid app secret",
    WeChatErrcode.CODE_USED: "code already used",
    WeChatErrcode.HIGH_RISK_USER: "user blocked by WeChat as high risk",
    WeChatErrcode.APPID_MISSING: "appid missing",
    WeChatErrcode.APPSECRET_MISSING: "app secret missing",
    WeChatErrcode.CODE_MISSING: "code missing",
    WeChatErrcode.MINUTE_QUOTA_REACHED: "minute quota reached",
}
_RETRYABLE = frozenset({WeChatErrcode.SYSTEM_BUSY, WeChatErrcode.MINUTE_QUOTA_REACHED})
# These mean our configuration is wrong, not the user's code: worth waking someone up.
_MISCONFIGURED = frozenset(
    {
        WeChatErrcode.INVALID_APPID,
        WeChatErrcode.INVALID_APPSECRET,
        WeChatErrcode.APPID_MISSING,
        WeChatErrcode.APPSECRET_MISSING,
    }
)


@dataclass(frozen=True)
class WeChatSession:
    """Who the mini-program user is. `session_key` stays out of repr() and so out of logs."""

    openid: str
    unionid: str | None
    session_key: str = field(repr=False)


class WeChatLoginError(Exception):
    """code2Session failed. The message names the errcode only: never the code or any key."""

    def __init__(self, errcode: int) -> None:
        self.errcode = errcode
        description = _DESCRIPTIONS.get(errcode, "unexpected error")
        super().__init__(f"WeChat code2Session failed: errcode {errcode} ({description})")

    @property
    def retryable(self) -> bool:
        """True when the same login may succeed a little later (busy, or minute quota spent)."""
        return self.errcode in _RETRYABLE


class RedactQuerySecrets(logging.Filter):
    """Masks `secret=`, `js_code=` and `session_key=` values in a log record's message and args.

    Install it on the "httpx" logger (its request lines carry the full URL) or on a handler to
    cover every logger. A filter on a logger only sees records logged on that very logger, not
    those propagated from its children, hence the choice of either.
    """

    _PATTERN = re.compile(r"(?<![A-Za-z0-9])(secret|js_code|session_key)=[^&\s\"'#]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self._PATTERN.sub(r"\1=***", record.msg)
        # Each argument is redacted in place rather than the message pre-formatted: some formatters
        # (uvicorn's access log) unpack record.args themselves and break when it is gone.
        if isinstance(record.args, tuple):
            record.args = tuple(self._redact(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: self._redact(arg) for key, arg in record.args.items()}
        return True

    def _redact(self, value: object) -> object:
        if isinstance(value, int | float):
            return value  # keeps %d and %f working
        text = str(value)
        redacted = self._PATTERN.sub(r"\1=***", text)
        return value if redacted == text else redacted


class WeChatClient:
    """Calls code2Session through the application's shared httpx client.

    Time-outs come from that client (httpx's default is 5 seconds); a time-out, like any transport
    failure, 5xx or unreadable answer, becomes errcode -1 (retryable), as WeChat's own "busy" is.
    """

    def __init__(self, http: httpx.AsyncClient, *, app_id: str, app_secret: str, base_url: str) -> None:
        # Fail at start-up rather than at the first login; the values are not repeated here.
        if not app_id or not app_secret:
            raise ValueError("WeChat app_id and app_secret must both be set")
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("WeChat base_url must be an absolute http(s) URL")
        self._http = http
        self._app_id = app_id
        self._app_secret = app_secret
        self._url = base_url.rstrip("/") + CODE2SESSION_PATH

    async def code_to_session(self, code: str) -> WeChatSession:
        if not _CODE_SHAPE.fullmatch(code):
            raise self._failed(WeChatErrcode.INVALID_CODE)
        # WeChat takes the secret in the query string only; see the module docstring on logging.
        params = {
            "appid": self._app_id,
            "secret": self._app_secret,
            "js_code": code,
            "grant_type": "authorization_code",
        }
        try:
            response = await self._http.get(self._url, params=params)
        except httpx.HTTPError as exc:
            # httpx errors hold the request, whose URL holds the secret and the code: only the
            # class name is logged, and `from None` keeps the original out of any traceback.
            logger.warning("WeChat code2Session transport failure: %s", type(exc).__name__)
            raise self._failed(WeChatErrcode.SYSTEM_BUSY) from None
        if response.status_code != 200:
            logger.warning("WeChat code2Session answered HTTP %d", response.status_code)
            raise self._failed(WeChatErrcode.SYSTEM_BUSY)
        return self._session_from(response.content)

    def _session_from(self, content: bytes) -> WeChatSession:
        try:
            body: Any = json.loads(content)
        except ValueError:
            logger.warning("WeChat code2Session answered a body that is not JSON")
            raise self._failed(WeChatErrcode.SYSTEM_BUSY) from None
        if not isinstance(body, dict):
            logger.warning("WeChat code2Session answered JSON that is not an object")
            raise self._failed(WeChatErrcode.SYSTEM_BUSY)
        errcode = body.get("errcode", 0)
        if not isinstance(errcode, int) or isinstance(errcode, bool):
            logger.warning("WeChat code2Session answered a non-integer errcode")
            raise self._failed(WeChatErrcode.SYSTEM_BUSY)
        if errcode != 0:
            raise self._failed(errcode)
        openid, session_key, unionid = body.get("openid"), body.get("session_key"), body.get("unionid")
        if not isinstance(openid, str) or not openid or not isinstance(session_key, str) or not session_key:
            logger.warning("WeChat code2Session answered success without openid or session_key")
            raise self._failed(WeChatErrcode.SYSTEM_BUSY)
        # unionid only comes when the app is bound to an Open Platform account.
        return WeChatSession(
            openid=openid,
            unionid=unionid if isinstance(unionid, str) and unionid else None,
            session_key=session_key,
        )

    @staticmethod
    def _failed(errcode: int) -> WeChatLoginError:
        level = logging.ERROR if errcode in _MISCONFIGURED else logging.WARNING
        logger.log(level, "WeChat code2Session failed: errcode=%d", errcode)
        return WeChatLoginError(errcode)
