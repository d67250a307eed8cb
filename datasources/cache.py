"""Key-value cache: Redis when configured, otherwise an in-process store with the same interface.

The in-process store serves a single instance only; with several instances, configure REDIS_URL so
that they share one cache (and one set of locks).

Locks are leases: `acquire_lock` answers a token when it got the lock, which expires by itself after
`ttl_seconds` so that a crashed holder cannot block the others for ever; only the holder's token
releases it early.
"""

from __future__ import annotations

import asyncio
import secrets
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from redis.asyncio import Redis


class Cache(Protocol):
    """What the rest of the application may ask of a cache."""

    backend: str

    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, *, ttl_seconds: float | None = None) -> None: ...
    async def delete(self, *keys: str) -> None: ...
    async def acquire_lock(self, name: str, *, ttl_seconds: float) -> str | None: ...
    async def release_lock(self, name: str, token: str) -> bool: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


LOCK_PREFIX = "lock:"

# Delete the lock only when it still holds our token (atomic on the Redis server).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class MemoryCache:
    """A dictionary with expiry times; good for one process and for tests."""

    backend = "memory"

    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self._items: dict[str, tuple[bytes, float | None]] = {}
        self._lock = asyncio.Lock()

    async def get(self, key: str) -> bytes | None:
        item = self._items.get(self._prefix + key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= time.monotonic():
            self._items.pop(self._prefix + key, None)
            return None
        return value

    async def set(self, key: str, value: bytes, *, ttl_seconds: float | None = None) -> None:
        expires = None if ttl_seconds is None else time.monotonic() + ttl_seconds
        async with self._lock:
            self._items[self._prefix + key] = (value, expires)

    async def delete(self, *keys: str) -> None:
        async with self._lock:
            for key in keys:
                self._items.pop(self._prefix + key, None)

    async def acquire_lock(self, name: str, *, ttl_seconds: float) -> str | None:
        """A token when the lock was free (or its lease had run out), else None."""
        key = self._prefix + LOCK_PREFIX + name
        async with self._lock:
            held = self._items.get(key)
            if held is not None and (held[1] is None or held[1] > time.monotonic()):
                return None
            token = secrets.token_hex(16)
            self._items[key] = (token.encode(), time.monotonic() + ttl_seconds)
            return token

    async def release_lock(self, name: str, token: str) -> bool:
        """Free the lock if `token` still holds it; False when the lease had passed to someone else."""
        key = self._prefix + LOCK_PREFIX + name
        async with self._lock:
            held = self._items.get(key)
            if held is None or held[0] != token.encode() or (held[1] is not None and held[1] <= time.monotonic()):
                return False
            del self._items[key]
            return True

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._items.clear()


class RedisCache:
    """The shared cache of every instance, each key under this deployment's prefix."""

    backend = "redis"

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = prefix

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self._prefix + key)
        # decode_responses is off, so Redis answers bytes; str is only in the client's type hints.
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, *, ttl_seconds: float | None = None) -> None:
        px = None if ttl_seconds is None else max(1, int(ttl_seconds * 1000))
        await self._redis.set(self._prefix + key, value, px=px)

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self._prefix + key for key in keys))

    async def acquire_lock(self, name: str, *, ttl_seconds: float) -> str | None:
        """SET NX PX: exactly one instance gets the token while the lease lasts."""
        token = secrets.token_hex(16)
        px = max(1, int(ttl_seconds * 1000))
        acquired = await self._redis.set(self._prefix + LOCK_PREFIX + name, token, nx=True, px=px)
        return token if acquired else None

    async def release_lock(self, name: str, token: str) -> bool:
        """Compare-and-delete in one step, so a lease that passed to another instance stays theirs."""
        released = await self._redis.eval(_RELEASE, 1, self._prefix + LOCK_PREFIX + name, token)
        return bool(released)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def create_cache(redis_url: str | None, prefix: str) -> Cache:
    return RedisCache(redis_url, prefix) if redis_url else MemoryCache(prefix)


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
) -> None:
    """Store `value` with the instant it was obtained; `seal` (e.g. encryption) wraps the whole entry."""
    payload = _ENTRY.pack(_MAGIC, round(stored_at.timestamp() * 1_000_000)) + value
    await cache.set(key, seal(payload) if seal else payload, ttl_seconds=ttl_seconds)


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
