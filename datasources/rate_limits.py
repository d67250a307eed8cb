"""Sliding-window rate limits: in Redis when configured (shared by every instance), otherwise in this
process, with the same interface.

Each bucket keeps the instants of the requests it allowed during the last window (a sorted set in
Redis, a deque here). A request is allowed while fewer than `requests` instants lie in the window; a
refused request is not recorded, so a client that keeps knocking is let in again as soon as its oldest
counted request leaves the window, and `retry_after` says exactly when that is.

Availability comes first: when Redis fails, the request is allowed (`failed_open`), and the caller logs
and counts it.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from settings import Settings

logger = logging.getLogger("hospital_bff.rate_limits")

Clock = Callable[[], float]  # seconds since the epoch


@dataclass(frozen=True)
class Limit:
    """At most `requests` per `window_seconds`, counted per key of the bucket `name`."""

    name: str
    requests: int
    window_seconds: float


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # whole seconds until a request would be allowed again; 0 when allowed
    remaining: int  # requests left in the window after this one
    failed_open: bool = False  # allowed only because the limiter's store could not be asked


class RateLimiter(Protocol):
    backend: str

    async def hit(self, limit: Limit, key: str, *, cost: int = 1) -> Decision:
        """Count `cost` requests of `key` against `limit`, unless that would exceed it."""
        ...

    async def close(self) -> None: ...


def _retry_after(seconds: float) -> int:
    # Rounded up: a client that waits exactly this long is let in.
    return max(1, math.ceil(seconds - 1e-9))


class MemoryRateLimiter:
    """The limits of one process (development, tests, a single instance)."""

    backend = "memory"

    def __init__(self, *, clock: Clock = time.time, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    async def hit(self, limit: Limit, key: str, *, cost: int = 1) -> Decision:
        now = self._clock()
        bucket_key = f"{limit.name}:{key}"
        hits = self._hits.get(bucket_key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._forget_idle(now, limit.window_seconds)
            hits = self._hits[bucket_key] = deque()
        while hits and hits[0] <= now - limit.window_seconds:
            hits.popleft()
        if len(hits) + cost > limit.requests:
            # The request may only pass once enough of the counted ones have left the window.
            needed = len(hits) + cost - limit.requests
            if needed > len(hits):  # costs more than the whole limit: never, so the full window
                return Decision(False, _retry_after(limit.window_seconds), 0)
            return Decision(False, _retry_after(hits[needed - 1] + limit.window_seconds - now), 0)
        hits.extend([now] * cost)
        return Decision(True, 0, limit.requests - len(hits))

    def _forget_idle(self, now: float, window: float) -> None:
        """Bounds memory under many distinct clients: drop buckets without a hit in the last window."""
        for bucket_key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - window]:
            del self._hits[bucket_key]

    async def close(self) -> None:
        self._hits.clear()


# One round trip, atomic on the server: trim the window, count, and record the request if it fits.
# ARGV: now (ms), window (ms), limit, cost, unique member prefix.
_SLIDING_WINDOW = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count + cost > limit then
    local needed = count + cost - limit
    if needed > count then
        return {0, 0, window}
    end
    local oldest = redis.call('ZRANGE', key, needed - 1, needed - 1, 'WITHSCORES')
    return {0, 0, tonumber(oldest[2]) + window - now}
end
for i = 1, cost do
    redis.call('ZADD', key, now, ARGV[5] .. ':' .. i)
end
redis.call('PEXPIRE', key, window)
return {1, limit - count - cost, 0}
"""


REDIS_RETRY_SECONDS = 1.0


class RedisRateLimiter:
    """Limits shared by every instance; each bucket is one sorted set under this deployment's prefix."""

    backend = "redis"

    def __init__(self, url: str, prefix: str, *, clock: Clock = time.time, redis: Redis | None = None) -> None:
        self._redis = redis or Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._prefix = prefix + "ratelimit:"
        self._clock = clock
        self._script = self._redis.register_script(_SLIDING_WINDOW)
        self._retry_at = 0.0  # after a failure Redis is left alone this long: requests would queue on it

    async def hit(self, limit: Limit, key: str, *, cost: int = 1) -> Decision:
        if time.monotonic() < self._retry_at:
            return Decision(True, 0, limit.requests, failed_open=True)
        now_ms = self._clock() * 1000
        window_ms = limit.window_seconds * 1000
        try:
            allowed, remaining, wait_ms = await self._script(
                keys=[f"{self._prefix}{limit.name}:{key}"],
                args=[repr(now_ms), repr(window_ms), limit.requests, cost, secrets.token_hex(8)],
            )
        except Exception as error:
            # The message may quote the server's address; the class is enough to tell what happened.
            logger.warning("rate limit %s not checked, request allowed: Redis %s", limit.name, type(error).__name__)
            self._retry_at = time.monotonic() + REDIS_RETRY_SECONDS
            return Decision(True, 0, limit.requests, failed_open=True)
        if allowed:
            return Decision(True, 0, int(remaining))
        return Decision(False, _retry_after(float(wait_ms) / 1000), 0)

    async def close(self) -> None:
        await self._redis.aclose()


def create_rate_limiter(redis_url: str | None, prefix: str, *, clock: Clock = time.time) -> RateLimiter:
    return RedisRateLimiter(redis_url, prefix, clock=clock) if redis_url else MemoryRateLimiter(clock=clock)


@dataclass(frozen=True)
class RateLimitRules:
    """The four buckets, as configured."""

    address: Limit  # every /graphql request, per client address
    account: Limit  # every operation of a signed-in account
    login: Limit  # each sign-in field, per client address
    payment: Limit  # each order, payment or refund field, per account (per address when signed out)


def rate_limit_rules(settings: Settings) -> RateLimitRules:
    return RateLimitRules(
        address=Limit("address", settings.rate_limit_address_requests, settings.rate_limit_address_window_seconds),
        account=Limit("account", settings.rate_limit_account_requests, settings.rate_limit_account_window_seconds),
        login=Limit("login", settings.rate_limit_login_requests, settings.rate_limit_login_window_seconds),
        payment=Limit("payment", settings.rate_limit_payment_requests, settings.rate_limit_payment_window_seconds),
    )
