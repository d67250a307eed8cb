"""code2Session: the real WeChatClient against the sandbox (in-process and over TCP), and against
hand-written upstream answers for what the sandbox never does (5xx, garbage, time-outs)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from datasources.wechat import (
    RedactQuerySecrets,
    WeChatClient,
    WeChatErrcode,
    WeChatLoginError,
    WeChatSession,
    create_sandbox,
    sandbox_transport,
)
from settings import ROOT

APP_ID = "wx-test-app"
APP_SECRET = "test-app-secret-5f2c9a"
BASE_URL = "https://api.weixin.qq.com"


@pytest.fixture
async def sandbox_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=sandbox_transport(APP_ID, APP_SECRET)) as http:
        yield http


@pytest.fixture
def wechat(sandbox_http: httpx.AsyncClient) -> WeChatClient:
    return WeChatClient(sandbox_http, app_id=APP_ID, app_secret=APP_SECRET, base_url=BASE_URL)


class Upstream:
    """A scripted WeChat: answers every request with `respond` and counts the requests."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self._respond = respond

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._respond(request)

    def client(self, http: httpx.AsyncClient) -> WeChatClient:
        return WeChatClient(http, app_id=APP_ID, app_secret=APP_SECRET, base_url=BASE_URL)


async def login_error(client: WeChatClient, code: str) -> WeChatLoginError:
    with pytest.raises(WeChatLoginError) as caught:
        await client.code_to_session(code)
    return caught.value


async def test_same_user_keeps_its_openid_across_codes_and_users_differ(wechat: WeChatClient) -> None:
    first = await wechat.code_to_session("demo-patient-1.a1b2c3")
    again = await wechat.code_to_session("demo-patient-1.d4e5f6")
    other = await wechat.code_to_session("demo-patient-2.a1b2c3")

    assert first.openid == again.openid
    assert first.unionid == again.unionid is not None
    assert other.openid != first.openid
    assert len(first.openid) == 28 and first.openid.startswith("o")
    assert first.session_key and first.session_key != again.session_key


async def test_a_code_works_once(wechat: WeChatClient) -> None:
    await wechat.code_to_session("demo-patient-1.once01")

    error = await login_error(wechat, "demo-patient-1.once01")
    assert error.errcode == WeChatErrcode.CODE_USED == 40163
    assert not error.retryable


@pytest.mark.parametrize(
    "code",
    ["", "x" * 129, "has space", "has&secret=x", "微信code", "line\nbreak", "tab\t"],
)
async def test_a_malformed_code_is_refused_without_a_request(code: str) -> None:
    upstream = Upstream(lambda _: httpx.Response(200, json={"openid": "o", "session_key": "k"}))
    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream.handle)) as http:
        error = await login_error(upstream.client(http), code)

    assert error.errcode == 40029
    assert upstream.requests == []


async def test_sandbox_refuses_codes_not_of_its_form(wechat: WeChatClient) -> None:
    # Shaped like a real WeChat code, so the client sends it; the sandbox cannot have minted it.
    error = await login_error(wechat, "081aBcDe0eFgHi1jKlMn0oPqRs0aBcDx")
    assert error.errcode == 40029
    error = await login_error(wechat, "demo-patient-1.abc")  # nonce shorter than 4
    assert error.errcode == 40029


async def test_wrong_secret_and_wrong_appid(sandbox_http: httpx.AsyncClient) -> None:
    wrong_secret = WeChatClient(sandbox_http, app_id=APP_ID, app_secret="not-it", base_url=BASE_URL)
    wrong_appid = WeChatClient(sandbox_http, app_id="wx-other", app_secret=APP_SECRET, base_url=BASE_URL)

    assert (await login_error(wrong_secret, "demo-patient-1.a1b2c3")).errcode == 40125
    assert (await login_error(wrong_appid, "demo-patient-1.a1b2c3")).errcode == 40013


@pytest.mark.parametrize(
    ("user", "errcode", "retryable"),
    [("risky-user", 40226, False), ("busy-1", -1, True), ("quota-1", 45011, True)],
)
async def test_sandbox_failure_users(wechat: WeChatClient, user: str, errcode: int, retryable: bool) -> None:
    error = await login_error(wechat, f"{user}.n0nce")
    assert (error.errcode, error.retryable) == (errcode, retryable)
    assert str(errcode) in str(error) and "n0nce" not in str(error)


async def test_busy_does_not_use_up_the_code_but_risk_does(wechat: WeChatClient) -> None:
    for _ in range(2):
        assert (await login_error(wechat, "busy-1.again1")).errcode == -1
    assert (await login_error(wechat, "risk-1.again1")).errcode == 40226
    assert (await login_error(wechat, "risk-1.again1")).errcode == 40163


async def test_sandbox_forgets_the_oldest_codes_beyond_its_bound() -> None:
    transport = httpx.ASGITransport(app=create_sandbox(APP_ID, APP_SECRET, remember_codes=2))
    async with httpx.AsyncClient(transport=transport) as http:
        wechat = WeChatClient(http, app_id=APP_ID, app_secret=APP_SECRET, base_url=BASE_URL)
        for nonce in ("aaaa", "bbbb", "cccc"):
            await wechat.code_to_session(f"bounded.{nonce}")
        assert (await login_error(wechat, "bounded.cccc")).errcode == 40163
        await wechat.code_to_session("bounded.aaaa")  # forgotten: the set did not grow past 2


async def test_sandbox_answers_like_wechat(sandbox_http: httpx.AsyncClient) -> None:
    url = f"{BASE_URL}/sns/jscode2session"
    ok = await sandbox_http.get(
        url, params={"appid": APP_ID, "secret": APP_SECRET, "js_code": "shape.abcd", "grant_type": "authorization_code"}
    )
    missing = await sandbox_http.get(url)

    assert ok.status_code == missing.status_code == 200
    assert ok.headers["content-type"].startswith("text/plain")
    assert set(ok.json()) == {"openid", "session_key", "unionid"}
    assert missing.json()["errcode"] == 41002
    assert missing.json()["errmsg"].startswith("appid missing, rid: ")


async def test_the_request_carries_what_wechat_requires() -> None:
    upstream = Upstream(lambda _: httpx.Response(200, text='{"openid": "oABC", "session_key": "c2s="}'))
    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream.handle)) as http:
        session = await upstream.client(http).code_to_session("081aBcDe0eFgHi1jKlMn0oPqRs0aBcDx")

    assert session == WeChatSession(openid="oABC", unionid=None, session_key="c2s=")
    (request,) = upstream.requests
    assert (request.method, request.url.host, request.url.path) == ("GET", "api.weixin.qq.com", "/sns/jscode2session")
    assert dict(request.url.params) == {
        "appid": APP_ID,
        "secret": APP_SECRET,
        "js_code": "081aBcDe0eFgHi1jKlMn0oPqRs0aBcDx",
        "grant_type": "authorization_code",
    }
    assert APP_SECRET not in str(dict(request.headers))


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def respond(_: httpx.Request) -> httpx.Response:
        raise exc

    return respond


@pytest.mark.parametrize(
    "respond",
    [
        lambda _: httpx.Response(503, text="Service Unavailable"),
        lambda _: httpx.Response(200, text="<html>gateway error</html>"),
        lambda _: httpx.Response(200, json=["not", "an", "object"]),
        lambda _: httpx.Response(200, json={"errcode": 0}),
        lambda _: httpx.Response(200, json={"errcode": "40029"}),
        lambda _: httpx.Response(200, json={"errcode": -1, "errmsg": "system error"}),
        _raise(httpx.ConnectError("connection refused")),
        _raise(httpx.ReadTimeout("timed out")),
    ],
    ids=["503", "not-json", "json-array", "no-openid", "string-errcode", "busy", "connect-error", "timeout"],
)
async def test_upstream_trouble_is_busy_and_retryable(respond: Callable[[httpx.Request], httpx.Response]) -> None:
    upstream = Upstream(respond)
    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream.handle)) as http:
        error = await login_error(upstream.client(http), "081aBcDe0eFgHi1jKlMn0oPqRs0aBcDx")

    assert (error.errcode, error.retryable) == (-1, True)
    # The httpx error holds the request URL, secret included: it must not ride along in tracebacks.
    assert APP_SECRET not in "".join(traceback.format_exception(error))
    assert len(upstream.requests) == 1


async def test_errcode_zero_with_an_openid_is_success() -> None:
    body = {"errcode": 0, "errmsg": "ok", "openid": "oXYZ", "session_key": "a2V5", "unionid": "oUNION"}
    upstream = Upstream(lambda _: httpx.Response(200, json=body))
    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream.handle)) as http:
        session = await upstream.client(http).code_to_session("081aBcDe0eFgHi1jKlMn0oPqRs0aBcDx")
    assert (session.openid, session.unionid) == ("oXYZ", "oUNION")


@pytest.mark.parametrize(("errcode", "retryable"), [(45011, True), (40226, False), (40013, False), (99999, False)])
async def test_upstream_errcodes_pass_through(errcode: int, retryable: bool) -> None:
    upstream = Upstream(lambda _: httpx.Response(200, json={"errcode": errcode, "errmsg": "whatever"}))
    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream.handle)) as http:
        error = await login_error(upstream.client(http), "081aBcDe0eFgHi1jKlMn0oPqRs0aBcDx")
    assert (error.errcode, error.retryable) == (errcode, retryable)


def test_client_refuses_incomplete_configuration() -> None:
    http = httpx.AsyncClient()
    with pytest.raises(ValueError, match="app_secret") as caught:
        WeChatClient(http, app_id=APP_ID, app_secret="", base_url=BASE_URL)
    with pytest.raises(ValueError, match="base_url"):
        WeChatClient(http, app_id=APP_ID, app_secret=APP_SECRET, base_url="api.weixin.qq.com")
    assert APP_SECRET not in str(caught.value)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m datasources.wechat.sandbox` in its own process, as a developer would run it."""
    port = _free_port()
    env = {**os.environ, "WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": APP_SECRET}
    # Output goes to a file: a pipe nobody reads would fill up and stall the server.
    log = tmp_path_factory.mktemp("wechat-sandbox") / "server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "datasources.wechat.sandbox", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/sns/jscode2session", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                pytest.fail(f"WeChat sandbox did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
        try:
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    server_log = log.read_text(errors="replace")
    # uvicorn's access log prints each request line; the sandbox installs RedactQuerySecrets on it.
    assert "GET /sns/jscode2session?appid=wx-test-app&secret=***&js_code=***&grant_type" in server_log, server_log
    assert APP_SECRET not in server_log and "Logging error" not in server_log, server_log


async def test_round_trip_over_tcp(sandbox_server: str) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        wechat = WeChatClient(http, app_id=APP_ID, app_secret=APP_SECRET, base_url=sandbox_server)
        first = await wechat.code_to_session("tcp-patient.a1b2c3")
        second = await wechat.code_to_session("tcp-patient.d4e5f6")
        reused = await login_error(wechat, "tcp-patient.a1b2c3")

    async with httpx.AsyncClient(transport=sandbox_transport(APP_ID, APP_SECRET)) as http:
        wechat = WeChatClient(http, app_id=APP_ID, app_secret=APP_SECRET, base_url=BASE_URL)
        in_process = await wechat.code_to_session("tcp-patient.a1b2c3")
    assert first.openid == second.openid == in_process.openid  # same secret, same user: same openid
    assert reused.errcode == 40163


async def test_no_secret_reaches_repr_or_logs(
    sandbox_server: str, wechat: WeChatClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # The app keeps httpx at WARNING; this test wants to see (redacted) request lines.
    caplog.set_level(logging.DEBUG, logger="httpx")
    redact = RedactQuerySecrets()
    # What the app does at start-up: the filter on the logger that prints request URLs.
    logging.getLogger("httpx").addFilter(redact)
    codes = ["log-user.first1", "log-user.secnd2", "risk-user.third3"]
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            over_tcp = WeChatClient(http, app_id=APP_ID, app_secret=APP_SECRET, base_url=sandbox_server)
            sessions = [await over_tcp.code_to_session(codes[0]), await wechat.code_to_session(codes[1])]
            errors = [await login_error(over_tcp, codes[2]), await login_error(wechat, codes[1])]
    finally:
        logging.getLogger("httpx").removeFilter(redact)

    assert "HTTP Request: GET" in caplog.text  # httpx did log the request lines, redacted
    assert "errcode=40226" in caplog.text
    sensitive = [APP_SECRET, *codes, *(session.session_key for session in sessions)]
    for session in sessions:
        assert session.session_key not in repr(session) and session.session_key not in str(session)
        assert session.openid in repr(session)
    for error in errors:
        assert not any(value in str(error) or value in repr(error) for value in sensitive)
    leaked = [value for value in sensitive if value in caplog.text]
    assert leaked == [], caplog.text


def test_redact_query_secrets_masks_an_httpx_request_line() -> None:
    url = httpx.URL(
        f"{BASE_URL}/sns/jscode2session",
        params={"appid": APP_ID, "secret": APP_SECRET, "js_code": "081aBcDe", "grant_type": "authorization_code"},
    )
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%s %d %s"', ("GET", url, "HTTP/1.1", 200, "OK"), None
    )

    assert RedactQuerySecrets().filter(record) is True
    line = logging.Formatter("%(name)s %(message)s").format(record)
    assert line == (
        "httpx HTTP Request: GET https://api.weixin.qq.com/sns/jscode2session"
        f'?appid={APP_ID}&secret=***&js_code=***&grant_type=authorization_code "HTTP/1.1 200 OK"'
    )


def test_redact_query_secrets_keeps_args_for_formatters_that_unpack_them() -> None:
    args = ("127.0.0.1:5000", "GET", f"/sns/jscode2session?secret={APP_SECRET}&js_code=c0de1", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)
    RedactQuerySecrets().filter(record)
    assert record.args == ("127.0.0.1:5000", "GET", "/sns/jscode2session?secret=***&js_code=***", "1.1", 200)


def test_redact_query_secrets_leaves_other_messages_alone() -> None:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "%d%% of logins used errcode=%d", (5, 40029), None)
    RedactQuerySecrets().filter(record)
    assert record.getMessage() == "5% of logins used errcode=40029"
    assert record.args == (5, 40029)
    inline = logging.LogRecord("app", logging.INFO, __file__, 1, f"GET /x?secret={APP_SECRET}", None, None)
    RedactQuerySecrets().filter(inline)
    assert inline.getMessage() == "GET /x?secret=***"
