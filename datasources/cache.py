"""Key-value cache: Redis when configured, otherwise an in-process store with the same interface.

The in-process store serves a single instance only; with several instances, configure REDIS_URL so
that they share one cache (and one set of locks).

When Redis cannot be reached the application keeps serving from the database: reads answer a miss,
writes are dropped and locks answer "not acquired". The outage is logged once when it starts and
once when it ends; while it lasts Redis is asked again only every `retry_seconds`, so requests do not
each wait for a time-out. Callers whose safety depends on telling a miss from an outage (the session
revocation list) use `cache.strict()`, whose calls raise CacheUnavailable instead.

Locks are leases: `acquire_lock` answers a token when it got the lock, which expires by itself after
`ttl_seconds` so that a crashed holder cannot block the others for ever; only the holder's token
releases it early.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("hospital_bff.cache")
T = TypeVar("T")


class Cache(Protocol):
    """What the rest of the application may ask of a cache."""

    backend: str

    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, *, ttl_seconds: float | None = None) -> None: ...
    async def delete(self, *keys: str) -> None: ...
    async def set_in_group(self, key: str, value: bytes, *, ttl_seconds: float, group: str) -> bool:
        """Store `value` as one of `group`'s keys, unless the group was erased within its blocking time
        (then False, nothing stored); checked and stored in one step."""
        ...

    async def erase_group(self, group: str, *, block_seconds: float) -> None:
        """Delete every key stored in `group`, and refuse new ones for `block_seconds` (if any): writes of
        answers fetched before the erasure (by any instance) do not bring them back."""
        ...

    async def acquire_lock(self, name: str, *, ttl_seconds: float) -> str | None: ...
    async def release_lock(self, name: str, token: str) -> bool: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...
    def strict(self) -> Cache:
        """The same cache, but raising CacheUnavailable where it would otherwise degrade."""
        ...


class CacheUnavailable(Exception):
    """The shared cache cannot answer now (raised only through `Cache.strict()`)."""


LOCK_PREFIX = "lock:"

# Delete the lock only when it still holds our token (atomic on the Redis server).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

# Key groups (see Cache.set_in_group / erase_group). Like the lock scripts, these assume one Redis
# server: the keys of a group are not all named in KEYS.
_SET_IN_GROUP = """
if redis.call('exists', KEYS[3]) == 1 then
    return 0
end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('sadd', KEYS[2], KEYS[1])
if redis.call('pttl', KEYS[2]) < tonumber(ARGV[2]) then
    redis.call('pexpire', KEYS[2], ARGV[2])
end
return 1
"""
_ERASE_GROUP = """
if tonumber(ARGV[1]) > 0 then
    redis.call('set', KEYS[2], '1', 'PX', ARGV[1])
end
local keys = redis.call('smembers', KEYS[1])
for i = 1, #keys, 500 do
    redis.call('unlink', unpack(keys, i, math.min(i + 499, #keys)))
end
redis.call('unlink', KEYS[1])
return #keys
"""


_SWEEP_EVERY = 1024


def _unexpired(item: tuple[bytes, float | None], now: float) -> bool:
    return item[1] is None or item[1] > now


def _group_index(group: str) -> str:
    return f"group:{group}:keys"


def _group_erased(group: str) -> str:
    return f"group:{group}:erased"


class MemoryCache:
    """A dictionary with expiry times; good for one process and for tests."""

    backend = "memory"

    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self._items: dict[str, tuple[bytes, float | None]] = {}
        self._groups: dict[str, set[str]] = {}  # group -> its keys (prefixed)
        self._lock = asyncio.Lock()
        self._writes = 0

    async def get(self, key: str) -> bytes | None:
        value = self._live(self._prefix + key)
        if value is None:
            self._items.pop(self._prefix + key, None)  # expired, if it was there at all
        return value

    def _live(self, stored_key: str) -> bytes | None:
        """The value under `stored_key` (prefix included) unless absent or expired."""
        item = self._items.get(stored_key)
        return item[0] if item is not None and _unexpired(item, time.monotonic()) else None

    async def set(self, key: str, value: bytes, *, ttl_seconds: float | None = None) -> None:
        expires = None if ttl_seconds is None else time.monotonic() + ttl_seconds
        async with self._lock:
            self._items[self._prefix + key] = (value, expires)
            self._wrote()

    async def delete(self, *keys: str) -> None:
        async with self._lock:
            for key in keys:
                self._items.pop(self._prefix + key, None)

    async def set_in_group(self, key: str, value: bytes, *, ttl_seconds: float, group: str) -> bool:
        async with self._lock:
            if self._live(self._prefix + _group_erased(group)) is not None:
                return False
            self._items[self._prefix + key] = (value, time.monotonic() + ttl_seconds)
            self._groups.setdefault(group, set()).add(self._prefix + key)
            self._wrote()
            return True

    async def erase_group(self, group: str, *, block_seconds: float) -> None:
        async with self._lock:
            if block_seconds > 0:
                self._items[self._prefix + _group_erased(group)] = (b"1", time.monotonic() + block_seconds)
            for key in self._groups.pop(group, set()):
                self._items.pop(key, None)

    async def acquire_lock(self, name: str, *, ttl_seconds: float) -> str | None:
        """A token when the lock was free (or its lease had run out), else None."""
        key = self._prefix + LOCK_PREFIX + name
        async with self._lock:
            if self._live(key) is not None:
                return None
            token = secrets.token_hex(16)
            self._items[key] = (token.encode(), time.monotonic() + ttl_seconds)
            return token

    async def release_lock(self, name: str, token: str) -> bool:
        """Free the lock if `token` still holds it; False when the lease had passed to someone else."""
        key = self._prefix + LOCK_PREFIX + name
        async with self._lock:
            if self._live(key) != token.encode():
                return False
            del self._items[key]
            return True

    def _wrote(self) -> None:
        """Every so many writes, entries that expired without being read again (a past day's visit,
        an erasure's block) leave, and groups keep only their live keys: memory stays bounded."""
        self._writes += 1
        if self._writes % _SWEEP_EVERY:
            return
        now = time.monotonic()
        self._items = {key: item for key, item in self._items.items() if _unexpired(item, now)}
        groups = ((group, {key for key in keys if key in self._items}) for group, keys in self._groups.items())
        self._groups = {group: live for group, live in groups if live}

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._items.clear()
        self._groups.clear()

    def strict(self) -> MemoryCache:
        return self  # a dictionary in this process is never unreachable


# What an unreachable, restarting or failing-over Redis raises; anything else is a bug and propagates.
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError)


class RedisOutage:
    """One Redis outage at a time: logged when it starts and when it ends, and while it lasts Redis
    is asked again only every `retry_seconds` (the other calls degrade at once)."""

    def __init__(self, retry_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._since: float | None = None
        self._next_attempt = 0.0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def skipping(self) -> bool:
        """True while the outage lasts and the next attempt is not due yet."""
        return self._since is not None and self._clock() < self._next_attempt

    def failed(self, error: BaseException) -> None:
        now = self._clock()
        if self._since is None:
            self._since = now
            # The error's text names the host and port only: keys and values never reach it.
            logger.warning(
                "Redis unreachable (%s: %s): reads answer a miss, writes are dropped and locks are not "
                "granted until it answers again",
                type(error).__name__,
                error,
            )
        self._next_attempt = now + self._retry_seconds

    def succeeded(self) -> None:
        if self._since is not None:
            logger.warning("Redis answers again after %.1f s", self._clock() - self._since)
            self._since = None


class RedisCache:
    """The shared cache of every instance, each key under this deployment's prefix.

    Degrades instead of failing while Redis is unreachable (see the module docstring); `strict()`
    gives a view of the same client that raises CacheUnavailable instead.
    """

    backend = "redis"

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        socket_timeout: float = 0.5,
        connect_timeout: float = 0.5,
        retry_seconds: float = 1.0,
    ) -> None:
        # No retries inside redis-py: during an outage each retry would only add another time-out.
        self._redis = Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._prefix = prefix
        self._outage = RedisOutage(retry_seconds)
        self._strict = False

    def strict(self) -> RedisCache:
        view = object.__new__(RedisCache)
        view.__dict__.update(self.__dict__)
        view._strict = True
        return view

    @property
    def outage(self) -> RedisOutage:
        return self._outage

    async def _call(self, operation: Callable[[], Awaitable[T]], fallback: T) -> T:
        if self._outage.skipping():
            if self._strict:
                raise CacheUnavailable("Redis is unreachable")
            return fallback
        try:
            result = await operation()
        except OUTAGE_ERRORS as error:
            self._outage.failed(error)
            if self._strict:
                raise CacheUnavailable("Redis is unreachable") from error
            return fallback
        self._outage.succeeded()
        return result

    async def get(self, key: str) -> bytes | None:
        value = await self._call(lambda: self._redis.get(self._prefix + key), None)
        # decode_responses is off, so Redis answers bytes; str is only in the client's type hints.
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, *, ttl_seconds: float | None = None) -> None:
        px = None if ttl_seconds is None else max(1, int(ttl_seconds * 1000))
        await self._call(lambda: self._redis.set(self._prefix + key, value, px=px), None)

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._call(lambda: self._redis.delete(*(self._prefix + key for key in keys)), 0)

    async def set_in_group(self, key: str, value: bytes, *, ttl_seconds: float, group: str) -> bool:
        """One script: refused while the group's erasure blocks it, else SET and noted in the group's
        index (kept as long as its longest-lived key), so that erasing needs no scan of the keyspace."""
        keys = [self._prefix + key, self._prefix + _group_index(group), self._prefix + _group_erased(group)]
        px = max(1, int(ttl_seconds * 1000))
        stored = await self._call(lambda: self._redis.eval(_SET_IN_GROUP, 3, *keys, value, px), 0)
        return bool(stored)

    async def erase_group(self, group: str, *, block_seconds: float) -> None:
        keys = [self._prefix + _group_index(group), self._prefix + _group_erased(group)]
        px = int(block_seconds * 1000)  # 0: not blocked
        await self._call(lambda: self._redis.eval(_ERASE_GROUP, 2, *keys, px), 0)

    async def acquire_lock(self, name: str, *, ttl_seconds: float) -> str | None:
        """SET NX PX: exactly one instance gets the token while the lease lasts; nobody during an outage."""
        token = secrets.token_hex(16)
        px = max(1, int(ttl_seconds * 1000))
        acquired = await self._call(
            lambda: self._redis.set(self._prefix + LOCK_PREFIX + name, token, nx=True, px=px), None
        )
        return token if acquired else None

    async def release_lock(self, name: str, token: str) -> bool:
        """Compare-and-delete in one step, so a lease that passed to another instance stays theirs.

        During an outage the lock cannot be released; its lease runs out by itself."""
        released = await self._call(
            lambda: self._redis.eval(_RELEASE, 1, self._prefix + LOCK_PREFIX + name, token),
            0,
        )
        return bool(released)

    async def ping(self) -> bool:
        """Always asks Redis (readiness must tell the truth), and ends an outage when it answers."""
        try:
            answered = bool(await self._redis.ping())
        except OUTAGE_ERRORS as error:
            self._outage.failed(error)
            return False
        self._outage.succeeded()
        return answered

    async def close(self) -> None:
        await self._redis.aclose()


def create_cache(
    redis_url: str | None,
    prefix: str,
    *,
    socket_timeout: float = 0.5,
    connect_timeout: float = 0.5,
    retry_seconds: float = 1.0,
) -> Cache:
    if not redis_url:
        return MemoryCache(prefix)
    return RedisCache(
        redis_url, prefix, socket_timeout=socket_timeout, connect_timeout=connect_timeout, retry_seconds=retry_seconds
    )


@asynccontextmanager
async def holding_lock(cache: Cache, name: str, *, ttl_seconds: float) -> AsyncIterator[bool]:
    """`async with holding_lock(...) as held:` — held is False when another holder has the lock."""
    token = await cache.acquire_lock(name, ttl_seconds=ttl_seconds)
    try:
        yield token is not None
    finally:
        if token is not None:
            await cache.release_lock(name, token)


# ---- entries that remember when they were stored (for stale-while-revalidate) --------------------

_ENTRY = struct.Struct(">2sq")  # magic, stored-at in microseconds since the epoch
_MAGIC = b"E1"
Transform = Callable[[bytes], bytes]


@dataclass(frozen=True)
class CachedEntry:
    value: bytes
    stored_at: datetime


async def write_entry(
    cache: Cache,
    key: str,
    value: bytes,
    *,
    stored_at: datetime,
    ttl_seconds: float,
    seal: Transform | None = None,
    group: str | None = None,
) -> None:
    """Store `value` with the instant it was obtained; `seal` (e.g. encryption) wraps the whole entry.
    In a `group` (see Cache.set_in_group), nothing is stored while the group's erasure refuses it."""
    payload = _ENTRY.pack(_MAGIC, round(stored_at.timestamp() * 1_000_000)) + value
    sealed = seal(payload) if seal else payload
    if group is not None:
        await cache.set_in_group(key, sealed, ttl_seconds=ttl_seconds, group=group)
    else:
        await cache.set(key, sealed, ttl_seconds=ttl_seconds)


async def read_entry(cache: Cache, key: str, *, unseal: Transform | None = None) -> CachedEntry | None:
    """The entry, or None when absent, expired or not an entry (unseal's errors propagate)."""
    raw = await cache.get(key)
    if raw is None:
        return None
    if unseal is not None:
        raw = unseal(raw)
    if len(raw) < _ENTRY.size:
        return None
    magic, micros = _ENTRY.unpack_from(raw)
    if magic != _MAGIC:
        return None
    return CachedEntry(value=raw[_ENTRY.size :], stored_at=datetime.fromtimestamp(micros / 1_000_000, UTC))
