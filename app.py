"""The Starlette application: long-lived clients built once in the lifespan, routes (the GraphQL
endpoint is server/graphql_http.py) and middlewares.

Run it with `make run`, or `uvicorn app:create_app --factory` after `python -m cli migrate`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import graphiql
import log_privacy
from body_limit import BodySizeLimitMiddleware
from datasources.cache import Cache, create_cache
from datasources.consults.service import ConsultOrders
from datasources.consults.store import Actor
from datasources.consults.video import VideoLinks
from datasources.consults.visits import PortVisits
from datasources.db.engine import Sessions, create_engine, session_factory
from datasources.his.embedded import EmbeddedHis
from datasources.his.port import HisPort, UnconfiguredHis
from datasources.his.resilience import Breakers
from datasources.his.service import HisService
from datasources.his.setup import build_his, plan_his
from datasources.his.simulator import HisSimulator
from datasources.identity.field_crypto import FieldCipher
from datasources.identity.tokens import SessionTokens
from datasources.payments import NotificationKind, WeChatPay, build_payments, plan_payments
from datasources.payments.sandbox import WeChatPaySandbox
from datasources.rankings import RankingJob
from datasources.rate_limits import RateLimiter, create_rate_limiter, rate_limit_rules
from datasources.response_cache import ResponseCache
from datasources.signed_links import AttachmentLinks
from datasources.wechat import WeChatClient, sandbox_transport
from domain.audit import ActorKind
from domain.consults import Deadlines
from downloads import attachment_download
from schema.cache_control import RANKING_REFRESH_TAGS
from server import metrics, structured_logs, tracing
from server.graphql_http import GraphQLEndpoint
from server.rate_limit import RateLimitMiddleware, parse_networks
from server.security import SecurityHeadersMiddleware, cors_options
from settings import ROOT, Settings, get_settings

logger = logging.getLogger("hospital_bff")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Resources:
    """What lives as long as the process: one engine, one cache client, one HTTP client."""

    settings: Settings
    engine: AsyncEngine
    sessions: Sessions
    cache: Cache
    clock: Clock
    http: httpx.AsyncClient  # one pooled client for every outside HTTP service
    wechat: WeChatClient
    tokens: SessionTokens
    cipher: FieldCipher
    his: HisService
    breakers: Breakers  # one circuit breaker per upstream
    attachment_links: AttachmentLinks
    rankings: RankingJob  # refreshes the ranking boards (started when RANKING_REFRESH_SECONDS > 0)
    payments: WeChatPay
    pay_sandbox: WeChatPaySandbox | None  # the WeChat Pay sandbox, when no WECHATPAY_BASE_URL is set
    visit_history: HisPort  # offline visits, for the 复诊续方 eligibility check
    consults: ConsultOrders
    rate_limiter: RateLimiter
    response_cache: ResponseCache  # public responses, two tiers, invalidated by tag on every instance

    his_simulator: HisSimulator | None = None  # the embedded HIS, when no HIS_FHIR_BASE_URL is set


def _deliverer(own: httpx.AsyncClient) -> Callable[[str, Mapping[str, str], bytes], Any]:
    async def deliver(url: str, headers: Mapping[str, str], body: bytes) -> int:
        # Only the path counts: the sandbox always delivers to this very app.
        response = await own.post(httpx.URL(url).path, content=body, headers=dict(headers))
        return response.status_code

    return deliver


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
        log_context = structured_logs.request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structured_logs.request_id_var.reset(log_context)


async def healthz(_: Request) -> Response:
    """The process is alive and serving."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready for traffic when the database answers. Redis down only degrades the service (public
    queries still answer from the database; signed-in requests answer UNAVAILABLE): every instance
    shares one Redis, so calling them all unready would take the whole service down with it."""
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
    ready = checks["database"] == "ok"
    status = ("ready" if checks["cache"].startswith("ok") else "degraded") if ready else "not ready"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503)


def _notification_endpoint(kind: NotificationKind) -> Callable[[Request], Any]:
    async def receive(request: Request) -> Response:
        """WeChat Pay posts here; 204 once recorded (or recorded before), 4xx when not trusted."""
        res: Resources = request.app.state.resources
        body = await request.body()
        actor = Actor(
            ActorKind.SYSTEM,
            "wechatpay",
            request_id=request.scope.get("state", {}).get("request_id"),
            client_address=request.client.host if request.client else None,
        )
        answer = await res.consults.on_notification(kind, request.headers, body, actor=actor, now=res.clock())
        if answer.status == 204:
            return Response(status_code=204)
        return JSONResponse({"code": answer.code, "message": answer.message}, status_code=answer.status)

    return receive


async def _consult_jobs(res: Resources) -> None:
    """Runs the consult jobs every CONSULT_JOBS_INTERVAL_SECONDS for the life of the process."""
    while True:
        await asyncio.sleep(res.settings.consult_jobs_interval_seconds)
        try:
            report = await res.consults.run_jobs(now=res.clock())
            if report.expired or report.missed_deadlines or report.payments_found or report.refunds_retried:
                logger.info("consult jobs: %s", report)
        except Exception:
            logger.exception("consult jobs failed; next run in %s s", res.settings.consult_jobs_interval_seconds)


def _visit_history(settings: Settings, clock: Clock, his: HisService) -> HisPort:
    """Where the 复诊续方 eligibility check reads offline visits: the hospital's HIS when one is
    configured (the same FHIR adapter the health records use); otherwise, in development, an embedded
    list of the demo patients' visits, and in production nothing (every check answers unavailable)."""
    if settings.his_fhir_base_url:
        return his.port
    return EmbeddedHis(clock) if settings.is_dev else UnconfiguredHis()


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> Starlette:
    settings = settings or get_settings()
    state: dict[str, Resources] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log_privacy.configure(structured_logs.formatter(settings.logs_as_json))
        engine = create_engine(
            settings.database_url, pool_size=settings.database_pool_size, echo=settings.database_echo
        )
        metrics.instrument_engine(engine)
        cache = create_cache(
            settings.redis_url,
            settings.redis_key_prefix,
            socket_timeout=settings.redis_socket_timeout_seconds,
            connect_timeout=settings.redis_connect_timeout_seconds,
            retry_seconds=settings.redis_retry_seconds,
        )
        app_secret = settings.wechat_app_secret.get_secret_value()
        # Without a WeChat address the sandbox answers in-process, speaking WeChat's own protocol; without
        # a HIS address (dev) the HIS simulator does, speaking FHIR R4. Everything else goes out.
        wechat_base = settings.wechat_api_base_url or "http://wechat-sandbox"
        his_plan = plan_his(settings, clock)
        mounts: dict[str, httpx.AsyncBaseTransport] = dict(his_plan.mounts)
        if not settings.wechat_api_base_url:
            mounts["all://wechat-sandbox"] = sandbox_transport(settings.wechat_app_id, app_secret)
        pay_plan = plan_payments(settings, clock)
        mounts |= pay_plan.mounts
        upstreams = metrics.upstream_hosts(his=his_plan.base_url, wechat=wechat_base, wechatpay=pay_plan.base_url)
        http = httpx.AsyncClient(
            **metrics.instrumented_transports(mounts, upstreams=upstreams), timeout=httpx.Timeout(5.0, connect=2.0)
        )
        # The app's own endpoints, in-process: where the WeChat Pay sandbox delivers its notifications.
        own = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hospital-bff")
        cipher = FieldCipher(settings.data_encryption_key.get_secret_value())
        breakers = Breakers(
            failure_threshold=settings.his_breaker_failures, reset_after=settings.his_breaker_reset_seconds
        )
        his = build_his(settings, his_plan, http=http, cache=cache, cipher=cipher, breakers=breakers, clock=clock)
        sessions = session_factory(engine)
        response_cache = ResponseCache(
            redis_url=settings.redis_url,
            prefix=settings.redis_key_prefix,
            enabled=settings.response_cache_enabled,
            memory_entries=settings.response_cache_memory_entries,
            lease_seconds=settings.response_cache_lease_seconds,
            wait_seconds=settings.response_cache_wait_seconds,
        )
        rankings = RankingJob(
            sessions=sessions,
            cache=cache,
            clock=clock,
            rules=settings.ranking_rules,
            interval=timedelta(seconds=settings.ranking_refresh_seconds),
            lock_ttl=timedelta(seconds=settings.ranking_lock_seconds),
            on_refresh=lambda: response_cache.invalidate(RANKING_REFRESH_TAGS),
        )
        payments = build_payments(settings, pay_plan, http=http, clock=clock)
        visit_history = _visit_history(settings, clock, his)
        if pay_plan.sandbox is not None:
            pay_plan.sandbox.deliver_to = _deliverer(own)
        resources = Resources(
            settings=settings,
            engine=engine,
            sessions=sessions,
            cache=cache,
            clock=clock,
            http=http,
            wechat=WeChatClient(http, app_id=settings.wechat_app_id, app_secret=app_secret, base_url=wechat_base),
            tokens=SessionTokens(settings.session_secret.get_secret_value(), cache),
            cipher=cipher,
            his=his,
            breakers=breakers,
            attachment_links=AttachmentLinks(
                settings.session_secret.get_secret_value(),
                lifetime=timedelta(seconds=settings.attachment_link_ttl_seconds),
            ),
            his_simulator=his_plan.simulator,
            rankings=rankings,
            payments=payments,
            pay_sandbox=pay_plan.sandbox,
            visit_history=visit_history,
            rate_limiter=create_rate_limiter(
                settings.redis_url, settings.redis_key_prefix, clock=lambda: clock().timestamp()
            ),
            consults=ConsultOrders(
                sessions=sessions,
                payments=payments,
                visits=PortVisits(visit_history),
                cipher=cipher,
                video=VideoLinks(
                    base_url=settings.video_provider_base_url,
                    secret=settings.video_link_secret.get_secret_value(),
                    lifetime=timedelta(minutes=settings.video_link_minutes),
                ),
                unpaid_minutes=settings.consult_unpaid_minutes,
                deadlines=Deadlines(
                    rapid=timedelta(minutes=settings.consult_rapid_response_minutes),
                    direct=timedelta(hours=settings.consult_accept_hours),
                    coordinated=timedelta(hours=settings.consult_coordination_hours),
                ),
                follow_up_window_days=settings.consult_follow_up_window_days,
                rapid_price_cents=settings.consult_rapid_price_cents,
                mdt_price_cents=settings.consult_mdt_price_cents,
            ),
            response_cache=response_cache,
        )
        state["resources"] = app.state.resources = resources
        # Everything built so far lives as long as the process: moved out of the collector's sight,
        # a full collection no longer walks those ~250,000 objects (a 100 ms pause in a request's p99).
        gc.collect()
        gc.freeze()
        await response_cache.start()
        if settings.ranking_refresh_seconds > 0:
            rankings.start()
        jobs = asyncio.create_task(_consult_jobs(resources)) if settings.consult_jobs_enabled else None
        try:
            yield
        finally:
            if jobs is not None:
                jobs.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await jobs
            await rankings.stop()
            await response_cache.close()
            await his.aclose()
            await own.aclose()
            await http.aclose()
            await cache.close()
            await resources.rate_limiter.close()
            metrics.untrack_engine(engine)
            await engine.dispose()

    endpoint = GraphQLEndpoint(lambda: state["resources"], settings=settings)
    routes: list[BaseRoute] = [
        Route("/graphql", endpoint, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        # A report's PDF behind a short-lived signed link (see downloads.py); never cached.
        Route("/health-record/attachments/{token}", attachment_download, methods=["GET"]),
        Route("/payments/wechat/notify", _notification_endpoint(NotificationKind.TRANSACTION), methods=["POST"]),
        Route("/payments/wechat/refund-notify", _notification_endpoint(NotificationKind.REFUND), methods=["POST"]),
    ]
    if settings.is_dev:
        routes += graphiql.asset_routes(ROOT)
    if settings.serves_metrics:
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        routes.append(Route("/metrics", metrics.metrics_endpoint(token), methods=["GET"]))
    if settings.otel_enabled:
        tracing.enable(endpoint.schema)
    app = Starlette(routes=routes, lifespan=lifespan)
    # Added first, so it runs inside the request-id middleware: a 413 still carries its request id.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=64 * 1024)
    # Before the body is read: a flood costs as little as possible. It also finds the client's address.
    app.add_middleware(
        RateLimitMiddleware,
        limiter=lambda: state["resources"].rate_limiter if settings.rate_limits_enabled else None,
        limit=rate_limit_rules(settings).address,
        trusted_proxies=parse_networks(settings.trusted_proxies),
    )
    app.add_middleware(RequestIdMiddleware)
    # Outermost: CORS preflights and every other answer, 413 included, carry the security headers.
    app.add_middleware(CORSMiddleware, **cors_options(settings.cors_origins))
    app.add_middleware(SecurityHeadersMiddleware, hsts=not settings.is_dev)
    app.add_middleware(metrics.HttpMetricsMiddleware, routes=routes)  # outermost: counts every answer
    return app
