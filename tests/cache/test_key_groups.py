"""Key groups: every key of a group erased at once, and the group closed to writes for a while, so
that answers fetched before the erasure do not bring it back. On both backends."""

from __future__ import annotations

import asyncio

from datasources.cache import Cache, MemoryCache


async def test_erasing_a_group_deletes_its_keys_and_no_other(cache: Cache) -> None:
    # given: more keys than the script unlinks at once, another group's, and keys in no group
    mine = [f"his:{{p1}}:report:{n}" for n in range(1200)]
    for key in mine:
        assert await cache.set_in_group(key, b"x", ttl_seconds=60, group="his:{p1}")
    assert await cache.set_in_group("his:{p10}:record", b"kept", ttl_seconds=60, group="his:{p10}")
    await cache.set("his:{p1}:outside", b"kept", ttl_seconds=60)

    # when
    await cache.erase_group("his:{p1}", block_seconds=60)

    # then
    assert [key for key in mine if await cache.get(key) is not None] == []
    assert [await cache.get(key) for key in ("his:{p10}:record", "his:{p1}:outside")] == [b"kept", b"kept"]


async def test_an_erased_group_refuses_writes_until_its_block_ends(cache: Cache) -> None:
    await cache.erase_group("his:{p2}", block_seconds=1.0)
    assert await cache.set_in_group("his:{p2}:record", b"late", ttl_seconds=60, group="his:{p2}") is False
    assert await cache.get("his:{p2}:record") is None
    assert await cache.set_in_group("his:{p3}:record", b"other", ttl_seconds=60, group="his:{p3}") is True

    await asyncio.sleep(1.3)  # the block has ended
    assert await cache.set_in_group("his:{p2}:record", b"new", ttl_seconds=60, group="his:{p2}") is True
    assert await cache.get("his:{p2}:record") == b"new"


async def test_an_erasure_without_a_block_only_deletes(cache: Cache) -> None:
    assert await cache.set_in_group("his:{p4}:record", b"x", ttl_seconds=60, group="his:{p4}")
    await cache.erase_group("his:{p4}", block_seconds=0)
    assert await cache.get("his:{p4}:record") is None
    assert await cache.set_in_group("his:{p4}:record", b"y", ttl_seconds=60, group="his:{p4}") is True


async def test_a_short_lived_key_does_not_shorten_the_groups_index(cache: Cache) -> None:
    assert await cache.set_in_group("his:{p5}:record", b"x", ttl_seconds=60, group="his:{p5}")
    assert await cache.set_in_group("his:{p5}:visit", b"y", ttl_seconds=0.05, group="his:{p5}")
    await asyncio.sleep(0.2)  # the short-lived key has expired

    await cache.erase_group("his:{p5}", block_seconds=0)

    assert await cache.get("his:{p5}:record") is None


async def test_the_in_process_store_forgets_expired_keys_and_their_groups() -> None:
    memory = MemoryCache()
    for n in range(1100):
        await memory.set_in_group(f"g{n}:k", b"x", ttl_seconds=0.01, group=f"g{n}")
    await asyncio.sleep(0.05)
    for n in range(1024):  # enough writes for a sweep
        await memory.set(f"live{n}", b"y", ttl_seconds=60)

    assert sum(1 for key in memory._items if key.startswith("g")) == 0
    assert memory._groups == {}
