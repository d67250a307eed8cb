"""The stale-while-revalidate cache in front of the HIS port, with a fake port and a fake clock."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest
from identity_support import Clock

from datasources.cache import CacheUnavailable, MemoryCache
from datasources.his.model import HisPatient, PatientRecord
from datasources.his.resilience import Deadline, HisUnavailable
from datasources.his.service import CachePolicy, Freshness, HisService
from support import ANCHOR


class FakePort:
    upstream = "his:fake"

    def __init__(self) -> None:
        self.calls = 0
        self.failure: Exception | None = None
        self.gate: asyncio.Event | None = None
        self.asked = asyncio.Event()  # set on every call

    async def patient(self, patient_id: str, *, deadline: Deadline) -> HisPatient | None:
        self.calls += 1
        self.asked.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        return HisPatient(id=patient_id, name=f"call {self.calls}")

    async def record(self, patient_id: str, *, deadline: Deadline) -> PatientRecord:
        raise NotImplementedError

    async def report(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def observations(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def visit_progress(self, patient_id: str, *, day: date, deadline: Deadline) -> Any:
        raise NotImplementedError

    async def attachment(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class CountingCache(MemoryCache):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    async def set_in_group(self, key: str, value: bytes, *, ttl_seconds: float, group: str) -> bool:
        stored = await super().set_in_group(key, value, ttl_seconds=ttl_seconds, group=group)
        self.writes += stored
        return stored


def _service(port: FakePort, clock: Clock, cache: MemoryCache | None = None) -> HisService:
    policy = CachePolicy(
        record=Freshness(timedelta(seconds=60), timedelta(hours=1)), stale_wait=0.01, background_budget=5
    )
    return HisService(port, cache or MemoryCache(), clock=clock, policy=policy)


async def _settle(service: HisService) -> None:
    while service._inflight or service._background:
        await asyncio.gather(*service._inflight.values(), *service._background, return_exceptions=True)


async def test_fresh_then_stale_then_expired() -> None:
    port, clock = FakePort(), Clock(ANCHOR)
    service = _service(port, clock)
    first = await service.patient("P1", deadline=Deadline.after(1))
    await _settle(service)
    again = await service.patient("P1", deadline=Deadline.after(1))
    assert (first.value, again.value, again.stale, port.calls) == (first.value, first.value, False, 1)

    # Past the soft TTL, the HIS failing: the last answer, marked stale, with the reason.
    clock.advance(seconds=61)
    port.failure = HisUnavailable("HTTP 503")
    stale = await service.patient("P1", deadline=Deadline.after(1))
    assert (stale.value, stale.stale, stale.as_of, stale.problem) == (first.value, True, ANCHOR, "HTTP 503")

    # Past the hard TTL there is nothing to serve.
    clock.advance(hours=1)
    with pytest.raises(HisUnavailable, match="HTTP 503"):
        await service.patient("P1", deadline=Deadline.after(1))

    # Back up: fresh again, from the HIS.
    port.failure = None
    back = await service.patient("P1", deadline=Deadline.after(1))
    assert back.stale is False and back.as_of == clock.now
    await service.aclose()


async def test_concurrent_misses_share_one_fetch_and_bugs_are_outages() -> None:
    port, clock = FakePort(), Clock(ANCHOR)
    service = _service(port, clock)
    port.gate = asyncio.Event()
    waiting = [asyncio.ensure_future(service.patient("P2", deadline=Deadline.after(5))) for _ in range(5)]
    await asyncio.sleep(0)
    port.gate.set()
    answers = await asyncio.gather(*waiting)
    assert port.calls == 1 and len({a.value for a in answers}) == 1
    port.gate = None

    port.failure = KeyError("a bug")
    with pytest.raises(HisUnavailable, match="KeyError"):
        await service.patient("P3", deadline=Deadline.after(1))
    await service.aclose()


async def test_an_answer_is_stored_after_its_readers_have_it_and_shared_from_memory_until_then() -> None:
    port, clock, cache = FakePort(), Clock(ANCHOR), CountingCache()
    service = _service(port, clock, cache)
    first = await service.patient("P4", deadline=Deadline.after(1))
    assert first.value is not None
    assert (first.value.name, cache.writes) == ("call 1", 0)  # the reader did not wait for the write

    again = await service.patient("P4", deadline=Deadline.after(1))
    assert (again.value, again.as_of, again.stale, port.calls) == (first.value, first.as_of, False, 1)

    await _settle(service)
    assert cache.writes == 1
    # Stored: another process sharing the cache reads it without asking the HIS.
    other_port = FakePort()
    from_cache = await _service(other_port, clock, cache).patient("P4", deadline=Deadline.after(1))
    assert (from_cache.value, from_cache.as_of, other_port.calls) == (first.value, first.as_of, 0)
    await service.aclose()


async def test_erasing_a_patient_drops_every_entry_and_answers_not_stored_yet_or_under_way() -> None:
    port, clock, cache = FakePort(), Clock(ANCHOR), CountingCache()
    service = _service(port, clock, cache)
    await service.patient("P6", deadline=Deadline.after(1))  # another patient's
    await _settle(service)
    await service.patient("P5", deadline=Deadline.after(1))  # answered, not stored yet

    # when / then: the answer not stored yet is dropped (the next read asks the HIS), and never written
    assert await service.erase("P5") is True
    fresh = await service.patient("P5", deadline=Deadline.after(1))
    assert fresh.value is not None
    assert (fresh.value.name, port.calls) == ("call 3", 3)
    await _settle(service)
    assert cache.writes == 1

    # A fetch under way when the patient is erased is answered, and not stored.
    port.gate, port.asked = asyncio.Event(), asyncio.Event()
    under_way = asyncio.ensure_future(service.patient("P5", deadline=Deadline.after(5)))
    await port.asked.wait()
    assert await service.erase("P5") is True
    port.gate.set()
    assert (await under_way).value is not None
    await _settle(service)
    assert cache.writes == 1
    port.gate = None

    again = await service.patient("P5", deadline=Deadline.after(1))
    assert again.value is not None
    assert (again.value.name, port.calls) == ("call 5", 5)  # asked anew: nothing of P5 was left
    # The other patient's entry stays: with the HIS down, it is what is served.
    clock.advance(seconds=61)
    port.failure = HisUnavailable("HTTP 503")
    other = await service.patient("P6", deadline=Deadline.after(1))
    assert other.value is not None
    assert (other.value.name, other.stale) == ("call 1", True)
    await service.aclose()


class UnreachableForErasure(CountingCache):
    async def erase_group(self, group: str, *, block_seconds: float) -> None:
        raise CacheUnavailable("Redis is unreachable")


async def test_an_erasure_the_cache_cannot_take_is_reported_and_this_instance_still_stores_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port, clock, cache = FakePort(), Clock(ANCHOR), UnreachableForErasure()
    service = _service(port, clock, cache)
    first = await service.patient("P7", deadline=Deadline.after(1))
    await _settle(service)
    assert cache.writes == 1

    assert await service.erase("P7") is False
    assert "could not be erased" in caplog.text and "P7" not in caplog.text
    # What the shared cache holds stays until its time-to-live, but this instance adds nothing.
    again = await service.patient("P7", deadline=Deadline.after(1))
    assert (again.value, port.calls) == (first.value, 1)
    clock.advance(seconds=61)
    refreshed = await service.patient("P7", deadline=Deadline.after(1))
    await _settle(service)
    assert refreshed.value is not None
    assert (refreshed.value.name, port.calls, cache.writes) == ("call 2", 2, 1)
    await service.aclose()


async def test_nothing_is_fetched_past_the_requests_deadline() -> None:
    port, clock = FakePort(), Clock(ANCHOR)
    service = _service(port, clock)
    expired = Deadline(at=0.0)
    with pytest.raises(HisUnavailable, match="deadline exceeded"):
        await service.patient("P8", deadline=expired)
    assert port.calls == 0
    await service.aclose()


async def test_after_an_erasure_no_instance_stores_the_patient_for_a_while() -> None:
    shared = CountingCache()
    port, other_port, clock = FakePort(), FakePort(), Clock(ANCHOR)
    here, there = _service(port, clock, shared), _service(other_port, clock, shared)
    await there.patient("P9", deadline=Deadline.after(1))  # another instance: answered, not stored yet

    # when: erased here, after which a reader who passed the consent check just before asks here
    assert await here.erase("P9") is True
    late = await here.patient("P9", deadline=Deadline.after(1))
    assert late.value is not None
    await _settle(here)
    await _settle(there)

    # then: neither answer reached the shared cache
    assert shared.writes == 0
    third = FakePort()
    await _service(third, clock, shared).patient("P9", deadline=Deadline.after(1))
    assert third.calls == 1
    await here.aclose()
    await there.aclose()
