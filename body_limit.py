"""A cap on the size of HTTP request bodies, as a pure ASGI middleware.

GraphQL requests are small; a large body is a mistake or an attack, and the GraphQL view would
read all of it into memory before looking at it. Bodies over the cap get 413 without reaching the
application: at once when Content-Length announces it, otherwise as soon as the bytes received
pass the cap (chunked bodies, or a Content-Length that understates the body).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BYTES = 64 * 1024


class BodySizeLimitMiddleware:
    """Answers 413 to HTTP requests whose body is larger than `max_bytes`; other scopes pass through.

    The body (at most `max_bytes`) is read before the application runs and then handed to it
    unchanged, so an oversized request never reaches the application at all.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = _content_length(scope)
        if announced is not None and announced > self.max_bytes:
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    async def _too_large(self, send: Send) -> None:
        content = json.dumps(
            {
                "errors": [
                    {
                        "message": f"The request body is larger than {self.max_bytes} bytes.",
                        "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                    }
                ]
            }
        ).encode()
        await send_json(send, 413, content, (b"connection", b"close"))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            # A malformed length is left to the server; the byte count still applies.
            return int(text) if text.isascii() and text.isdigit() else None
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive callable that first returns `messages`, then defers to `receive` (disconnects)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def send_json(send: Send, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    """A JSON answer sent by a middleware itself, before (or instead of) the application."""
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})
