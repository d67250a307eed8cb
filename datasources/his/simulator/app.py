"""The embedded HIS: a small FHIR R4 server over the synthetic patients, with injectable faults.

Served in-process through `httpx.ASGITransport` (no port, no network) when HIS_FHIR_BASE_URL is
unset, or standalone with `python -m datasources.his.simulator --port 8282` (base URL
http://127.0.0.1:8282/fhir). It answers reads, searches (`patient`, `_id`, `code`, `date`,
`authored-on`, `_sort`, `_count`, `_include` of report results and `_include:iterate` of panel
members, paged through `Bundle.link[next]`), `Binary` downloads and `/metadata`.

Faults (the `faults` attribute in-process; `PUT /_simulator/faults` with a JSON object standalone):
latency (seconds from a request to its answer, the simulator's own work included, as from a HIS
whose response time is that), status (answer this HTTP status, for the next
`status_times` requests or always), hang (never answer in time), malformed_json (cut the body
short), malformed_entry (one unreadable Observation per page), ignore_include (act as a server
without `_include`), strict_sort (refuse `_sort` with 400, as strict handling does), barrier (hold
each request until that many are in flight at once: proves concurrency without timing), only (apply
the faults to paths containing this text only). `GET /_simulator/stats` counts the requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datasources.his.simulator.data import (
    Builder,
    PatientData,
    Resource,
    local_day,
    task_resources,
    visit_status,
)

FHIR_JSON = "application/fhir+json"
BASE_PATH = "/fhir"
MAX_COUNT = 200
SEARCHABLE = ("Patient", "Encounter", "DiagnosticReport", "Observation", "Task")
_BARRIER_WAIT = 5.0
_HANG = 3600.0


@dataclass
class Faults:
    latency: float = 0.0
    status: int | None = None
    status_times: int | None = None
    hang: bool = False
    malformed_json: bool = False
    malformed_entry: bool = False
    ignore_include: bool = False
    strict_sort: bool = False
    barrier: int = 0
    only: str | None = None

    def reset(self) -> None:
        for item in fields(self):
            setattr(self, item.name, item.default)

    def update(self, values: dict[str, Any]) -> None:
        known = {item.name for item in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        for name, value in values.items():
            setattr(self, name, value)

    def applies(self, path: str) -> bool:
        return self.only is None or self.only in path


@dataclass
class Stats:
    requests: list[str] = field(default_factory=list)  # "/fhir/DiagnosticReport?patient=..." in order
    in_flight: int = 0
    max_in_flight: int = 0

    def count(self, text: str = "") -> int:
        return sum(1 for request in self.requests if text in request)

    def reset(self) -> None:
        self.requests.clear()
        self.max_in_flight = self.in_flight


class HisSimulator:
    def __init__(self, *, clock: Callable[[], datetime], zone: ZoneInfo) -> None:
        self.clock = clock
        self.zone = zone
        self.faults = Faults()
        self.stats = Stats()
        self._barrier = asyncio.Event()  # set once `faults.barrier` requests were in flight together
        self.patients: dict[str, PatientData] = Builder(clock(), zone).patients()
        self._by_id: dict[str, tuple[str, Resource]] = {}
        for pid, data in self.patients.items():
            for resource in [*data.encounters, *data.reports, *data.observations.values()]:
                self._by_id[f"{resource['resourceType']}/{resource['id']}"] = (pid, resource)
        self.app = Starlette(
            routes=[
                Route(f"{BASE_PATH}/metadata", self._metadata, methods=["GET"]),
                Route(f"{BASE_PATH}/Binary/{{id}}", self._binary, methods=["GET"]),
                Route(f"{BASE_PATH}/{{type}}/{{id}}", self._read, methods=["GET"]),
                Route(f"{BASE_PATH}/{{type}}", self._search, methods=["GET"]),
                Route("/_simulator/faults", self._faults, methods=["GET", "PUT"]),
                Route("/_simulator/stats", self._stats, methods=["GET"]),
            ]
        )

    # ---- faults ------------------------------------------------------------------------

    async def _with_faults(self, request: Request, answer: Callable[[], Response]) -> Response:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        self.stats.requests.append(path)
        self.stats.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        faults = self.faults
        arrived = time.perf_counter()
        response: Response | None = None
        try:
            if faults.applies(path):
                if faults.barrier:
                    if self.stats.max_in_flight >= faults.barrier:
                        self._barrier.set()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._barrier.wait(), timeout=_BARRIER_WAIT)
                if faults.latency:
                    # The answer is made while the latency runs, as a real HIS works while the caller waits:
                    # in a thread, so that an in-process caller's event loop goes on meanwhile (sending its
                    # other requests) instead of waiting for this answer to be made before the latency starts.
                    response = await asyncio.to_thread(answer)
                    await asyncio.sleep(max(0.0, faults.latency - (time.perf_counter() - arrived)))
                if faults.hang:
                    await asyncio.sleep(_HANG)
                    return _outcome(504, "timeout", "simulated time-out")
                if faults.status is not None and faults.status_times != 0:
                    if faults.status_times is not None:
                        faults.status_times -= 1
                    return _outcome(faults.status, "transient", "simulated failure")
            if response is None:
                response = answer()
            if faults.applies(path) and faults.malformed_json and response.media_type == FHIR_JSON:
                return Response(bytes(response.body)[: max(1, len(response.body) // 2)], media_type=FHIR_JSON)
            return response
        finally:
            self.stats.in_flight -= 1

    # ---- routes ------------------------------------------------------------------------

    async def _metadata(self, request: Request) -> Response:
        return await self._with_faults(request, lambda: _fhir(_capabilities()))

    async def _binary(self, request: Request) -> Response:
        def answer() -> Response:
            for data in self.patients.values():
                found = data.binaries.get(request.path_params["id"])
                if found:
                    content_type, content = found
                    return Response(content, media_type=content_type)
            return _outcome(404, "not-found", "no such Binary")

        return await self._with_faults(request, answer)

    async def _read(self, request: Request) -> Response:
        def answer() -> Response:
            kind, ident = request.path_params["type"], request.path_params["id"]
            now = self.clock()
            if kind == "Patient" and ident in self.patients:
                return _fhir(self.patients[ident].patient)
            found = self._by_id.get(f"{kind}/{ident}")
            if found is None or not self._available(found[0], found[1], now):
                return _outcome(404, "not-found", f"no such {kind}")
            return _fhir(self._current(found[0], found[1], now))

        return await self._with_faults(request, answer)

    async def _search(self, request: Request) -> Response:
        return await self._with_faults(request, lambda: self._search_answer(request))

    async def _faults(self, request: Request) -> Response:
        if request.method == "PUT":
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("a JSON object of faults is expected")
                self.faults.reset()
                self.faults.update(body)
            except ValueError as problem:
                return JSONResponse({"error": str(problem)}, status_code=400)
        return JSONResponse(asdict(self.faults))

    async def _stats(self, _: Request) -> Response:
        return JSONResponse({"requests": len(self.stats.requests), "max_in_flight": self.stats.max_in_flight})

    # ---- searching -------------------------------------------------------------------------

    def _search_answer(self, request: Request) -> Response:
        kind = request.path_params["type"]
        if kind not in SEARCHABLE:
            return _outcome(404, "not-supported", f"{kind} is not served here")
        query = request.query_params
        if self.faults.strict_sort and "_sort" in query:
            return _outcome(400, "not-supported", "_sort is not supported")
        now = self.clock()
        try:
            matches = self._matches(kind, query, now)
            count = min(int(query.get("_count", "50")), MAX_COUNT)
            offset = int(query.get("_offset", "0"))
        except ValueError as problem:
            return _outcome(400, "invalid", str(problem))
        sort = query.get("_sort")
        if sort in ("date", "-date"):
            matches.sort(key=lambda r: (_date_of(r) or "", r["id"]), reverse=sort.startswith("-"))
        page = matches[offset : offset + count]
        used: list[tuple[str, str]] = [
            (k, v)
            for k, v in query.multi_items()
            if k not in ("_offset",) and not (k.startswith("_include") and self.faults.ignore_include)
        ]
        included = [] if self.faults.ignore_include else self._includes(page, query, now)
        base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
        links = [{"relation": "self", "url": f"{base}?{urlencode(used)}"}]
        if offset + count < len(matches):
            links.append({"relation": "next", "url": f"{base}?{urlencode([*used, ('_offset', str(offset + count))])}"})
        root = _root(request)
        entries: list[dict[str, Any]] = [
            {"fullUrl": f"{root}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": m}}
            for r, m in [(r, "match") for r in page] + [(r, "include") for r in included]
        ]
        if self.faults.malformed_entry and self.faults.applies(request.url.path):
            for entry in entries:
                if entry["resource"]["resourceType"] == "Observation" and "valueQuantity" in entry["resource"]:
                    broken = copy.deepcopy(entry["resource"])
                    broken["valueQuantity"]["value"] = "n/a"
                    entry["resource"] = broken
                    break
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "link": links,
            "entry": entries,
        }
        return _fhir(bundle)

    def _matches(self, kind: str, query: Any, now: datetime) -> list[Resource]:
        patient = query.get("patient") or query.get("subject", "").removeprefix("Patient/") or None
        ids = set(query.get("_id", "").split(",")) - {""}
        if patient is not None and patient not in self.patients:
            return []
        pool: list[tuple[str, Resource]] = []
        for pid, data in self.patients.items():
            if patient is not None and pid != patient:
                continue
            if kind == "Patient":
                pool.append((pid, data.patient))
            elif kind == "Encounter":
                pool += [(pid, r) for r in data.encounters]
            elif kind == "DiagnosticReport":
                pool += [(pid, r) for r in data.reports]
            elif kind == "Observation":
                pool += [(pid, r) for r in data.observations.values()]
            elif kind == "Task" and data.visit_today is not None:
                pool += [(pid, r) for r in task_resources(pid, data.visit_today, now, self.zone)]
        if patient is None and not ids:
            raise ValueError("a search needs `patient` or `_id`")
        found = []
        codes = {c.strip() for c in query.get("code", "").split(",") if c.strip()}
        day = query.get("date") or query.get("authored-on")
        for pid, resource in pool:
            if ids and resource["id"] not in ids:
                continue
            if not self._available(pid, resource, now):
                continue
            if codes and not codes & _tokens(resource):
                continue
            if day and not self._on_day(resource, day):
                continue
            found.append(self._current(pid, resource, now))
        return found

    def _includes(self, page: list[Resource], query: Any, now: datetime) -> list[Resource]:
        includes = set(query.getlist("_include"))
        iterate = set(query.getlist("_include:iterate"))
        found: dict[str, Resource] = {}
        if "DiagnosticReport:result" in includes:
            queue = [ref["reference"] for r in page for ref in r.get("result", [])]
            while queue:
                key = queue.pop(0)
                if key in found or key not in self._by_id:
                    continue
                pid, resource = self._by_id[key]
                if not self._available(pid, resource, now):
                    continue
                found[key] = resource
                if "Observation:has-member" in iterate:
                    queue += [m["reference"] for m in resource.get("hasMember", [])]
        return list(found.values())

    # ---- time ----------------------------------------------------------------------------

    def _available(self, pid: str, resource: Resource, now: datetime) -> bool:
        since = self.patients[pid].available.get(resource["id"])
        return since is None or since <= now

    def _current(self, pid: str, resource: Resource, now: datetime) -> Resource:
        visit = self.patients[pid].visit_today
        if visit is not None and resource["resourceType"] == "Encounter" and resource["id"] == visit.encounter_id:
            status = visit_status(visit, now)
            current = {**resource, "status": status}
            if status == "finished":
                end = visit.started + timedelta(minutes=visit.plan[-1].end)
                current["period"] = {**resource["period"], "end": end.astimezone(self.zone).isoformat()}
            return current
        return resource

    def _on_day(self, resource: Resource, day: str) -> bool:
        for prefix in ("eq", "ge", "le", "gt", "lt"):
            day = day.removeprefix(prefix) if day[:2] == prefix else day
        when = resource.get("period", {}).get("start") or resource.get("authoredOn") or _date_of(resource)
        if not when:
            return False
        return local_day(datetime.fromisoformat(when), self.zone).isoformat() == day[:10]


def _date_of(resource: Resource) -> str | None:
    value = resource.get("effectiveDateTime") or resource.get("period", {}).get("start") or resource.get("authoredOn")
    return str(value) if value else None


def _tokens(resource: Resource) -> set[str]:
    tokens = set()
    for coding in resource.get("code", {}).get("coding", []):
        tokens |= {coding.get("code", ""), f"{coding.get('system', '')}|{coding.get('code', '')}"}
    for component in resource.get("component", []):
        for coding in component.get("code", {}).get("coding", []):
            tokens |= {coding.get("code", ""), f"{coding.get('system', '')}|{coding.get('code', '')}"}
    return tokens


def _root(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{BASE_PATH}"


def _fhir(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON)


def _outcome(status: int, code: str, text: str) -> Response:
    return _fhir(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}],
        },
        status,
    )


def _capabilities() -> dict[str, Any]:
    search = {
        "Patient": ["_id"],
        "Encounter": ["patient", "_id", "date"],
        "DiagnosticReport": ["patient", "_id"],
        "Observation": ["patient", "_id", "code"],
        "Task": ["patient", "authored-on"],
    }
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-01",
        "kind": "instance",
        "software": {"name": "hospital-bff HIS simulator"},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": kind,
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [{"name": name, "type": "token"} for name in names],
                        "searchInclude": ["DiagnosticReport:result"] if kind == "DiagnosticReport" else [],
                        "searchRevInclude": [],
                    }
                    for kind, names in search.items()
                ],
            }
        ],
    }
