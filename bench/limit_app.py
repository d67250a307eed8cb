"""Bench only: the app, plus one extra path that answers the homepage's exact response bytes.

`uvicorn bench.limit_app:create_bench_app --factory` serves the app as `app:create_app --factory`
would, except that POST LIMIT_PATH answers the bytes /graphql gave for the homepage query at
start-up, without any GraphQL work. That is the limit the response cache can approach: the same
process, the same uvicorn, the same request, and nothing done but sending bytes. It lives here, never
in the app, so that no deployed server ever has such a path.
"""

from __future__ import annotations

import httpx
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import create_app
from bench.operations import HOMEPAGE, body

LIMIT_PATH = "/_bench/homepage-bytes"  # inside the app's middleware stack
BARE_PATH = "/_bench/homepage-bytes-bare"  # in front of it: uvicorn and nothing else


class HomepageBytes:
    """Passes everything to `app`; once the app has started, fetches the homepage from its /graphql
    and from then on serves those bytes on LIMIT_PATH."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.body = b""
        self.content_type = b"application/json"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._fetch_once_started(send))
        elif scope["type"] == "http" and scope["path"] == BARE_PATH:
            await self._serve(receive, send)
        else:
            await self.app(scope, receive, send)

    def _fetch_once_started(self, send: Send) -> Send:
        async def forward(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                try:
                    await self._fetch()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": f"homepage not fetched: {exc!r}"})
                    return
            await send(message)

        return forward

    async def _fetch(self) -> None:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            response = await client.post(
                "/graphql", content=body(HOMEPAGE), headers={"content-type": "application/json"}
            )
        if response.status_code != 200 or b'"errors"' in response.content:
            raise RuntimeError(f"/graphql answered {response.status_code}: {response.text[:500]}")
        self.body = response.content
        self.content_type = response.headers["content-type"].encode("latin-1")

    async def _serve(self, receive: Receive, send: Send) -> None:
        # The request body is read as /graphql would read it, so both sides pay for it alike.
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            more = message.get("more_body", False)
        headers = [(b"content-type", self.content_type), (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


class _InsideTheStack:
    """LIMIT_PATH as a route of the app itself, so that the bytes pass every middleware a /graphql
    answer passes (request id, security headers, CORS, metrics, body limit): what stays different
    from /graphql is only the GraphQL endpoint's own work."""

    def __init__(self, limit: HomepageBytes) -> None:
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.limit._serve(receive, send)


def create_bench_app() -> ASGIApp:
    """The factory uvicorn calls: settings come from the environment, as for `app:create_app`."""
    app = create_app()
    limit = HomepageBytes(app)
    app.router.routes.insert(0, Route(LIMIT_PATH, _InsideTheStack(limit), methods=["POST"]))
    return limit
