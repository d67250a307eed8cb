"""Locks through the cache: one holder at a time, leases that run out, release only by the holder.

Both backends run the same tests (the `cache` fixture of conftest.py).
"""

from __future__ import annotations

import asyncio

import pytest

from datasources.cache import Cache, holding_lock


async def test_only_one_caller_gets_the_lock(cache: Cache) -> None:
    # when: many callers ask at once
    tokens = await asyncio.gather(*(cache.acquire_lock("refresh", ttl_seconds=30) for _ in range(20)))
    # then
    winners = [t for t in tokens if t is not None]
    assert len(winners) == 1
    assert await cache.acquire_lock("other", ttl_seconds=30) is not None, "locks of other names are independent"


async def test_only_the_holder_releases_the_lock(cache: Cache) -> None:
    # given
    token = await cache.acquire_lock("refresh", ttl_seconds=30)
    assert token is not None
    # when / then: a wrong token changes nothing
    assert not await cache.release_lock("refresh", "not-the-token")
    assert await cache.acquire_lock("refresh", ttl_seconds=30) is None
    # the holder releases it, and it is free again
    assert await cache.release_lock("refresh", token)
    assert not await cache.release_lock("refresh", token), "released once only"
    assert await cache.acquire_lock("refresh", ttl_seconds=30) is not None


async def test_a_lease_runs_out_and_the_old_holder_cannot_free_the_new_one(cache: Cache) -> None:
    # given: a holder that never releases (it crashed)
    stale = await cache.acquire_lock("refresh", ttl_seconds=0.05)
    assert stale is not None
    # when: the lease has run out
    await asyncio.sleep(0.2)
    fresh = await cache.acquire_lock("refresh", ttl_seconds=30)
    # then: someone else holds it, and the stale holder's release leaves their lock alone
    assert fresh is not None
    assert not await cache.release_lock("refresh", stale)
    assert await cache.acquire_lock("refresh", ttl_seconds=30) is None
    assert await cache.release_lock("refresh", fresh)


async def test_holding_lock_releases_on_exit_even_after_an_error(cache: Cache) -> None:
    with pytest.raises(RuntimeError):
        async with holding_lock(cache, "refresh", ttl_seconds=30) as held:
            assert held
            async with holding_lock(cache, "refresh", ttl_seconds=30) as second:
                assert not second, "a second holder waits its turn"
            raise RuntimeError("the work failed")
    async with holding_lock(cache, "refresh", ttl_seconds=30) as again:
        assert again, "the lock was released by the failed holder"
