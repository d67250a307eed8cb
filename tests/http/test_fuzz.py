"""schemathesis (GraphQL mode) against a real uvicorn: every root field of the schema gets generated
documents and arguments, anonymously and with a patient's token. Whatever comes back, it is never a
5xx and never an INTERNAL_SERVER_ERROR: bad input gets a client error.

Reproducible: hypothesis runs derandomized (the same cases every run) and without its example
database; the number of cases per root field keeps a pass to about a minute.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation import GenerationMode

CASES_PER_FIELD = 7  # × about 90 root fields: 600+ generated operations per pass
AT_LEAST = 500


@pytest.fixture(scope="module")
def graphql_schema(live_server: str) -> Any:
    return schemathesis.graphql.from_url(f"{live_server}/graphql", timeout=10)


@pytest.fixture(scope="module")
def patient_token(live_server: str) -> str:
    response = httpx.post(
        f"{live_server}/graphql", json={"query": "mutation { devLogin(demoPatient: 3) { token } }"}, timeout=10
    )
    token: str = response.json()["data"]["devLogin"]["token"]
    return token


def fuzz(graphql_schema: Any, live_server: str, headers: dict[str, str]) -> int:
    """Runs the cases of every root field; answers how many requests were sent."""
    sent = 0
    with httpx.Client(base_url=live_server, headers=headers, timeout=30) as http:
        for result in graphql_schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy(GenerationMode.POSITIVE))
            @settings(
                max_examples=CASES_PER_FIELD,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                nonlocal sent
                response = http.post("/graphql", json={"query": case.body})
                sent += 1
                assert response.status_code < 500, (case.body, response.text)
                body = response.json()
                codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or ()}
                assert "INTERNAL_SERVER_ERROR" not in codes, (case.body, body)

            check()
    return sent


def test_anonymous_requests_never_fail_on_the_server(graphql_schema: Any, live_server: str) -> None:
    assert fuzz(graphql_schema, live_server, {}) >= AT_LEAST


def test_a_patients_requests_never_fail_on_the_server(
    graphql_schema: Any, live_server: str, patient_token: str
) -> None:
    assert fuzz(graphql_schema, live_server, {"authorization": f"Bearer {patient_token}"}) >= AT_LEAST
