"""The cache backends, for the tests that run the same on both."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from datasources.cache import Cache, MemoryCache, RedisCache
from support import drop_redis_keys


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    """The in-process store always; Redis when TEST_REDIS_URL is set (as in CI), under a prefix of its own."""
    prefix = f"hbff-test-cache-{uuid.uuid4().hex[:8]}:"
    if request.param == "memory":
        memory = MemoryCache(prefix)
        yield memory
        await memory.close()
        return
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set; the Redis backend is tested where Redis runs (CI)")
    redis = RedisCache(url, prefix)
    if not await redis.ping():
        pytest.fail("TEST_REDIS_URL is set but Redis cannot be reached", pytrace=False)
    yield redis
    await redis.close()
    await drop_redis_keys(url, prefix)
