"""The HIS port over FHIR R4 REST, through the application's one shared httpx client.

Searches ask for what a good server can do in one round trip (`_include` of the results and of
panel members, `_sort`, `_count`) and follow `Bundle.link[next]` exactly as given. A server that
ignores `_include` is caught by the references left unresolved, which are then read by `_id`; one
that refuses `_sort` or `_include` (HTTP 400 under strict handling) is asked again without them,
and not asked again for the life of the adapter; results are always sorted here as well.

Every HTTP request goes through the circuit breaker of this upstream and is retried (idempotent
GETs only) within the caller's deadline. One entry that cannot be read is logged and skipped; it
never fails the page.

Visit progress follows our profile: one `Task` per step of the visit, `Task.code` from
`VISIT_STEP_SYSTEM` (BOOK, CHECK_IN, WAIT, CONSULT, PAY, TESTS, PHARMACY, REPORTS), `Task.status`,
`Task.encounter`, `Task.executionPeriod`, a contained `Location` (name = room, description =
directions, partOf.display = building and floor), the queue number as an identifier in
`QUEUE_NUMBER_SYSTEM` and the patients still ahead as an output of type `waiting-ahead`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx

from datasources.his.fhir import resources as fhir
from datasources.his.fhir.parse import (
    Found,
    MalformedResource,
    R,
    decode_inline,
    is_fhir_id,
    normalise_reference,
    parse_encounter,
    parse_observation,
    parse_patient,
    parse_report,
    parse_task,
    readable,
    reference_key,
    resource_id,
    subject_is,
)
from datasources.his.model import (
    AttachmentContent,
    HisEncounter,
    HisPatient,
    HisReport,
    HisResult,
    PatientRecord,
    StepProgress,
    VisitProgress,
)
from datasources.his.resilience import (
    CircuitBreaker,
    Deadline,
    DeadlineExceeded,
    HisUnavailable,
    RetryPolicy,
)
from domain.enums import VisitStep
from domain.health_records import VisitKind

logger = logging.getLogger("hospital_bff.his")

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")
Params = list[tuple[str, str]]

FHIR_JSON = "application/fhir+json"
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_OPTIONAL = ("_sort", "_include", "_include:iterate")
_ID_CHUNK = 50
_MAX_MEMBER_ROUNDS = 3
_MAX_RETRY_AFTER = 5.0
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
_STEP_ORDER = {step: n for n, step in enumerate(VisitStep)}


class FhirRejected(Exception):
    """The server refused the request (4xx other than 404/410): our request, not its health."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class SearchResult:
    def __init__(self) -> None:
        self.matches: list[Found] = []
        self.included: dict[str, Found] = {}


async def concurrently(*calls: Awaitable[T]) -> list[T]:
    """Run the calls at the same time; the first failure cancels the others and is raised as is."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_awaited(call)) for call in calls]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Two calls at the same time, as `concurrently`, keeping each one's type."""
    try:
        async with asyncio.TaskGroup() as group:
            one = group.create_task(_awaited(first))
            two = group.create_task(_awaited(second))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return one.result(), two.result()


async def _awaited(call: Awaitable[T]) -> T:
    return await call


class FhirHis:
    """A `HisPort` speaking FHIR R4 to `base_url`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        breaker: CircuitBreaker,
        retry: RetryPolicy,
        zone: ZoneInfo,
        digest: Callable[[str], str],
        resident_id_systems: Iterable[str] = (),
        page_size: int = 100,
        max_pages: int = 20,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        base = httpx.URL(base_url.rstrip("/") + "/")
        if base.scheme not in ("http", "https") or not base.host:
            raise ValueError("the HIS FHIR base URL must be an absolute http(s) URL")
        self._http = http
        self._base = base
        self.upstream = upstream_name(base_url)
        self._breaker = breaker
        self._retry = retry
        self._zone = zone
        self._digest = digest
        self._resident_id_systems = frozenset(resident_id_systems)
        self._page_size = page_size
        self._max_pages = max_pages
        self._sleep = sleep
        self.supports_sort = True
        self.supports_include = True

    # ---- the port ------------------------------------------------------------------------

    async def patient(self, patient_id: str, *, deadline: Deadline) -> HisPatient | None:
        if not is_fhir_id(patient_id):
            return None
        resource = await self._get_resource(self._url(f"Patient/{patient_id}"), deadline=deadline)
        if resource is None:
            return None
        try:
            patient = readable(resource, fhir.Patient)
            if resource_id(patient) != patient_id:
                raise MalformedResource("not the Patient asked for")
            return parse_patient(patient, digest=self._digest, resident_id_systems=self._resident_id_systems)
        except MalformedResource as problem:
            self._skipped("Patient", resource, problem)
            return None

    async def record(self, patient_id: str, *, deadline: Deadline) -> PatientRecord:
        if not is_fhir_id(patient_id):
            return PatientRecord()
        # The reports first: the largest answer, the longest to make, send and read.
        reports, encounters = await both(
            self._reports(patient_id, [], deadline), self._encounters(patient_id, [], deadline)
        )
        return PatientRecord(encounters=tuple(encounters), reports=tuple(reports))

    async def report(self, patient_id: str, report_id: str, *, deadline: Deadline) -> HisReport | None:
        if not (is_fhir_id(patient_id) and is_fhir_id(report_id)):
            return None
        found = await self._reports(patient_id, [("_id", report_id)], deadline)
        return next((report for report in found if report.id == report_id), None)

    async def observations(
        self, patient_id: str, *, system: str | None, code: str, deadline: Deadline
    ) -> tuple[HisResult, ...]:
        if not is_fhir_id(patient_id):
            return ()
        token = f"{system}|{code}" if system else code
        found = await self._search(
            "Observation", [("patient", patient_id), ("code", token), ("_sort", "date")], deadline
        )
        results: list[HisResult] = []
        for resource in found.matches:
            try:
                own, _members = parse_observation(self._own(resource, fhir.Observation, patient_id), zone=self._zone)
            except MalformedResource as problem:
                self._skipped("Observation", resource, problem)
                continue
            results.extend(r for r in own if r.code == code and (system is None or r.code_system in (system, None)))
        results.sort(key=lambda r: (r.effective_at is None, r.effective_at, r.id or ""))
        return tuple(results)

    async def visit_progress(self, patient_id: str, *, day: date, deadline: Deadline) -> VisitProgress | None:
        if not is_fhir_id(patient_id):
            return None
        encounters, tasks = await both(
            self._encounters(patient_id, [("date", day.isoformat())], deadline),
            self._search("Task", [("patient", patient_id), ("authored-on", day.isoformat())], deadline),
        )
        visits = [
            e
            for e in encounters
            if e.kind in (VisitKind.OUTPATIENT, VisitKind.EMERGENCY)
            and e.status not in ("cancelled", "entered-in-error")
        ]
        if not visits:
            return None
        visit = visits[0]  # newest first
        steps: dict[VisitStep, StepProgress] = {}
        doctor = None
        for resource in tasks.matches:
            try:
                task = readable(resource, fhir.Task)
                if not subject_is(task, patient_id):
                    continue
                parsed = parse_task(task, zone=self._zone)
            except MalformedResource as problem:
                self._skipped("Task", resource, problem)
                continue
            if parsed is None:
                continue
            encounter_id, step = parsed
            if encounter_id not in (visit.id, None):
                continue
            if step.step not in steps or steps[step.step].status in ("cancelled", "entered-in-error"):
                steps[step.step] = step
            owner = task.owner
            if step.step is VisitStep.CONSULT and owner is not None and owner.display is not None:
                doctor = owner.display
        ordered = tuple(sorted(steps.values(), key=lambda s: _STEP_ORDER[s.step]))
        return VisitProgress(encounter=visit, doctor=doctor, steps=ordered)

    async def attachment(
        self, patient_id: str, report_id: str, index: int, *, deadline: Deadline
    ) -> AttachmentContent | None:
        if not (is_fhir_id(patient_id) and is_fhir_id(report_id)) or index < 0:
            return None
        resource = await self._get_resource(self._url(f"DiagnosticReport/{report_id}"), deadline=deadline)
        if not isinstance(resource, fhir.DiagnosticReport) or not subject_is(resource, patient_id):
            return None
        if index >= len(resource.presented_form):
            return None
        form = resource.presented_form[index]
        content_type, title = form.content_type, form.title
        if form.data is not None:
            try:
                data = decode_inline(form.data)
            except MalformedResource as problem:
                self._skipped("DiagnosticReport", resource, problem)
                return None
        elif form.url is not None:
            url = self._same_origin(form.url)
            if url is None:
                logger.warning("HIS %s: attachment of a report points outside the HIS; not fetched", self.upstream)
                return None
            fetched = await self._get_bytes(url, accept=content_type or "*/*", deadline=deadline)
            if fetched is None:
                return None
            data, served_type = fetched
            content_type = content_type or served_type
        else:
            return None
        if len(data) > MAX_ATTACHMENT_BYTES:
            logger.warning("HIS %s: attachment larger than %d bytes refused", self.upstream, MAX_ATTACHMENT_BYTES)
            return None
        return AttachmentContent(content_type=content_type or "application/octet-stream", title=title, data=data)

    # ---- searches -------------------------------------------------------------------------

    async def _encounters(self, patient_id: str, extra: Params, deadline: Deadline) -> list[HisEncounter]:
        found = await self._search("Encounter", [("patient", patient_id), *extra, ("_sort", "-date")], deadline)
        encounters = []
        for resource in found.matches:
            try:
                encounters.append(parse_encounter(self._own(resource, fhir.Encounter, patient_id), zone=self._zone))
            except MalformedResource as problem:
                self._skipped("Encounter", resource, problem)
        encounters.sort(key=lambda e: (e.period.start is not None, e.period.start, e.id), reverse=True)
        return encounters

    async def _reports(self, patient_id: str, extra: Params, deadline: Deadline) -> list[HisReport]:
        params = [
            ("patient", patient_id),
            *extra,
            ("_include", "DiagnosticReport:result"),
            ("_include:iterate", "Observation:has-member"),
            ("_sort", "-date"),
        ]
        found = await self._search("DiagnosticReport", params, deadline)
        index = dict(found.included)
        await self._resolve_missing(found.matches, index, deadline)
        reports = []

        def resolve(ref: str) -> Found | None:
            observation = index.get(ref)
            # Panel members often name no subject; one that names another patient is not used.
            if isinstance(observation, fhir.Observation) and observation.subject is not None:
                return observation if subject_is(observation, patient_id) else None
            return observation

        for resource in found.matches:
            try:
                reports.append(
                    parse_report(
                        self._own(resource, fhir.DiagnosticReport, patient_id),
                        resolve=resolve,
                        zone=self._zone,
                        on_skipped=lambda ref, reason: logger.warning(
                            "HIS %s: skipped malformed %s: %s", self.upstream, ref, reason
                        ),
                    )
                )
            except MalformedResource as problem:
                self._skipped("DiagnosticReport", resource, problem)
        reports.sort(key=report_order, reverse=True)
        return reports

    async def _resolve_missing(self, reports: list[Found], index: dict[str, Found], deadline: Deadline) -> None:
        """Read the results (and panel members) a server did not include, by `_id`, a few rounds deep."""
        wanted = {key for r in reports if isinstance(r, fhir.DiagnosticReport) for key in _refs(r.result)}
        for _round in range(_MAX_MEMBER_ROUNDS):
            missing = sorted(ref for ref in wanted - index.keys() if ref.startswith("Observation/"))
            if not missing:
                return
            ids = [ref.split("/", 1)[1] for ref in missing if is_fhir_id(ref.split("/", 1)[1])]
            chunks = [ids[i : i + _ID_CHUNK] for i in range(0, len(ids), _ID_CHUNK)]
            results = await concurrently(
                *(self._search("Observation", [("_id", ",".join(chunk))], deadline) for chunk in chunks)
            )
            fetched = [resource for result in results for resource in result.matches]
            for resource in fetched:
                index[f"Observation/{resource.id}"] = resource
            # Whatever is still missing after being asked for stays missing.
            wanted = {key for key in wanted if key in index} | {
                key
                for resource in fetched
                if isinstance(resource, fhir.Observation)
                for key in _refs(resource.has_member)
            }

    async def _search(self, resource_type: str, params: Params, deadline: Deadline) -> SearchResult:
        params = [*params, ("_count", str(self._page_size))]
        if not self.supports_sort:
            params = [p for p in params if p[0] != "_sort"]
        if not self.supports_include:
            params = [p for p in params if not p[0].startswith("_include")]
        url = self._url(resource_type)
        while True:
            try:
                return await self._pages(resource_type, url, params, deadline)
            except FhirRejected as rejected:
                # A strict server refuses parameters it does not support: drop _sort first, then _include.
                if rejected.status != 400 or not any(p[0] in _OPTIONAL for p in params):
                    raise HisUnavailable(f"{resource_type} search refused: {rejected}") from None
                if any(p[0] == "_sort" for p in params):
                    logger.info("HIS %s refuses _sort; results are sorted here", self.upstream)
                    self.supports_sort = False
                    params = [p for p in params if p[0] != "_sort"]
                else:
                    logger.info("HIS %s refuses _include; references are read by _id", self.upstream)
                    self.supports_include = False
                    params = [p for p in params if not p[0].startswith("_include")]

    async def _pages(self, resource_type: str, url: httpx.URL, params: Params, deadline: Deadline) -> SearchResult:
        result = SearchResult()
        page = await self._get_page(url, params=params, deadline=deadline)
        pages = 1
        while page is not None:
            for resource, mode, full_url in page.entries:
                if isinstance(resource, fhir.OperationOutcome):
                    _log_outcome(self.upstream, resource)
                    continue
                kind = fhir.type_name(resource)
                if kind == resource_type and mode in (None, "match"):
                    result.matches.append(resource)
                    continue
                if kind is not None and resource.id is not None:
                    result.included[f"{kind}/{resource.id}"] = resource
                elif full_url:
                    # Resources without an id are referred to by their fullUrl (urn:uuid:...).
                    result.included[normalise_reference(full_url)] = resource
            following = page.next_url
            if following is None:
                break
            if pages >= self._max_pages:
                logger.warning("HIS %s: %s search stopped after %d pages", self.upstream, resource_type, pages)
                break
            next_url = self._same_origin(following)
            if next_url is None:
                raise HisUnavailable(f"{resource_type} search: next page outside the HIS")
            page = await self._get_page(next_url, deadline=deadline)
            pages += 1
        return result

    # ---- HTTP with deadline, retries and the circuit breaker ----------------------------------

    async def _get_page(
        self, url: httpx.URL, *, params: Params | None = None, deadline: Deadline
    ) -> fhir.SearchPage | None:
        def decode(response: httpx.Response) -> fhir.SearchPage:
            return fhir.decode_search(response.content)

        return await self._get(url, params=params, accept=FHIR_JSON, decode=decode, deadline=deadline)

    async def _get_resource(self, url: httpx.URL, *, deadline: Deadline) -> Found | None:
        def decode(response: httpx.Response) -> Found:
            return fhir.decode_resource(response.content)

        return await self._get(url, params=None, accept=FHIR_JSON, decode=decode, deadline=deadline)

    async def _get_bytes(self, url: httpx.URL, *, accept: str, deadline: Deadline) -> tuple[bytes, str | None] | None:
        def decode(response: httpx.Response) -> tuple[bytes, str | None]:
            return response.content, response.headers.get("content-type")

        return await self._get(url, params=None, accept=accept, decode=decode, deadline=deadline)

    async def _get(
        self,
        url: httpx.URL,
        *,
        params: Params | None,
        accept: str,
        decode: Callable[[httpx.Response], T],
        deadline: Deadline,
    ) -> T | None:
        attempt = 0
        # Only the resource type: a read's path carries the patient's id, which logs do without.
        what = (url.path.removeprefix(self._base.path) or "/").split("/")[0]
        while True:
            attempt += 1
            self._breaker.before_call()
            remaining = deadline.remaining()
            if remaining <= 0:
                self._breaker.release_trial()
                raise DeadlineExceeded()
            retry_after = 0.0
            try:
                async with asyncio.timeout(min(self._retry.attempt_timeout, remaining)):
                    query = httpx.QueryParams(tuple(params)) if params else None
                    response = await self._http.get(url, params=query, headers={"Accept": accept})
                status = response.status_code
                if status in _RETRY_STATUS or status >= 500:
                    problem = f"HTTP {status}"
                    retry_after = _retry_after(response)
                elif status in (404, 410):
                    self._breaker.record_success()
                    return None
                elif status >= 400:
                    self._breaker.record_success()
                    raise FhirRejected(status)
                else:
                    try:
                        value = decode(response)
                    except ValueError:  # msgspec.DecodeError too: not JSON, or not the FHIR asked for
                        problem = "malformed answer"
                    else:
                        self._breaker.record_success()
                        return value
            except TimeoutError:
                problem = "timed out"
            except httpx.HTTPError as error:
                # The error's text may quote the URL, and with it the patient id: only its class is logged.
                problem = type(error).__name__
            except asyncio.CancelledError:
                self._breaker.release_trial()
                raise
            self._breaker.record_failure()
            logger.warning("HIS %s: GET %s attempt %d failed: %s", self.upstream, what, attempt, problem)
            if attempt > self._retry.retries:
                raise HisUnavailable(problem)
            pause = max(self._retry.pause(attempt), min(retry_after, _MAX_RETRY_AFTER))
            if pause >= deadline.remaining():
                raise HisUnavailable(problem)
            await self._sleep(pause)

    # ---- helpers -----------------------------------------------------------------------------

    def _url(self, path: str) -> httpx.URL:
        return self._base.join(path)

    def _same_origin(self, link: str) -> httpx.URL | None:
        """`link` (absolute, or relative to the base) if it stays on the HIS, else None."""
        url = self._base.join(link)
        if (url.scheme, url.host, url.port) != (self._base.scheme, self._base.host, self._base.port):
            return None
        return url

    def _own(self, resource: Found, kind: type[R], patient_id: str) -> R:
        """`resource` when it is a readable `kind` about this patient, else MalformedResource saying why."""
        found = readable(resource, kind)
        if not subject_is(found, patient_id):
            raise MalformedResource("subject is another patient")
        return found

    def _skipped(self, resource_type: str, resource: Found, problem: Exception) -> None:
        ident = resource.id or "?"
        logger.warning("HIS %s: skipped malformed %s/%s: %s", self.upstream, resource_type, ident, problem)


def report_order(report: HisReport) -> tuple[Any, ...]:
    """Newest first when sorted in reverse: by when it was taken, then issued, then id."""
    floor = datetime.min.replace(tzinfo=UTC)
    return (report.when or floor, report.issued_at or floor, report.id)


def upstream_name(base_url: str) -> str:
    url = httpx.URL(base_url)
    port = f":{url.port}" if url.port else ""
    return f"his:{url.host}{port}"


def _refs(references: tuple[fhir.Reference, ...]) -> set[str]:
    return {key for key in map(reference_key, references) if key}


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "0")))
    except ValueError:
        return 0.0


def _log_outcome(upstream: str, outcome: fhir.OperationOutcome) -> None:
    for issue in outcome.issue:
        if issue.severity in ("error", "fatal", "warning"):
            logger.warning("HIS %s: search outcome %s: %s", upstream, issue.severity, issue.code)
