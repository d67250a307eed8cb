"""Helpers for HIS tests: the official HL7 FHIR R4 examples, a scriptable FHIR server, a fake clock."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from datasources.his.fhir import resources as fhir
from datasources.his.fhir.client import FhirHis
from datasources.his.resilience import CircuitBreaker, RetryPolicy
from settings import ROOT

ZONE = ZoneInfo("Asia/Shanghai")
# Next to the repository, never inside it: see ../shared/fhir-r4-examples/README.md.
EXAMPLES = ROOT.parent / "shared" / "fhir-r4-examples"


def example(name: str) -> dict[str, Any]:
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip(f"the official HL7 FHIR R4 examples are not at {EXAMPLES} ({name} missing)")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def read(resource: dict[str, Any]) -> Any:
    """A resource as the adapter decodes it from the wire (an `Unreadable` when it cannot be read)."""
    return fhir.decode_resource(json.dumps(resource).encode())


def resources_of(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The resources of a collection Bundle, keyed "Type/id"."""
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"] for e in bundle["entry"]}


def fake_digest(number: str) -> str:
    return f"digest({number})"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def searchset(
    matches: list[dict[str, Any]],
    included: list[dict[str, Any]] | None = None,
    *,
    base: str,
    next_url: str | None = None,
) -> dict[str, Any]:
    def entry(resource: dict[str, Any], mode: str) -> dict[str, Any]:
        full_url = f"{base}/{resource['resourceType']}/{resource.get('id', 'no-id')}"
        return {"fullUrl": full_url, "resource": resource, "search": {"mode": mode}}

    entries = [entry(r, "match") for r in matches] + [entry(r, "include") for r in included or []]
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(matches), "entry": entries}
    bundle["link"] = [{"relation": "self", "url": base}] + ([{"relation": "next", "url": next_url}] if next_url else [])
    return bundle


Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class ScriptedFhir:
    """A FHIR server answering from a handler, recording every request it gets."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response | Awaitable[httpx.Response]:
        self.requests.append(request)
        return self.handler(request)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def fhir_response(body: dict[str, Any], status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"content-type": "application/fhir+json"})


def adapter(
    server: Handler,
    *,
    base_url: str = "https://his.example/fhir",
    retries: int = 2,
    attempt_timeout: float = 5.0,
    breaker: CircuitBreaker | None = None,
    clock: FakeMonotonic | None = None,
) -> tuple[FhirHis, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))  # type: ignore[arg-type]

    async def no_sleep(_: float) -> None:
        return None

    his = FhirHis(
        http,
        base_url=base_url,
        breaker=breaker or CircuitBreaker("test", failure_threshold=100, clock=clock or FakeMonotonic()),
        retry=RetryPolicy(attempt_timeout=attempt_timeout, retries=retries, backoff=0.01),
        zone=ZONE,
        digest=fake_digest,
        sleep=no_sleep,
    )
    return his, http


# ---- GraphQL helpers for health-record and companion tests ----------------------------------

RECORD_FIELDS = """
  profileId stale asOf
  basicInfo { maskedName gender age idNumber mobile hisPatientId medicalRecordNumber
              outpatientVisits emergencyVisits inpatientStays }
"""
ADD_PERSON = """mutation($input: ProfileInput!) { addProfile(input: $input) {
  __typename ... on ProfileSuccess { profile { id } } ... on ValidationFailed { field reason } } }"""
GIVE_CONSENT = """mutation($id: ID!, $version: String!) { giveHealthDataConsent(profileId: $id, version: $version) {
  __typename } }"""


def person(number: int, parent: bool = False, **changes: Any) -> dict[str, Any]:
    """Profile input for a demo person (the simulator holds the same people)."""
    from datasources.identity.demo_patients import demo_profiles

    data = demo_profiles(number)[1 if parent else 0]
    return {
        "name": data.name,
        "idNumber": data.id_number,
        "mobile": data.mobile,
        "relation": data.relation.value,
        "hisPatientId": data.his_patient_id,
        **changes,
    }


async def account_with(
    http: httpx.AsyncClient, user: str, *people: dict[str, Any], consent: bool = True
) -> tuple[str, list[str]]:
    """A fresh patient account holding `people` as profiles (with consent): its token and profile ids."""
    from identity_support import gql, patient_login

    token = await patient_login(http, user)
    version = (await gql(http, "{ consentDocument { version } }"))["data"]["consentDocument"]["version"]
    ids = []
    for data in people:
        body = await gql(http, ADD_PERSON, {"input": data}, token)
        result = body["data"]["addProfile"]
        assert result["__typename"] == "ProfileSuccess", body
        ids.append(result["profile"]["id"])
        if consent:
            given = await gql(http, GIVE_CONSENT, {"id": ids[-1], "version": version}, token)
            assert given["data"]["giveHealthDataConsent"]["__typename"] == "ProfileSuccess", given
    return token, ids
