"""The HIS as the resolvers use it: the port behind a stale-while-revalidate cache.

Each answer is cached (encrypted: it is health data) with a soft and a hard time-to-live:

- younger than the soft TTL: served from the cache, the HIS is not asked;
- older, but younger than the hard TTL: the HIS is asked; if it answers within a short wait
  (`stale_wait`) the new answer is served, otherwise the cached one is, marked stale with its
  `as_of` and the reason, while the refresh goes on in the background and fills the cache;
- nothing usable cached: the HIS is asked within the request's deadline; `HisUnavailable` if it
  cannot answer by then (the fetch still completes in the background, for the next request).

Concurrent requests for the same key share one fetch (per process). A fetched answer is stored a
moment after the requests waiting for it have it, and shared from memory until then. An open
circuit breaker makes the HIS fail at once, so stale data is served at once. Cache problems (Redis
down) only cost a cache miss. A patient's keys form one cache group, which `erase` deletes at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

import msgspec

from datasources.cache import Cache, read_entry, write_entry
from datasources.his.model import (
    AttachmentContent,
    HisPatient,
    HisReport,
    HisResult,
    PatientRecord,
    VisitProgress,
)
from datasources.his.port import HisPort
from datasources.his.resilience import Deadline, HisUnavailable

logger = logging.getLogger("hospital_bff.his")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
Seal = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Freshness:
    soft: timedelta  # served without asking the HIS
    hard: timedelta  # served at all (when the HIS cannot answer)


@dataclass(frozen=True)
class CachePolicy:
    record: Freshness = Freshness(timedelta(seconds=60), timedelta(hours=24))
    visit: Freshness = Freshness(timedelta(seconds=10), timedelta(hours=2))
    stale_wait: float = 0.3  # seconds to wait for fresh data when stale data is at hand
    background_budget: float = 10.0  # seconds a fetch may take when nobody waits for it
    # Seconds after an erasure during which no answer about the patient is stored: a request's
    # deadline (a reader who passed the consent check just before may start a fetch until then),
    # then that fetch's background budget, and a second more.
    erasure_block: float = 21.0


@dataclass(frozen=True)
class Fetched(Generic[T_co]):
    value: T_co
    as_of: datetime  # when the HIS gave this answer
    stale: bool  # the HIS could not be asked or did not answer: this is the last known answer
    problem: str | None = None  # why it is stale


class HisService:
    def __init__(
        self,
        port: HisPort,
        cache: Cache,
        *,
        clock: Callable[[], datetime],
        policy: CachePolicy,
        seal: Seal | None = None,
        unseal: Seal | None = None,
    ) -> None:
        self.port = port
        self._cache = cache
        self._clock = clock
        self._policy = policy
        self._seal = seal
        self._unseal = unseal
        self._inflight: dict[str, asyncio.Task[tuple[Any, datetime]]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        # Answers fetched but not stored yet (see `_write`), read as if they were in the cache.
        self._unwritten: dict[str, Fetched[Any]] = {}
        # Patients' groups erased lately, until when (monotonic): answers about them are not stored.
        self._blocked: dict[str, float] = {}

    # ---- reads -------------------------------------------------------------------------

    async def patient(self, patient_id: str, *, deadline: Deadline) -> Fetched[HisPatient | None]:
        return await self._get(
            self._key("patient", patient_id),
            lambda d: self.port.patient(patient_id, deadline=d),
            _PATIENT,
            self._policy.record,
            deadline,
        )

    async def record(self, patient_id: str, *, deadline: Deadline) -> Fetched[PatientRecord]:
        return await self._get(
            self._key("record", patient_id),
            lambda d: self.port.record(patient_id, deadline=d),
            _RECORD,
            self._policy.record,
            deadline,
        )

    async def report(self, patient_id: str, report_id: str, *, deadline: Deadline) -> Fetched[HisReport | None]:
        return await self._get(
            self._key("report", patient_id, report_id),
            lambda d: self.port.report(patient_id, report_id, deadline=d),
            _REPORT,
            self._policy.record,
            deadline,
        )

    async def observations(
        self, patient_id: str, *, system: str | None, code: str, deadline: Deadline
    ) -> Fetched[tuple[HisResult, ...]]:
        return await self._get(
            self._key("series", patient_id, system or "", code),
            lambda d: self.port.observations(patient_id, system=system, code=code, deadline=d),
            _SERIES,
            self._policy.record,
            deadline,
        )

    async def visit_progress(self, patient_id: str, *, day: date, deadline: Deadline) -> Fetched[VisitProgress | None]:
        return await self._get(
            self._key("visit", patient_id, day.isoformat()),
            lambda d: self.port.visit_progress(patient_id, day=day, deadline=d),
            _VISIT,
            self._policy.visit,
            deadline,
        )

    async def attachment(
        self, patient_id: str, report_id: str, index: int, *, deadline: Deadline
    ) -> AttachmentContent | None:
        """Documents are never cached here: read from the HIS each time, within the deadline."""
        try:
            return await self.port.attachment(patient_id, report_id, index, deadline=deadline)
        except HisUnavailable:
            raise
        except Exception as error:
            logger.exception("HIS %s: attachment read failed unexpectedly", self.port.upstream)
            raise HisUnavailable(type(error).__name__) from None

    async def erase(self, patient_id: str, *, block: bool = True) -> bool:
        """Drop everything cached of the patient (record, reports, trends, visits), in this process and
        in the shared cache: once a consent is withdrawn or a profile removed, their health data is not
        kept. For as long as a fetch may last, no instance stores an answer about them either, so that
        fetches already under way (a reader who passed the consent check just before) do not bring it
        back. False when the shared cache could not be reached: its entries end with their hard TTL.
        `block=False` only drops what is cached (the benchmark's cold runs)."""
        group = self._patient_group(patient_id)
        seconds = self._policy.erasure_block + _WRITE_DELAY if block else 0.0
        now = time.monotonic()
        self._blocked = {g: until for g, until in self._blocked.items() if until > now}
        if block:
            self._blocked[group] = now + seconds
        for key in [key for key in self._unwritten if key.startswith(group)]:
            del self._unwritten[key]
        cache = self._cache.strict()
        try:
            await cache.erase_group(group, block_seconds=seconds)
            # Keys of the format before groups, until they expire: only the record's can be named.
            digest = self._patient_digest(patient_id)
            await cache.delete(f"his:patient:{digest}", f"his:record:{digest}")
        except Exception as error:  # an outage, or a Redis that refuses the script: the change stands
            logger.warning(
                "HIS cache: a patient's entries could not be erased now (%s); they end with their time-to-live",
                type(error).__name__,
            )
            return False
        return True

    def _is_blocked(self, group: str) -> bool:
        until = self._blocked.get(group)
        return until is not None and until > time.monotonic()

    async def aclose(self) -> None:
        tasks = [*self._inflight.values(), *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- stale-while-revalidate ------------------------------------------------------------

    def _patient_digest(self, patient_id: str) -> str:
        # Hashed: keys are listed by anyone with access to Redis; patient ids stay out of them.
        return hashlib.sha256("\x1f".join((self.port.upstream, patient_id)).encode()).hexdigest()[:40]

    def _patient_group(self, patient_id: str) -> str:
        """`his:{<digest>}`: the cache group of a patient's keys, erased together; in braces, so that a
        Redis Cluster keeps a patient's keys on one node."""
        return f"his:{{{self._patient_digest(patient_id)}}}"

    def _key(self, kind: str, patient_id: str, *parts: str) -> str:
        """`his:{<patient>}:<kind>[:<the rest>]`; what else names the entry (a report id, a test code, a
        day) is hashed as well."""
        key = f"{self._patient_group(patient_id)}:{kind}"
        if parts:
            key += ":" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
        return key

    async def _get(
        self,
        key: str,
        load: Callable[[Deadline], Awaitable[T]],
        decoder: msgspec.json.Decoder[Any],
        freshness: Freshness,
        deadline: Deadline,
    ) -> Fetched[T]:
        cached = await self._read(key, decoder)
        now = self._clock()
        if cached is not None and now - cached.as_of >= freshness.hard:
            cached = None
        if cached is not None and now - cached.as_of < freshness.soft:
            return cached
        if deadline.expired:
            # Nothing is started past the request's deadline: every fetch begins within a request's
            # deadline and ends within its background budget, the time an erasure's block covers.
            problem = "deadline exceeded"
        else:
            task = self._refresh(key, load, freshness)
            wait = deadline.remaining() if cached is None else min(self._policy.stale_wait, deadline.remaining())
            try:
                value, as_of = await asyncio.wait_for(asyncio.shield(task), timeout=wait)
                return Fetched(value, as_of, stale=False)
            except TimeoutError:
                problem = "timed out"
            except HisUnavailable as unavailable:
                problem = str(unavailable)
        if cached is None:
            raise HisUnavailable(problem)
        logger.info("HIS %s: serving data of %s (%s)", self.port.upstream, cached.as_of.isoformat(), problem)
        return Fetched(cached.value, cached.as_of, stale=True, problem=problem)

    def _refresh(
        self, key: str, load: Callable[[Deadline], Awaitable[T]], freshness: Freshness
    ) -> asyncio.Task[tuple[Any, datetime]]:
        running = self._inflight.get(key)
        if running is not None:
            return running

        async def fetch() -> tuple[Any, datetime]:
            try:
                value = await load(Deadline.after(self._policy.background_budget))
            except HisUnavailable:
                raise
            except Exception as error:
                # A bug or an unreadable answer must not become a 5xx: logged, and treated as down.
                logger.exception("HIS %s: unexpected failure while reading", self.port.upstream)
                raise HisUnavailable(type(error).__name__) from None
            as_of = self._clock()
            if not self._is_blocked(_group_of(key)):
                fetched = Fetched(value, as_of, stale=False)
                self._unwritten[key] = fetched
                self._spawn(self._write(key, fetched, freshness))
            return value, as_of

        task = asyncio.get_running_loop().create_task(fetch())
        self._inflight[key] = task

        def done(finished: asyncio.Task[tuple[Any, datetime]]) -> None:
            if self._inflight.get(key) is finished:
                del self._inflight[key]
            if not finished.cancelled():
                finished.exception()  # retrieved here: waiters that gave up are not around to see it

        task.add_done_callback(done)
        return task

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _read(self, key: str, decoder: msgspec.json.Decoder[Any]) -> Fetched[Any] | None:
        """The cached answer, fresh as far as the cache knows (the caller judges its age)."""
        unwritten = self._unwritten.get(key)
        if unwritten is not None:
            return unwritten
        try:
            entry = await read_entry(self._cache, key, unseal=self._unseal)
            if entry is None:
                return None
            # An entry that no longer fits the model (written by another version) is a miss, not an error.
            return Fetched(decoder.decode(entry.value), entry.stored_at, stale=False)
        except Exception:
            logger.warning("HIS cache read failed for %s; treated as a miss", _kind_of(key), exc_info=True)
            return None

    async def _write(self, key: str, fetched: Fetched[Any], freshness: Freshness) -> None:
        """Serialise, seal and store a fetched answer a moment after it came: serialising and sealing
        a large record takes a fraction of a millisecond, which the responses waiting for the answer
        would otherwise wait for. Until it is stored it is read from `_unwritten`."""
        try:
            await asyncio.sleep(_WRITE_DELAY)
            if self._unwritten.get(key) is not fetched:
                return  # erased, or a newer answer came and is stored instead
            await write_entry(
                self._cache,
                key,
                msgspec.json.encode(fetched.value),
                stored_at=fetched.as_of,
                ttl_seconds=freshness.hard.total_seconds(),
                seal=self._seal,
                group=_group_of(key),  # refused if the patient was erased meanwhile, by any instance
            )
        except Exception:
            logger.warning("HIS cache write failed for %s", _kind_of(key), exc_info=True)
        finally:
            if self._unwritten.get(key) is fetched:
                del self._unwritten[key]


def _group_of(key: str) -> str:
    return key[: key.index("}") + 1]


def _kind_of(key: str) -> str:
    """The kind of entry, for logs (which never name the patient)."""
    return key.split(":")[2]


# Long enough for the responses waiting for an answer to be completed first (a few ms for a large record).
_WRITE_DELAY = 0.02

_PATIENT: msgspec.json.Decoder[Any] = msgspec.json.Decoder(HisPatient | None)
_RECORD: msgspec.json.Decoder[Any] = msgspec.json.Decoder(PatientRecord)
_REPORT: msgspec.json.Decoder[Any] = msgspec.json.Decoder(HisReport | None)
_SERIES: msgspec.json.Decoder[Any] = msgspec.json.Decoder(tuple[HisResult, ...])
_VISIT: msgspec.json.Decoder[Any] = msgspec.json.Decoder(VisitProgress | None)
