"""Unexpected failures reach clients as a request id only; the log keeps the trace under that id."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from datasources.db.queries import departments as department_queries


async def test_an_unexpected_error_is_masked_and_logged_with_the_request_id(
    http: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # given: the department list fails deep inside with an internal detail in the message
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("connection to 10.0.0.5 refused for user hbff_admin")

    monkeypatch.setattr(department_queries, "list_departments", broken)
    # when
    with caplog.at_level(logging.ERROR, logger="hospital_bff.errors"):
        response = await http.post(
            "/graphql",
            json={"query": "{ departments(first: 5) { totalCount } }"},
            headers={"x-request-id": "req-42"},
        )
    # then
    [error] = response.json()["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"}
    assert "10.0.0.5" not in response.text
    [record] = [r for r in caplog.records if "req-42" in r.getMessage()]
    logged = caplog.handler.format(record)
    assert "RuntimeError: connection to 10.0.0.5 refused" in logged, "the trace stays in the log"


async def test_validation_errors_are_shown_as_they_are(client: Any) -> None:
    body = await client.execute("{ homepage { noSuchField } }")
    assert "noSuchField" in body["errors"][0]["message"]


@pytest.mark.parametrize("body", ['"{ __typename }"', "3", "null", "true"])
async def test_a_json_body_that_is_not_an_object_is_a_bad_request(http: httpx.AsyncClient, body: str) -> None:
    response = await http.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "JSON object" in response.text
