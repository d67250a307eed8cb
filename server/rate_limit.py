"""Per-address rate limit on /graphql, before any GraphQL work, and how a client's address is found."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from body_limit import send_json
from datasources.rate_limits import Limit, RateLimiter
from server.metrics import RATE_LIMIT_FAILURES, RATE_LIMIT_REJECTIONS

logger = logging.getLogger("hospital_bff.rate_limits")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
RATE_LIMITED = "RATE_LIMITED"  # the ErrorCode's value; this layer answers before GraphQL exists


def parse_networks(value: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in value.split(",") if item.strip())


def _in(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(scope: Scope, trusted_proxies: Sequence[Network]) -> str:
    """The socket peer; behind trusted proxies, the first X-Forwarded-For hop (from the right) that is not
    one of them. Hops left of that were written by the client and prove nothing."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not trusted_proxies or not _in(peer, trusted_proxies):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            forwarded += [_host_of(hop.strip()) for hop in value.decode("latin-1").split(",") if hop.strip()]
    for hop in reversed(forwarded):
        if not _in(hop, trusted_proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # not an address: the header was not written by our proxies
    return forwarded[0] if forwarded else peer


def _host_of(hop: str) -> str:
    """A hop without its port, as some proxies write it: `203.0.113.9:4711` → `203.0.113.9`,
    `[2001:db8::1]:443` → `2001:db8::1`; anything else as it is."""
    if hop.startswith("["):
        return hop[1:].split("]", 1)[0]
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop


def rate_limited_message(retry_after: int) -> str:
    return f"请求过于频繁，请 {retry_after} 秒后再试 (too many requests; try again in {retry_after} s)"


def rate_limited_body(retry_after: int) -> bytes:
    error = {
        "message": rate_limited_message(retry_after),
        "extensions": {"code": RATE_LIMITED, "retryAfter": retry_after},
    }
    return orjson.dumps({"errors": [error]})


class RateLimitMiddleware:
    """Every request to `path` counts against its client address; over the limit it gets 429."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: Callable[[], RateLimiter | None],
        limit: Limit,
        trusted_proxies: Sequence[Network] = (),
        path: str = "/graphql",
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.limit = limit
        self.trusted_proxies = tuple(trusted_proxies)
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = self.limiter() if scope["type"] == "http" and scope["path"] == self.path else None
        if limiter is None:
            await self.app(scope, receive, send)
            return
        address = client_address(scope, self.trusted_proxies)
        scope.setdefault("state", {})["client_address"] = address
        decision = await limiter.hit(self.limit, address)
        if decision.failed_open:
            RATE_LIMIT_FAILURES.labels(self.limit.name).inc()
        if decision.allowed:
            await self.app(scope, receive, send)
            return
        RATE_LIMIT_REJECTIONS.labels(self.limit.name).inc()
        logger.info("rate limited: %s bucket, retry after %d s", self.limit.name, decision.retry_after)
        body = rate_limited_body(decision.retry_after)
        retry_after = (b"retry-after", str(decision.retry_after).encode())
        await send_json(send, 429, body, retry_after, (b"cache-control", b"no-store"))
