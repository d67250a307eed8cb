"""The Starlette application: long-lived clients built once in the lifespan, routes, and the
GraphQL view that builds a typed Context for every request.

Run it with `make run`, or `uvicorn app:create_app --factory` after `python -m cli migrate`.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

import graphiql
import log_privacy
from body_limit import BodySizeLimitMiddleware
from datasources.cache import Cache, create_cache
from datasources.db.engine import Sessions, create_engine, session_factory
from datasources.identity.field_crypto import FieldCipher
from datasources.identity.tokens import SessionTokens
from datasources.identity.viewer import resolve_viewer
from datasources.wechat import WeChatClient, sandbox_transport
from loaders import make_loaders
from schema import dev_schema, schema
from schema.context import Context
from settings import ROOT, Settings, get_settings

logger = logging.getLogger("hospital_bff")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Resources:
    """What lives as long as the process: one engine, one cache client."""

    settings: Settings
    engine: AsyncEngine
    sessions: Sessions
    cache: Cache
    clock: Clock
    http: httpx.AsyncClient  # one pooled client for every outside HTTP service
    wechat: WeChatClient
    tokens: SessionTokens
    cipher: FieldCipher


class HospitalGraphQL(GraphQL[Context, None]):
    """strawberry's ASGI view with our Context and the offline GraphiQL page."""

    def __init__(self, resources: Callable[[], Resources], *, dev: bool, **kwargs: Any) -> None:
        super().__init__(dev_schema if dev else schema, **kwargs)
        self._resources = resources
        # Built once: the page only changes when the installed assets do.
        self._ide_page = graphiql.graphiql_html(ROOT) if self.graphql_ide else ""

    async def get_context(self, request: Request, response: Any) -> Context:  # type: ignore[override]
        res = self._resources()
        now = res.clock()
        viewer = await resolve_viewer(
            request.headers.get("authorization"),
            tokens=res.tokens,
            sessions=res.sessions,
            now=now,
            staff_idle=timedelta(minutes=res.settings.staff_session_idle_minutes),
        )
        return Context(
            request=request,
            request_id=request.scope.get("state", {}).get("request_id", "-"),
            client_address=request.client.host if request.client else None,
            now=now,
            settings=res.settings,
            viewer=viewer,
            db=res.sessions,
            cache=res.cache,
            loaders=make_loaders(res.sessions, now=now, stats_window_days=res.settings.stats_window_days),
            tokens=res.tokens,
            cipher=res.cipher,
            wechat=res.wechat,
        )

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self._ide_page)


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Gives every request an id (the caller's X-Request-ID when well-formed) and echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


async def healthz(_: Request) -> Response:
    """The process is alive and serving."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready for traffic: the database answers, and Redis when it is configured."""
    res: Resources = request.app.state.resources
    checks: dict[str, str] = {}
    try:
        async with res.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        logger.warning("readiness: database unreachable", exc_info=True)
        checks["database"] = "unreachable"
    checks["cache"] = "ok" if await res.cache.ping() else "unreachable"
    if res.cache.backend == "memory":
        checks["cache"] = "ok (in-process)"
    ready = all(value.startswith("ok") for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> Starlette:
    settings = settings or get_settings()
    state: dict[str, Resources] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log_privacy.configure()
        engine = create_engine(
            settings.database_url, pool_size=settings.database_pool_size, echo=settings.database_echo
        )
        cache = create_cache(settings.redis_url, settings.redis_key_prefix)
        app_secret = settings.wechat_app_secret.get_secret_value()
        # Without a WeChat address the sandbox answers in-process, speaking WeChat's own protocol.
        wechat_base = settings.wechat_api_base_url or "http://wechat-sandbox"
        transport = None if settings.wechat_api_base_url else sandbox_transport(settings.wechat_app_id, app_secret)
        http = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, connect=2.0))
        resources = Resources(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            cache=cache,
            clock=clock,
            http=http,
            wechat=WeChatClient(http, app_id=settings.wechat_app_id, app_secret=app_secret, base_url=wechat_base),
            tokens=SessionTokens(settings.session_secret.get_secret_value(), cache),
            cipher=FieldCipher(settings.data_encryption_key.get_secret_value()),
        )
        state["resources"] = app.state.resources = resources
        try:
            yield
        finally:
            await http.aclose()
            await cache.close()
            await engine.dispose()

    view = HospitalGraphQL(
        lambda: state["resources"], dev=settings.is_dev, graphql_ide="graphiql" if settings.is_dev else None
    )
    routes: list[BaseRoute] = [
        Route("/graphql", view, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if settings.is_dev:
        routes += graphiql.asset_routes(ROOT)
    app = Starlette(routes=routes, lifespan=lifespan)
    # Added first, so it runs inside the request-id middleware: a 413 still carries its request id.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=64 * 1024)
    app.add_middleware(RequestIdMiddleware)
    return app
