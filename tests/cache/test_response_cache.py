"""The response cache service: two tiers, expiry, tag invalidation across instances (Redis pub/sub),
the race of a response computed before an invalidation and stored after it, one recompute at a time
per key (in process and across instances), and a Redis that is down.

Memory-tier tests always run; the Redis ones need TEST_REDIS_URL (set in the PostgreSQL + Redis pass
of `.ci/run`, where a missing Redis fails the run).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from datasources.response_cache import CachedResponse, ResponseCache, response_cache_key
from support import drop_redis_keys


def _response(text: str, *tags: str, max_age: int = 60) -> CachedResponse:
    return CachedResponse(
        body=f'{{"data":{{"v":"{text}"}}}}'.encode(),
        content_type="application/json",
        max_age=max_age,
        tags=frozenset(tags),
    )


@dataclass
class Counted:
    """A compute function that counts its calls and answers what it is given."""

    answer: CachedResponse | None
    calls: int = 0
    gate: asyncio.Event | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self) -> CachedResponse | None:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        return self.answer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs TEST_REDIS_URL: runs in the PostgreSQL + Redis pass of .ci/run")
    return url


@pytest.fixture
def prefix() -> str:
    return f"hbff-test-rc-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def make_cache(prefix: str) -> AsyncIterator[Callable[..., ResponseCache]]:
    """Builds started caches (closed after the test); `redis=True` puts them on TEST_REDIS_URL."""
    made: list[ResponseCache] = []

    def build(*, redis: bool = False, **options: object) -> ResponseCache:
        cache = ResponseCache(redis_url=_redis_url() if redis else None, prefix=prefix, **options)  # type: ignore[arg-type]
        made.append(cache)
        return cache

    yield build
    for cache in made:
        await cache.close()


async def _until(condition: Callable[[], bool]) -> None:
    """Waits (bounded) for something another task does; a guard against hanging, not a timing check."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never became true")


# ---- keys ------------------------------------------------------------------------------------


def test_keys_depend_on_document_variables_operation_and_scope_only() -> None:
    def key(variables: dict[str, object] | None, operation: str | None = "Q", scope: str = "public") -> str:
        document = "query Q { homepage { variant } }"
        return response_cache_key(document=document, variables=variables, operation_name=operation, scope=scope)

    first = key({"a": 1, "b": [1, 2]})
    assert first == key({"b": [1, 2], "a": 1})
    assert first != key({"a": 2, "b": [1, 2]})
    assert first != key({"a": 1, "b": [1, 2]}, operation=None)
    assert first != key({"a": 1, "b": [1, 2]}, scope="private")
    assert key(None) == key({})


# ---- memory tier -----------------------------------------------------------------------------


async def test_memory_tier_stores_serves_and_expires(make_cache: Callable[..., ResponseCache]) -> None:
    clock = FakeClock()
    cache = make_cache(clock=clock)
    compute = Counted(_response("a", "homepage", max_age=30))
    # when
    first = await cache.get_or_compute("k", compute)
    second = await cache.get_or_compute("k", compute)
    # then: computed once, served after
    assert first == second == compute.answer
    assert compute.calls == 1
    assert cache.stats.memory_hits == 1
    # the max age shrinks with the entry's remaining life, so nobody downstream keeps it longer
    clock.now += 20
    left = await cache.get("k")
    assert left is not None and left.max_age == 10 and left.body == compute.answer.body  # type: ignore[union-attr]
    # and it is gone once expired
    clock.now += 11
    assert await cache.get("k") is None
    assert await cache.get_or_compute("k", compute) == compute.answer
    assert compute.calls == 2


async def test_not_cacheable_results_are_not_stored_and_each_caller_gets_its_own(
    make_cache: Callable[..., ResponseCache],
) -> None:
    cache = make_cache()
    private = Counted(None)
    zero = Counted(_response("z", "homepage", max_age=0))
    assert await cache.get_or_compute("p", private) is None
    assert await cache.get_or_compute("p", private) is None
    assert private.calls == 2
    assert await cache.get_or_compute("z", zero) == zero.answer
    assert await cache.get("z") is None


async def test_the_memory_tier_is_bounded(make_cache: Callable[..., ResponseCache]) -> None:
    cache = make_cache(memory_entries=3)
    for name in "abcd":
        await cache.get_or_compute(name, Counted(_response(name)))
    await cache.get("b")  # used recently: kept
    await cache.get_or_compute("e", Counted(_response("e")))
    assert [cache.in_memory(name) for name in "abcde"] == [False, True, False, True, True]


async def test_invalidation_drops_every_entry_of_the_tags_and_no_other(
    make_cache: Callable[..., ResponseCache],
) -> None:
    cache = make_cache()
    await cache.get_or_compute("home", Counted(_response("h", "homepage", "articles")))
    await cache.get_or_compute("list", Counted(_response("l", "articles")))
    await cache.get_or_compute("staff", Counted(_response("s", "staff")))
    await cache.invalidate({"articles"})
    assert await cache.get("home") is None
    assert await cache.get("list") is None
    assert await cache.get("staff") is not None


async def test_a_response_computed_before_an_invalidation_is_not_stored_after_it(
    make_cache: Callable[..., ResponseCache],
) -> None:
    cache = make_cache()
    compute = Counted(_response("old", "articles"), gate=asyncio.Event())
    # given: a recompute that has read the data as it was
    running = asyncio.create_task(cache.get_or_compute("k", compute))
    await compute.started.wait()
    # when: an editor's change is invalidated while it runs
    await cache.invalidate({"articles"})
    assert compute.gate is not None
    compute.gate.set()
    # then: its caller gets the answer, but it is not kept
    assert await running == compute.answer
    assert await cache.get("k") is None
    assert cache.stats.discarded == 1


async def test_one_recompute_at_a_time_per_key(make_cache: Callable[..., ResponseCache]) -> None:
    cache = make_cache()
    compute = Counted(_response("a", "homepage"), gate=asyncio.Event())
    # when: many requests miss at once
    callers = [asyncio.create_task(cache.get_or_compute("k", compute)) for _ in range(20)]
    await compute.started.wait()
    assert compute.gate is not None
    compute.gate.set()
    results = await asyncio.gather(*callers)
    # then
    assert compute.calls == 1
    assert cache.stats.computes == 1
    assert all(result == compute.answer for result in results)


async def test_waiters_compute_their_own_when_the_shared_recompute_fails(
    make_cache: Callable[..., ResponseCache],
) -> None:
    cache = make_cache()
    gate = asyncio.Event()

    async def failing() -> CachedResponse | None:
        await gate.wait()
        raise RuntimeError("database went away")

    own = Counted(_response("own", "homepage"))
    leader = asyncio.create_task(cache.get_or_compute("k", failing))
    await _until(lambda: "k" in cache._inflight)
    follower = asyncio.create_task(cache.get_or_compute("k", own))
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(RuntimeError):
        await leader
    assert await follower == own.answer
    assert own.calls == 1


async def test_disabled_cache_always_computes(make_cache: Callable[..., ResponseCache]) -> None:
    cache = make_cache(enabled=False)
    compute = Counted(_response("a", "homepage"))
    await cache.get_or_compute("k", compute)
    await cache.get_or_compute("k", compute)
    assert compute.calls == 2
    assert await cache.get("k") is None


async def test_redis_down_still_answers(prefix: str) -> None:
    # Port 1 refuses connections: every Redis command fails at once.
    cache = ResponseCache(redis_url="redis://127.0.0.1:1/0", prefix=prefix)
    try:
        await cache.start()
        compute = Counted(_response("a", "homepage"))
        assert await cache.get_or_compute("k", compute) == compute.answer
        assert await cache.get_or_compute("k", compute) == compute.answer, "served from the memory tier"
        assert compute.calls == 1
        await cache.invalidate({"homepage"})  # does not raise
        assert await cache.get("k") is None, "the local tier is still invalidated"
        assert cache.stats.redis_errors >= 1
    finally:
        await cache.close()


# ---- Redis -----------------------------------------------------------------------------------


async def test_redis_tier_is_shared_by_instances(make_cache: Callable[..., ResponseCache]) -> None:
    a = make_cache(redis=True)
    b = make_cache(redis=True)
    await a.start()
    await b.start()
    compute = Counted(_response("shared", "homepage"))
    await a.get_or_compute("k", compute)
    # then: the other instance reads it from Redis, then from its own memory
    assert not b.in_memory("k")
    assert await b.get("k") == compute.answer
    assert b.stats.redis_hits == 1 and b.in_memory("k")
    assert await b.get_or_compute("k", Counted(None)) == compute.answer
    assert compute.calls == 1


async def test_invalidation_reaches_the_other_instances_memory(make_cache: Callable[..., ResponseCache]) -> None:
    a = make_cache(redis=True)
    b = make_cache(redis=True)
    await a.start()
    await b.start()
    await a.get_or_compute("home", Counted(_response("h", "homepage")))
    await a.get_or_compute("staff", Counted(_response("s", "staff")))
    assert await b.get("home") is not None and b.in_memory("home")
    assert await b.get("staff") is not None and b.in_memory("staff")
    # when: instance A invalidates
    await a.invalidate({"homepage"})
    await asyncio.wait_for(b.wait_for_invalidations(1), timeout=10)
    # then: B's memory tier dropped it (and only it), and Redis has it no more
    assert not b.in_memory("home")
    assert b.in_memory("staff")
    assert await b.get("home") is None
    assert await a.get("home") is None


async def test_the_generation_race_is_guarded_in_redis(make_cache: Callable[..., ResponseCache]) -> None:
    a = make_cache(redis=True)
    b = make_cache(redis=True)
    await a.start()
    await b.start()
    compute = Counted(_response("old", "articles"), gate=asyncio.Event())
    running = asyncio.create_task(a.get_or_compute("k", compute))
    await compute.started.wait()
    # when: another instance invalidates while A computes
    await b.invalidate({"articles"})
    assert compute.gate is not None
    compute.gate.set()
    assert await running == compute.answer
    # then: neither Redis nor either memory tier keeps it
    assert await b.get("k") is None
    assert await a.get("k") is None


async def test_one_recompute_across_instances(make_cache: Callable[..., ResponseCache]) -> None:
    a = make_cache(redis=True, wait_seconds=30)
    b = make_cache(redis=True, wait_seconds=30)
    await a.start()
    await b.start()
    first = Counted(_response("a", "homepage"), gate=asyncio.Event())
    second = Counted(_response("b", "homepage"))
    leader = asyncio.create_task(a.get_or_compute("k", first))
    await first.started.wait()
    # when: the other instance misses while A holds the lease
    follower = asyncio.create_task(b.get_or_compute("k", second))
    await _until(lambda: b.stats.lease_waits == 1)
    assert first.gate is not None
    first.gate.set()
    # then: it gets A's response and computes nothing
    assert await leader == first.answer
    assert await follower == first.answer
    assert second.calls == 0


async def test_a_stuck_recompute_elsewhere_does_not_hang_the_others(
    make_cache: Callable[..., ResponseCache],
) -> None:
    a = make_cache(redis=True)
    b = make_cache(redis=True, wait_seconds=0.2)
    await a.start()
    await b.start()
    stuck = Counted(_response("never", "homepage"), gate=asyncio.Event())
    leader = asyncio.create_task(a.get_or_compute("k", stuck))
    await stuck.started.wait()
    own = Counted(_response("own", "homepage"))
    try:
        assert await b.get_or_compute("k", own) == own.answer
        assert own.calls == 1
    finally:
        leader.cancel()


# ---- review fixes ------------------------------------------------------------------------------


async def test_a_cancelled_computation_does_not_fail_the_requests_waiting_for_it(
    make_cache: Callable[..., ResponseCache],
) -> None:
    cache = make_cache()
    started, never = asyncio.Event(), asyncio.Event()

    async def stuck() -> CachedResponse | None:
        started.set()
        await never.wait()
        return None

    async def own() -> CachedResponse | None:
        return CachedResponse(body=b"{}", content_type="application/json", max_age=60, tags=frozenset({"t"}))

    first = asyncio.create_task(cache.get_or_compute("k", stuck))
    await started.wait()
    waiter = asyncio.create_task(cache.get_or_compute("k", own))
    await asyncio.sleep(0)
    first.cancel()  # e.g. the client of the computing request went away
    assert (await waiter) is not None  # the waiter computed its own answer instead of dying too
    assert first.cancelled()


@dataclass
class BehindProxy:
    """TEST_REDIS_URL reached directly, and through a TcpProxy that can cut or freeze the route."""

    direct: Any
    proxy: Any
    url: str


@pytest.fixture
async def behind_proxy(prefix: str) -> AsyncIterator[BehindProxy]:
    from fault_support import TcpProxy
    from redis.asyncio import Redis

    direct = Redis.from_url(_redis_url())
    target = direct.connection_pool.connection_kwargs
    proxy = TcpProxy(str(target.get("host", "127.0.0.1")), int(target.get("port", 6379)))
    proxy.restore()
    yield BehindProxy(direct, proxy, f"redis://127.0.0.1:{proxy.port}/{int(target.get('db', 0))}")
    proxy.close()
    await direct.aclose()
    await drop_redis_keys(_redis_url(), prefix)


ENTRY = CachedResponse(body=b"{}", content_type="application/json", max_age=60, tags=frozenset({"boards"}))


async def _entry() -> CachedResponse | None:
    return ENTRY


async def test_an_invalidation_redis_did_not_take_is_sent_again_when_it_answers(
    prefix: str, behind_proxy: BehindProxy
) -> None:
    direct, proxy = behind_proxy.direct, behind_proxy.proxy
    cache = ResponseCache(redis_url=behind_proxy.url, prefix=prefix)
    try:
        await cache.get_or_compute("k", _entry)
        assert await direct.exists(f"{prefix}rc:e:k") == 1, cache.stats
        # when: the invalidation comes while Redis cannot be reached
        proxy.cut()
        await cache.invalidate({"boards"})
        assert await direct.exists(f"{prefix}rc:e:k") == 1  # Redis never heard of it
        # then: once Redis answers again (at the next command that is tried), it is sent after all
        proxy.restore()
        cache._retry_redis_at = 0.0  # the test does not wait out the pause after a failure
        await cache.get("other")
        assert await direct.exists(f"{prefix}rc:e:k") == 0
    finally:
        await cache.close()


async def test_a_listener_whose_connection_dies_silently_notices_and_drops_its_first_tier(
    prefix: str, behind_proxy: BehindProxy
) -> None:
    listening = ResponseCache(redis_url=behind_proxy.url, prefix=prefix, listener_quiet_seconds=0.2)
    other = ResponseCache(redis_url=_redis_url(), prefix=prefix)
    try:
        await listening.start()
        await listening.get_or_compute("k", _entry)
        assert listening.in_memory("k")
        await asyncio.sleep(1.0)  # five quiet spells on a live connection: each PING is answered
        assert (listening.stats.listener_reconnects, listening.in_memory("k")) == (0, True)
        # when: the route to Redis silently drops everything; another instance invalidates meanwhile
        behind_proxy.proxy.freeze()
        await other.invalidate({"boards"})
        # then: the listener finds its connection dead (no answer to its PING) and drops its first
        # tier, since it may have missed invalidations, as this one
        await _until(lambda: listening.stats.listener_reconnects > 0)
        assert not listening.in_memory("k")
        # and once the route works again, it listens again
        behind_proxy.proxy.thaw()
        await _until(lambda: listening._subscribed.is_set())
        await listening.get_or_compute("k2", _entry)
        await other.invalidate({"boards"})
        await _until(lambda: not listening.in_memory("k2"))
    finally:
        await listening.close()
        await other.close()
