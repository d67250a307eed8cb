"""Key-value cache: Redis when configured, otherwise an in-process store with the same interface.

The in-process store serves a single instance only; with several instances, configure REDIS_URL so
that they share one cache.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
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
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


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

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def create_cache(redis_url: str | None, prefix: str) -> Cache:
    return RedisCache(redis_url, prefix) if redis_url else MemoryCache(prefix)


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
