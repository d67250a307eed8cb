"""The request-body cap (body_limit.py), on a minimal Starlette app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from body_limit import BodySizeLimitMiddleware

LIMIT = 1024


class Echo:
    """A route that reports the size and checksum of the body it received, and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, request: Request) -> JSONResponse:
        self.calls += 1
        body = await request.body()
        return JSONResponse({"size": len(body), "sum": sum(body)})


def make_app(echo: Echo, **options: Any) -> Starlette:
    routes = [Route("/echo", echo.handle, methods=["GET", "POST"])]
    return Starlette(routes=routes, middleware=[Middleware(BodySizeLimitMiddleware, **options)])


@pytest.fixture
def echo() -> Echo:
    return Echo()


@pytest.fixture
async def http(echo: Echo) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(echo, max_bytes=LIMIT)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


def payload(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


async def chunks(data: bytes, size: int = 100) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("size", [0, 1, LIMIT - 1, LIMIT])
async def test_bodies_up_to_the_limit_reach_the_app_unchanged(http: httpx.AsyncClient, echo: Echo, size: int) -> None:
    data = payload(size)
    response = await http.post("/echo", content=data)
    assert response.status_code == 200
    assert response.json() == {"size": size, "sum": sum(data)}
    assert echo.calls == 1


async def test_a_larger_announced_body_is_413_and_never_reaches_the_app(http: httpx.AsyncClient, echo: Echo) -> None:
    response = await http.post("/echo", content=payload(LIMIT + 1))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert str(LIMIT) in error["message"]
    assert echo.calls == 0


async def test_a_chunked_body_is_counted_as_it_arrives(http: httpx.AsyncClient, echo: Echo) -> None:
    small, large = payload(LIMIT), payload(LIMIT + 1)
    accepted = await http.post("/echo", content=chunks(small))
    assert "content-length" not in accepted.request.headers
    assert accepted.json() == {"size": LIMIT, "sum": sum(small)}
    refused = await http.post("/echo", content=chunks(large))
    assert refused.status_code == 413
    assert echo.calls == 1


async def test_a_get_without_body_passes(http: httpx.AsyncClient, echo: Echo) -> None:
    assert (await http.get("/echo")).json() == {"size": 0, "sum": 0}


async def test_the_default_limit_is_64_kib(echo: Echo) -> None:
    app = make_app(echo)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.post("/echo", content=payload(64 * 1024))).status_code == 200
        assert (await client.post("/echo", content=payload(64 * 1024 + 1))).status_code == 413


class Recorder:
    """An inner ASGI app that records what it was called with and what it received."""

    def __init__(self) -> None:
        self.scopes: list[str] = []
        self.received: list[Message] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope["type"])
        if scope["type"] == "http":
            self.received.append(await receive())
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})


def feeder(messages: list[Message]) -> Receive:
    async def receive() -> Message:
        return messages.pop(0)

    return receive


async def collect(app: Any, scope: Scope, messages: list[Message]) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, feeder(messages), send)
    return sent


def http_scope(headers: list[tuple[bytes, bytes]]) -> Scope:
    return {"type": "http", "method": "POST", "path": "/", "headers": headers}


async def test_an_understated_content_length_does_not_get_past_the_cap() -> None:
    inner = Recorder()
    middleware = BodySizeLimitMiddleware(inner, max_bytes=10)
    sent = await collect(
        middleware,
        http_scope([(b"content-length", b"5")]),
        [{"type": "http.request", "body": b"x" * 8, "more_body": True}, {"type": "http.request", "body": b"x" * 8}],
    )
    assert sent[0]["status"] == 413
    assert inner.scopes == []


async def test_an_announced_oversized_body_is_refused_without_reading_it() -> None:
    inner = Recorder()
    middleware = BodySizeLimitMiddleware(inner, max_bytes=10)
    unread: list[Message] = [{"type": "http.request", "body": b"x" * 11}]
    sent = await collect(middleware, http_scope([(b"content-length", b"11")]), unread)
    assert sent[0]["status"] == 413
    assert len(unread) == 1, "the body was not read"
    assert inner.scopes == []


async def test_a_client_that_leaves_early_is_passed_on_to_the_app() -> None:
    inner = Recorder()
    await collect(BodySizeLimitMiddleware(inner), http_scope([]), [{"type": "http.disconnect"}])
    assert inner.received == [{"type": "http.disconnect"}]


async def test_other_scopes_pass_through() -> None:
    inner = Recorder()
    await collect(BodySizeLimitMiddleware(inner), {"type": "lifespan"}, [])
    assert inner.scopes == ["lifespan"]
