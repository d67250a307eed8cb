"""The FHIR adapter under a failing HIS: bounded retries of reads, a deadline that always ends the
wait, and a circuit breaker per upstream. Counted in requests and a fake clock, never timed."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from his_support import FakeMonotonic, ScriptedFhir, adapter, fhir_response, searchset

from datasources.his.resilience import BreakerState, CircuitBreaker, CircuitOpen, Deadline, HisUnavailable

PATIENT = {"resourceType": "Patient", "id": "P1", "name": [{"text": "张三"}], "gender": "male"}


def _patient_server(*failures: int | str) -> ScriptedFhir:
    """Answers each request with the next scripted failure (a status, "malformed"), then success."""
    script = list(failures)

    def answer(request: httpx.Request) -> httpx.Response:
        if script:
            failure = script.pop(0)
            if failure == "malformed":
                return httpx.Response(200, content=b'{"resourceType": "Patient", "id": "P1"', headers={})
            return httpx.Response(int(failure), json={"resourceType": "OperationOutcome"})
        return fhir_response(PATIENT)

    return ScriptedFhir(answer)


async def test_a_read_is_retried_on_503_and_malformed_json_then_succeeds() -> None:
    server = _patient_server(503, "malformed")
    his, http = adapter(server, retries=2)
    async with http:
        patient = await his.patient("P1", deadline=Deadline.after(10))
    assert patient is not None and patient.name == "张三"
    assert len(server.requests) == 3


async def test_retries_are_bounded() -> None:
    server = _patient_server(503, 503, 503, 503, 503)
    his, http = adapter(server, retries=2)
    async with http:
        with pytest.raises(HisUnavailable, match="HTTP 503"):
            await his.patient("P1", deadline=Deadline.after(10))
    assert len(server.requests) == 3


async def test_a_refusal_is_not_retried_and_a_missing_patient_is_none() -> None:
    server = _patient_server(404)
    his, http = adapter(server, retries=2)
    async with http:
        assert await his.patient("P1", deadline=Deadline.after(10)) is None
    assert len(server.requests) == 1


async def test_a_hanging_his_never_hangs_the_caller() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    server = ScriptedFhir(hang)
    his, http = adapter(server, retries=5, attempt_timeout=0.02)
    async with http:
        with pytest.raises(HisUnavailable):
            # The deadline ends the wait even with retries left.
            await his.patient("P1", deadline=Deadline.after(0.05))
    assert 1 <= len(server.requests) <= 3


async def test_the_breaker_opens_fails_fast_then_lets_one_trial_through() -> None:
    clock = FakeMonotonic()
    breaker = CircuitBreaker("his:test", failure_threshold=3, reset_after=30, clock=clock)
    server = _patient_server(*([503] * 3))
    his, http = adapter(server, retries=2, breaker=breaker)
    async with http:
        with pytest.raises(HisUnavailable):
            await his.patient("P1", deadline=Deadline.after(10))
        assert breaker.state is BreakerState.OPEN and len(server.requests) == 3
        # Open: no request reaches the HIS at all.
        with pytest.raises(CircuitOpen):
            await his.patient("P1", deadline=Deadline.after(10))
        assert len(server.requests) == 3
        clock.advance(30)
        assert breaker.state is BreakerState.HALF_OPEN
        patient = await his.patient("P1", deadline=Deadline.after(10))
    assert patient is not None and breaker.state is BreakerState.CLOSED
    assert len(server.requests) == 4


async def test_a_failed_trial_opens_the_circuit_again() -> None:
    clock = FakeMonotonic()
    breaker = CircuitBreaker("his:test", failure_threshold=1, reset_after=30, clock=clock)
    server = _patient_server(503, 503)
    his, http = adapter(server, retries=0, breaker=breaker)
    async with http:
        with pytest.raises(HisUnavailable):
            await his.patient("P1", deadline=Deadline.after(10))
        clock.advance(30)
        with pytest.raises(HisUnavailable):
            await his.patient("P1", deadline=Deadline.after(10))
        assert breaker.state is BreakerState.OPEN
        with pytest.raises(CircuitOpen):
            await his.patient("P1", deadline=Deadline.after(10))
    assert len(server.requests) == 2


async def test_a_next_link_to_another_host_is_not_followed() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return fhir_response(
            searchset([], base="https://his.example/fhir", next_url="https://elsewhere.example/fhir/Encounter?page=2")
        )

    server = ScriptedFhir(answer)
    his, http = adapter(server)
    async with http:
        with pytest.raises(HisUnavailable, match="outside the HIS"):
            await his.record("P1", deadline=Deadline.after(10))
    assert all(r.url.host == "his.example" for r in server.requests)
