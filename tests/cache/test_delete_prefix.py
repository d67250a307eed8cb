"""Deleting every key under a prefix (a patient's HIS entries), on both backends."""

from __future__ import annotations

import asyncio

from datasources.cache import Cache


async def test_every_key_under_the_prefix_goes_and_no_other(cache: Cache) -> None:
    # given: more keys than one batch of deletions, and neighbours that only look alike
    under = [f"his:p1:record:{n}" for n in range(1200)]
    await asyncio.gather(*(cache.set(key, b"x", ttl_seconds=60) for key in under))
    others = ["his:p10:record", "his:p2:record", "x-his:p1:record", "his:p1"]
    for key in others:
        await cache.set(key, b"kept", ttl_seconds=60)

    # when
    await cache.delete_prefix("his:p1:")

    # then
    assert [key for key in under if await cache.get(key) is not None] == []
    assert [await cache.get(key) for key in others] == [b"kept"] * len(others)


async def test_glob_characters_in_the_prefix_are_taken_literally(cache: Cache) -> None:
    # given: keys a glob pattern "a*[b]?:" would match, and the one it names literally
    await cache.set("aXX[b]Z:1", b"kept", ttl_seconds=60)
    await cache.set("aXXbZ:1", b"kept", ttl_seconds=60)
    await cache.set("a*[b]?:1", b"gone", ttl_seconds=60)

    # when
    await cache.delete_prefix("a*[b]?:")

    # then
    assert [await cache.get(key) for key in ("aXX[b]Z:1", "aXXbZ:1", "a*[b]?:1")] == [b"kept", b"kept", None]
