"""Every Prometheus metric of hospital-bff, and what feeds them: an ASGI middleware (requests by route
and status), httpx transports (upstream latency), SQLAlchemy events (statement latency), a collector
read at scrape time (connection pool), and the /metrics endpoint.

Label values are bounded by construction: route templates, not paths; an operation name only when it
looks like one; error codes from the schema's enum; upstream names chosen at start-up.

Several worker processes (`uvicorn --workers N`): set PROMETHEUS_MULTIPROC_DIR to an empty directory
writable by every worker (emptied before each start). Each worker then writes its samples there and
/metrics adds them up across workers; the pool gauges are those of the worker answering the scrape.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import httpx
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Requests of the mini-program take tens of milliseconds; HIS calls and slow statements up to seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "hbff_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
GRAPHQL_DURATION = Histogram(
    "hbff_graphql_operation_duration_seconds",
    "Time from parsing a GraphQL operation to its result, by operation name and type.",
    ["operation", "type"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_ERRORS = Counter("hbff_graphql_errors_total", "Errors in GraphQL results, by extensions.code.", ["code"])
RESPONSE_CACHE_LOOKUPS = Counter(
    "hbff_response_cache_lookups_total",
    "Response-cache lookups, by result (hit, miss, stale, error).",
    ["result"],
)
RATE_LIMIT_REJECTIONS = Counter(
    "hbff_rate_limit_rejections_total",
    "Requests refused with RATE_LIMITED, by bucket (address, account, login, payment).",
    ["bucket"],
)
RATE_LIMIT_FAILURES = Counter(
    "hbff_rate_limit_store_failures_total",
    "Rate-limit checks that could not reach their store and let the request through, by bucket.",
    ["bucket"],
)
UPSTREAM_DURATION = Histogram(
    "hbff_upstream_request_duration_seconds",
    "HTTP requests to outside systems (HIS, WeChat, WeChat Pay), by upstream and outcome "
    "(2xx, 3xx, 4xx, 5xx, timeout, error).",
    ["upstream", "outcome"],
    buckets=LATENCY_BUCKETS,
)
DB_STATEMENT_DURATION = Histogram(
    "hbff_db_statement_duration_seconds",
    "Database statement execution time, by statement kind (SELECT, INSERT, UPDATE, DELETE, OTHER).",
    ["statement"],
    buckets=LATENCY_BUCKETS,
)

# ---- label values ----------------------------------------------------------------------------------

_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def operation_label(name: str | None) -> str:
    """The operation name when it looks like one; "anonymous" without a name, "other" for anything else."""
    if not name:
        return "anonymous"
    return name if _OPERATION_NAME.match(name) else "other"


_STATEMENT_KINDS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})


def statement_label(statement: str) -> str:
    first = statement.lstrip(" \t\r\n(").split(None, 1)
    kind = first[0].upper() if first else ""
    if kind == "WITH":  # a CTE; what it does comes later, and the label is only a rough split
        return "SELECT"
    return kind if kind in _STATEMENT_KINDS else "OTHER"


# ---- HTTP requests -------------------------------------------------------------------------------------


class HttpMetricsMiddleware:
    """Counts every HTTP response by the route it matched (the template, never the raw path)."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless a response starts: the server answers 500 for an exception

        async def send_counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            HTTP_REQUESTS.labels(self._route(scope), scope["method"], str(status)).inc()

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            # Answered before routing (a rate limit, a body too large): find the route it was meant for.
            route = next((r for r in self.routes if r.matches(scope)[0] is not Match.NONE), None)
        path = getattr(route, "path", None)
        return path if isinstance(path, str) else "unmatched"


# ---- upstream HTTP requests ----------------------------------------------------------------------------


class UpstreamMetricsTransport(httpx.AsyncBaseTransport):
    """Times each request sent through `inner`. A transport rather than event hooks: hooks never hear of
    a request that timed out or failed to connect, and those are the ones worth watching."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, upstreams: Mapping[str, str]) -> None:
        self._inner = inner
        self._upstreams = upstreams

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        upstream = self._upstreams.get(request.url.host, "other")
        started = time.perf_counter()
        outcome = "error"
        try:
            response = await self._inner.handle_async_request(request)
            outcome = f"{response.status_code // 100}xx"
            return response
        except httpx.TimeoutException:
            outcome = "timeout"
            raise
        except (TimeoutError, asyncio.CancelledError):
            # The HIS adapter's own time-out cancels the request while it waits.
            outcome = "timeout"
            raise
        finally:
            UPSTREAM_DURATION.labels(upstream, outcome).observe(time.perf_counter() - started)

    async def aclose(self) -> None:
        await self._inner.aclose()


def instrumented_transports(
    mounts: Mapping[str, httpx.AsyncBaseTransport], *, upstreams: Mapping[str, str]
) -> dict[str, Any]:
    """`mounts` and `transport` for httpx.AsyncClient, every one of them timed. `upstreams` maps a
    host name to the upstream label ("his", "wechat", "wechatpay"); other hosts count as "other"."""
    return {
        "mounts": {pattern: UpstreamMetricsTransport(inner, upstreams=upstreams) for pattern, inner in mounts.items()},
        "transport": UpstreamMetricsTransport(httpx.AsyncHTTPTransport(), upstreams=upstreams),
    }


def upstream_hosts(**urls: str | None) -> dict[str, str]:
    """{host: name} from name=url pairs, skipping unset URLs."""
    return {httpx.URL(url).host: name for name, url in urls.items() if url}


# ---- the database -------------------------------------------------------------------------------------

_STARTED = "hbff_statement_started"


def instrument_engine(engine: AsyncEngine) -> None:
    """Statement latency from the cursor events; pool use read by the collector at scrape time."""
    sync_engine = engine.sync_engine

    def before(_conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool) -> None:
        if context is not None:
            setattr(context, _STARTED, time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        started = getattr(context, _STARTED, None)
        if started is not None:
            DB_STATEMENT_DURATION.labels(statement_label(statement)).observe(time.perf_counter() - started)

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
    _POOLS.track(engine)


class PoolCollector(Collector):
    """Connections checked out of the pool and the pool's size, read when Prometheus scrapes. One engine
    per process is tracked: the newest application's."""

    def __init__(self) -> None:
        self._engine: weakref.ReferenceType[AsyncEngine] | None = None

    def track(self, engine: AsyncEngine) -> None:
        self._engine = weakref.ref(engine)

    def untrack(self, engine: AsyncEngine) -> None:
        if self._engine is not None and self._engine() is engine:
            self._engine = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self._engine() if self._engine is not None else None
        pool = engine.pool if engine is not None else None
        checked_out = getattr(pool, "checkedout", None)
        size = getattr(pool, "size", None)
        if callable(checked_out) and callable(size):
            yield GaugeMetricFamily(
                "hbff_db_pool_checked_out", "Database connections in use by requests now.", value=checked_out()
            )
            yield GaugeMetricFamily(
                "hbff_db_pool_size", "Connections the pool keeps open (more may overflow).", value=size()
            )


_POOLS = PoolCollector()
REGISTRY.register(_POOLS)


def untrack_engine(engine: AsyncEngine) -> None:
    _POOLS.untrack(engine)


# ---- /metrics ------------------------------------------------------------------------------------------


def _registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    # Several workers: add up the samples every worker wrote (a fresh registry per scrape, as documented).
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(_POOLS)
    return registry


def metrics_endpoint(token: str | None) -> Callable[[Request], Any]:
    """The /metrics route; with a token, only a request bearing it is answered."""
    expected = f"Bearer {token}".encode() if token else None

    async def metrics(request: Request) -> Response:
        """Prometheus text exposition of every metric of this process (or of all workers)."""
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return JSONResponse(
                    {"message": "a bearer token is needed"},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)

    return metrics


def error_codes(errors: Iterable[Any]) -> Iterator[str]:
    """extensions.code of each error (GraphQLError or its JSON form); None when absent."""
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else getattr(error, "extensions", None)
        code = (extensions or {}).get("code")
        yield code if isinstance(code, str) else "NONE"
