"""The response cache of public operations: exact response bytes, keyed by the operation, its
variables and the cache scope, tagged with what they show ("homepage", "articles", "rankings", …).

Two tiers: a bounded in-process LRU in front of Redis (when REDIS_URL is set; memory only
otherwise). Invalidation by tag reaches every instance: Redis keeps one set of keys per tag, and
`invalidate` deletes them and PUBLISHes the tags, on which every instance's listener drops its own
first-tier entries.

Two races are guarded:
- "computed before an invalidation, stored after it": every invalidation bumps a generation counter
  and records it for each tag; a response is only stored when none of its tags was invalidated since
  the counter was read before computing (checked atomically in Redis, and again in memory).
- stampede: one recompute at a time per key, in process (one future per key) and across instances
  (a short lease, SET NX PX); the others wait briefly for the value, then compute themselves.

Redis errors never fail a request: they are logged once per outage, counted, and the cache carries on
with the first tier or the computation. The Lua scripts touch keys derived from the tags, so they
assume one Redis server (not Redis Cluster).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import secrets
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger("hospital_bff.response_cache")


@dataclass(frozen=True)
class CachedResponse:
    body: bytes  # the exact JSON bytes sent to the client
    content_type: str
    max_age: int  # seconds; what Cache-Control says
    tags: frozenset[str]  # e.g. {"homepage", "rankings", "articles", "departments", "staff"}


Compute = Callable[[], Awaitable[CachedResponse | None]]


def response_cache_key(
    *, document: str, variables: Mapping[str, Any] | None, operation_name: str | None, scope: str
) -> str:
    """One key per (document, variables, operation, scope); the variables' key order does not matter."""
    canonical = orjson.dumps(
        {"d": document, "v": dict(variables or {}), "o": operation_name}, option=orjson.OPT_SORT_KEYS, default=str
    )
    return f"{scope}:{hashlib.sha256(canonical).hexdigest()}"


@dataclass
class ResponseCacheStats:
    """Counters for diagnostics and metrics."""

    memory_hits: int = 0
    redis_hits: int = 0
    misses: int = 0
    computes: int = 0  # compute() calls made by this instance
    stored: int = 0
    discarded: int = 0  # computed responses not stored because a tag was invalidated meanwhile
    lease_waits: int = 0  # waits for another instance's recompute
    redis_errors: int = 0
    invalidations_received: int = 0  # invalidation messages handled by the listener
    listener_reconnects: int = 0  # times the listener's connection failed or went silent


@dataclass
class _Local:
    response: CachedResponse
    expires_at: float  # wall-clock seconds, as stored in Redis, so that every instance agrees


@dataclass
class _Generations:
    """In-process mirror of the invalidation counters: `current` rises with every invalidation seen,
    `by_tag` remembers its value at each tag's latest invalidation."""

    current: int = 0
    by_tag: dict[str, int] = field(default_factory=dict)

    def bump(self, tags: Iterable[str]) -> None:
        self.current += 1
        for tag in tags:
            self.by_tag[tag] = self.current

    def unchanged_since(self, seen: int, tags: Iterable[str]) -> bool:
        return all(self.by_tag.get(tag, 0) <= seen for tag in tags)


_HEADER = struct.Struct(">I")
_FAILED: Any = object()
REDIS_RETRY_SECONDS = 1.0  # what a Redis command answers when Redis failed

# KEYS: entry, then n generation keys, then n tag-set keys. ARGV: payload, px, generation seen, n.
# Stores only when no tag was invalidated after the generation read before computing.
_STORE = """
local n = tonumber(ARGV[4])
local seen = tonumber(ARGV[3])
for i = 1, n do
  if tonumber(redis.call('get', KEYS[1 + i]) or '0') > seen then return 0 end
end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
local px = tonumber(ARGV[2])
for i = 1, n do
  local set = KEYS[1 + n + i]
  redis.call('sadd', set, KEYS[1])
  if redis.call('pttl', set) < px then redis.call('pexpire', set, px) end
end
return 1
"""

# KEYS: global generation, then n generation keys, then n tag-set keys. ARGV: n, channel, message.
_INVALIDATE = """
local n = tonumber(ARGV[1])
local generation = redis.call('incr', KEYS[1])
local deleted = 0
for i = 1, n do
  redis.call('set', KEYS[1 + i], generation)
  for _, key in ipairs(redis.call('smembers', KEYS[1 + n + i])) do
    deleted = deleted + redis.call('del', key)
  end
  redis.call('del', KEYS[1 + n + i])
end
redis.call('publish', ARGV[2], ARGV[3])
return deleted
"""

# Delete the lease only when it still holds our token.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _encode(response: CachedResponse, expires_at: float) -> bytes:
    header = json.dumps(
        {"t": response.content_type, "m": response.max_age, "g": sorted(response.tags), "x": expires_at}
    ).encode()
    return _HEADER.pack(len(header)) + header + response.body


def _decode(raw: bytes) -> _Local | None:
    try:
        (length,) = _HEADER.unpack_from(raw)
        header = json.loads(raw[_HEADER.size : _HEADER.size + length])
        body = raw[_HEADER.size + length :]
        response = CachedResponse(
            body=body, content_type=str(header["t"]), max_age=int(header["m"]), tags=frozenset(header["g"])
        )
        return _Local(response, float(header["x"]))
    except (struct.error, ValueError, KeyError, TypeError):
        return None


class ResponseCache:
    """See the module docstring. One per process, built in the app's lifespan."""

    def __init__(
        self,
        *,
        redis_url: str | None,
        prefix: str,
        enabled: bool = True,
        memory_entries: int = 512,
        lease_seconds: float = 5.0,
        wait_seconds: float = 2.0,
        listener_quiet_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = enabled
        self.stats = ResponseCacheStats()
        self._prefix = prefix + "rc:"
        self._channel = self._prefix + "invalidate"
        self._memory: OrderedDict[str, _Local] = OrderedDict()
        self._memory_entries = memory_entries
        self._lease_ms = max(1, int(lease_seconds * 1000))
        self._wait_seconds = wait_seconds
        self._listener_quiet_seconds = listener_quiet_seconds
        self._clock = clock
        self._generations = _Generations()
        self._inflight: dict[str, asyncio.Future[CachedResponse | None]] = {}
        # Keys whose last computation was not cacheable: their callers skip single-flight for a while,
        # so that requests for private data never queue behind each other.
        self._uncacheable: dict[str, float] = {}
        self._redis: Redis | None = None
        self._listener_redis: Redis | None = None
        if redis_url and enabled:
            self._redis = Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
            # The listener sees its errors at once (no silent reconnect that would hide missed messages).
            self._listener_redis = Redis.from_url(
                redis_url, socket_timeout=None, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 0)
            )
        self._redis_failing = False
        self._retry_redis_at = 0.0
        self._unsent_tags: set[str] = set()  # invalidations Redis did not take: sent again when it answers
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._received = asyncio.Condition()

    @property
    def backend(self) -> str:
        return "redis" if self._redis is not None else "memory"

    # ---- lifecycle ----

    async def start(self) -> None:
        """Start the invalidation listener (with Redis); waits briefly for its subscription, never for long."""
        if self._listener_redis is None or self._listener is not None:
            return
        self._listener = asyncio.create_task(self._listen(), name="response-cache-invalidations")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=2.0)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        for client in (self._redis, self._listener_redis):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()
        self._memory.clear()

    # ---- reading ----

    async def get(self, key: str) -> CachedResponse | None:
        """The response stored under `key`: from memory, else from Redis; None when absent or expired."""
        if not self.enabled:
            return None
        now = self._clock()
        local = self._memory.get(key)
        if local is not None:
            if local.expires_at > now:
                self._memory.move_to_end(key)
                self.stats.memory_hits += 1
                return self._aged(local, now)
            del self._memory[key]
        if self._redis is not None:
            seen = self._generations.current
            raw = await self._redis_call(lambda r: r.get(self._prefix + "e:" + key))
            found = _decode(raw) if isinstance(raw, bytes) else None
            if found is not None and found.expires_at > now:
                self.stats.redis_hits += 1
                # An invalidation that arrived while Redis answered must not be undone by this copy.
                if self._generations.unchanged_since(seen, found.response.tags):
                    self._remember(key, found)
                return self._aged(found, now)
        self.stats.misses += 1
        return None

    def in_memory(self, key: str) -> bool:
        """Whether this instance's first tier holds an unexpired `key` (diagnostics and tests)."""
        local = self._memory.get(key)
        return local is not None and local.expires_at > self._clock()

    async def get_or_compute(self, key: str, compute: Compute) -> CachedResponse | None:
        """The cached response, or `compute()`'s, stored when it is cacheable. One recompute at a time per
        key, across instances. A caller whose key turned out not to be cacheable (or whose recompute
        failed elsewhere) gets the result of its own `compute()`, never another request's."""
        if not self.enabled:
            return await self._compute(compute)
        cached = await self.get(key)
        if cached is not None:
            return cached
        if self._uncacheable.get(key, 0.0) > self._clock():
            return await self._compute(compute)
        running = self._inflight.get(key)
        if running is not None:
            try:
                shared = await asyncio.shield(running)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # this request itself was cancelled
                shared = None  # the request computing it was cancelled: compute here instead
            except Exception:
                shared = None
            return shared if shared is not None else await self._compute(compute)
        future: asyncio.Future[CachedResponse | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._fill(key, compute)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved here, so that no waiter-less future is reported
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[key]

    async def _fill(self, key: str, compute: Compute) -> CachedResponse | None:
        if self._redis is None:
            return await self._compute_and_store(key, compute)
        token = secrets.token_hex(8)
        lease = self._prefix + "l:" + key
        acquired = await self._redis_call(lambda r: r.set(lease, token, nx=True, px=self._lease_ms))
        if not acquired and acquired is not _FAILED:
            # Another instance recomputes: wait for its value, or until its lease is gone.
            self.stats.lease_waits += 1
            waited = await self._wait_for_other(key, lease)
            if waited is not None:
                return waited
            return await self._compute_and_store(key, compute)
        try:
            return await self._compute_and_store(key, compute)
        finally:
            if acquired is not _FAILED:
                await self._redis_call(lambda r: r.eval(_RELEASE, 1, lease, token))

    async def _wait_for_other(self, key: str, lease: str) -> CachedResponse | None:
        deadline = time.monotonic() + self._wait_seconds
        pause = 0.01
        while time.monotonic() < deadline:
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.1)
            cached = await self.get(key)
            if cached is not None:
                return cached
            held = await self._redis_call(lambda r: r.exists(lease))
            if held is _FAILED:
                return None
            if not held:
                # Released: either just after storing its value (read it once more) or without one.
                return await self.get(key)
        return None

    async def _compute(self, compute: Compute) -> CachedResponse | None:
        self.stats.computes += 1
        return await compute()

    async def _compute_and_store(self, key: str, compute: Compute) -> CachedResponse | None:
        seen_local = self._generations.current
        seen_shared = None
        if self._redis is not None:
            raw = await self._redis_call(lambda r: r.get(self._prefix + "gen"))
            if raw is not _FAILED:
                seen_shared = int(raw) if raw is not None else 0
        result = await self._compute(compute)
        if result is None or result.max_age <= 0:
            self._forget_uncacheable()
            self._uncacheable[key] = self._clock() + min(30.0, self._lease_ms / 1000)
            return result
        self._uncacheable.pop(key, None)
        expires_at = self._clock() + result.max_age
        if self._redis is not None and seen_shared is not None:
            tags = sorted(result.tags)
            keys = [
                self._prefix + "e:" + key,
                *(self._prefix + "g:" + tag for tag in tags),
                *(self._prefix + "t:" + tag for tag in tags),
            ]
            payload = _encode(result, expires_at)
            stored = await self._redis_call(
                lambda r: r.eval(_STORE, len(keys), *keys, payload, result.max_age * 1000, seen_shared, len(tags))
            )
            if stored == 0:
                self.stats.discarded += 1
                return result
        if self._generations.unchanged_since(seen_local, result.tags):
            self._remember(key, _Local(result, expires_at))
            self.stats.stored += 1
        else:
            self.stats.discarded += 1
        return result

    # ---- invalidation ----

    async def invalidate(self, tags: Iterable[str]) -> None:
        """Drop every response carrying any of `tags`, on every instance."""
        chosen = sorted(set(tags))
        if not chosen or not self.enabled:
            return
        self._drop_local(chosen)
        if self._redis is None:
            return
        keys = [
            self._prefix + "gen",
            *(self._prefix + "g:" + tag for tag in chosen),
            *(self._prefix + "t:" + tag for tag in chosen),
        ]
        message = json.dumps(chosen)
        # Tried even right after another Redis error (an invalidation must not be skipped), and kept to
        # send again once Redis answers when it fails: until then the other instances serve old answers.
        answer = await self._redis_call(
            lambda r: r.eval(_INVALIDATE, len(keys), *keys, len(chosen), self._channel, message), always=True
        )
        if answer is _FAILED:
            self._unsent_tags.update(chosen)

    def _drop_local(self, tags: Iterable[str]) -> None:
        chosen = set(tags)
        self._generations.bump(chosen)
        for key in [k for k, local in self._memory.items() if local.response.tags & chosen]:
            del self._memory[key]

    async def wait_for_invalidations(self, count: int) -> None:
        """Until the listener has handled `count` invalidation messages (tests wait on this)."""
        async with self._received:
            await self._received.wait_for(lambda: self.stats.invalidations_received >= count)

    async def _listen(self) -> None:
        assert self._listener_redis is not None
        pause = 0.2
        while True:
            pubsub = self._listener_redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                # Messages published while we were not subscribed are lost: start the first tier afresh.
                self._memory.clear()
                self._generations.bump(())
                self._subscribed.set()
                self._redis_recovered()
                pause = 0.2
                await self._receive(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # Messages may have been missed from now on: the first tier goes until subscribed again.
                self._memory.clear()
                self.stats.listener_reconnects += 1
                self._redis_failed(error)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            self._subscribed.clear()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)

    async def _receive(self, pubsub: Any) -> None:
        """Handle invalidations until the connection fails. A connection can also die silently (a
        restarted proxy or a dropped route, no reset ever arriving): after a quiet spell a PING must
        be answered within the same time, else the connection counts as lost."""
        quiet = self._listener_quiet_seconds
        heard = time.monotonic()
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=quiet)
            now = time.monotonic()
            if message is None:
                if pinged and now - heard >= quiet:
                    raise ConnectionError("the invalidation channel did not answer a PING")
                await pubsub.ping()
                pinged = True
                continue
            heard, pinged = now, False
            if message.get("type") != "message":
                continue  # the answer to a PING
            try:
                tags = [str(tag) for tag in json.loads(message["data"])]
            except (ValueError, TypeError):
                continue
            self._drop_local(tags)
            async with self._received:
                self.stats.invalidations_received += 1
                self._received.notify_all()

    # ---- helpers ----

    def _aged(self, local: _Local, now: float) -> CachedResponse:
        """The response with max_age cut to what is left, so that no downstream cache keeps it longer."""
        left = max(1, math.ceil(local.expires_at - now))
        response = local.response
        if left >= response.max_age:
            return response
        # The constructor, not dataclasses.replace: this runs on every hit, and replace costs 3x as much.
        return CachedResponse(response.body, response.content_type, left, response.tags)

    def _remember(self, key: str, local: _Local) -> None:
        if self._memory_entries <= 0:
            return
        self._memory[key] = local
        self._memory.move_to_end(key)
        while len(self._memory) > self._memory_entries:
            self._memory.popitem(last=False)

    def _forget_uncacheable(self) -> None:
        if len(self._uncacheable) >= 4 * max(self._memory_entries, 64):
            now = self._clock()
            self._uncacheable = {k: until for k, until in self._uncacheable.items() if until > now}
            if len(self._uncacheable) >= 4 * max(self._memory_entries, 64):
                self._uncacheable.clear()

    async def _redis_call(self, call: Callable[[Redis], Awaitable[Any]], *, always: bool = False) -> Any:
        """One Redis command's answer; _FAILED (counted, logged once per outage) when Redis fails."""
        assert self._redis is not None
        if not always and time.monotonic() < self._retry_redis_at:
            return _FAILED  # a Redis that just failed is not asked again at once: requests would queue on it
        try:
            result = await call(self._redis)
        except Exception as error:
            self._redis_failed(error)
            self._retry_redis_at = time.monotonic() + REDIS_RETRY_SECONDS
            return _FAILED
        self._redis_recovered()
        if self._unsent_tags and not always:
            unsent, self._unsent_tags = self._unsent_tags, set()
            await self.invalidate(unsent)
        return result

    def _redis_failed(self, error: Exception) -> None:
        self.stats.redis_errors += 1
        if not self._redis_failing:
            self._redis_failing = True
            logger.warning("response cache: Redis unavailable (%s); serving from memory and computing", type(error))

    def _redis_recovered(self) -> None:
        if self._redis_failing:
            self._redis_failing = False
            logger.info("response cache: Redis reachable again")
