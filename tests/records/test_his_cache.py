"""Cache entries for stale-while-revalidate on both backends (memory, and Redis when configured),
encrypted at rest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from datasources.cache import Cache, MemoryCache, RedisCache, read_entry, write_entry
from datasources.identity.field_crypto import FieldCipher
from settings import DEV_DATA_KEY, Settings


def _caches(settings: Settings) -> list[Cache]:
    caches: list[Cache] = [MemoryCache("test:")]
    if settings.redis_url:
        caches.append(RedisCache(settings.redis_url, settings.redis_key_prefix + "entries:"))
    return caches


async def test_entries_remember_when_they_were_stored_on_every_backend(settings: Settings) -> None:
    cipher = FieldCipher(DEV_DATA_KEY)
    for cache in _caches(settings):
        stored_at = datetime(2026, 11, 15, 4, 0, 0, 123456, tzinfo=UTC)
        await write_entry(cache, "plain", b'{"a": 1}', stored_at=stored_at, ttl_seconds=60)
        entry = await read_entry(cache, "plain")
        assert entry is not None and (entry.value, entry.stored_at) == (b'{"a": 1}', stored_at), cache.backend

        await write_entry(
            cache,
            "sealed",
            "血红蛋白 176 g/L".encode(),
            stored_at=stored_at,
            ttl_seconds=60,
            seal=lambda data: cipher.seal(data, context="his.cache"),
        )
        raw = await cache.get("sealed")
        assert raw is not None and "血红蛋白".encode() not in raw, "health data is encrypted at rest"
        opened = await read_entry(cache, "sealed", unseal=lambda data: cipher.open(data, context="his.cache"))
        assert opened is not None and opened.value.decode() == "血红蛋白 176 g/L"
        with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag: another context cannot open it
            await read_entry(cache, "sealed", unseal=lambda data: cipher.open(data, context="other"))
        await cache.set("junk", b"xx")
        assert await read_entry(cache, "junk") is None
        assert await read_entry(cache, "absent") is None
        await cache.delete("plain", "sealed", "junk")
        await cache.close()
