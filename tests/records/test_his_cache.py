"""Cache entries for stale-while-revalidate on both backends (memory, and Redis when configured),
encrypted at rest; a cache that fails; HIS settings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from his_support import account_with, person

from datasources.cache import Cache, MemoryCache, RedisCache, read_entry, write_entry
from datasources.his.resilience import Deadline, HisUnavailable
from datasources.identity.field_crypto import FieldCipher
from settings import DEV_DATA_KEY, ConfigurationError, Settings, load_settings


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


async def test_a_cache_that_cannot_be_read_is_only_a_miss(his_app: Any) -> None:
    async with his_app() as h:
        token, (profile,) = await account_with(h.http, "cache-broken", person(2))

        class Down(MemoryCache):
            async def get(self, key: str) -> bytes | None:
                raise ConnectionError("redis is down")

            async def set(self, key: str, value: bytes, *, ttl_seconds: float | None = None) -> None:
                raise ConnectionError("redis is down")

        h.his._cache = Down()
        body = await h.http.post(
            "/graphql",
            json={
                "query": "query($id: ID!) { healthRecord(profileId: $id) { reports { totalCount } } }",
                "variables": {"id": profile},
            },
            headers={"authorization": f"Bearer {token}"},
        )
        assert "errors" not in body.json() and body.json()["data"]["healthRecord"]["reports"]["totalCount"] > 0


def test_his_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIS_FHIR_BASE_URL", "ftp://his.example/fhir")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert "HIS_FHIR_BASE_URL" in str(raised.value.code)


async def test_production_without_a_his_address_serves_no_synthetic_data(his_app: Any) -> None:
    from settings import Environment

    async with his_app(env=Environment.PROD, wechat_api_base_url="http://127.0.0.1:9") as h:
        assert h.app.state.resources.his_simulator is None
        with pytest.raises(HisUnavailable, match="no HIS configured"):
            await h.his.record("P100011", deadline=Deadline.after(1))
