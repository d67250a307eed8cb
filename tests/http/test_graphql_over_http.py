"""/graphql speaks GraphQL over HTTP: media types, GET, status codes, batching, 429, masked errors."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from graphql import GraphQLError

from datasources.db.queries import departments as department_queries
from schema.errors import ReportStaleUpstreams

GQL = "application/graphql-response+json"
PREFLIGHT = {"apollo-require-preflight": "true"}
TYPENAME = {"query": "{ __typename }"}


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (GQL, GQL),
        (f"{GQL}, application/json;q=0.9", GQL),
        (f"application/json, {GQL};q=0.5", "application/json"),
    ],
)
async def test_the_response_media_type_follows_accept(http: httpx.AsyncClient, accept: str | None, media: str) -> None:
    headers = {"accept": accept} if accept else {}
    response = await http.post("/graphql", json=TYPENAME, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_an_accept_we_cannot_serve_is_406(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json=TYPENAME, headers={"accept": "application/xml"})
    assert response.status_code == 406


@pytest.mark.parametrize(
    "content_type", ["application/graphql", "application/xml", "application/json; charset=latin-1"]
)
async def test_other_content_types_are_415(http: httpx.AsyncClient, content_type: str) -> None:
    response = await http.post(
        "/graphql", content=b'{"query": "{ __typename }"}', headers={"content-type": content_type}
    )
    assert response.status_code == 415


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"variables": {}}', b'{"query": 5}', b'{"query": "{ __typename }", "variables": "x"}', b"3"],
)
async def test_a_body_that_is_not_a_request_is_400_with_a_request_id(http: httpx.AsyncClient, body: bytes) -> None:
    response = await http.post(
        "/graphql", content=body, headers={"content-type": "application/json", "x-request-id": "req-7"}
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "requestId": "req-7"}


@pytest.mark.parametrize(
    ("query", "variables"), [("{", None), ("{ noSuchField }", None), ("query($id: ID!) { __typename }", {"id": None})]
)
async def test_request_errors_are_400_without_data_for_graphql_response_json(
    http: httpx.AsyncClient, query: str, variables: Any
) -> None:
    document = {"query": query, "variables": variables}
    strict = await http.post("/graphql", json=document, headers={"accept": GQL})
    assert strict.status_code == 400
    assert "data" not in strict.json() and strict.json()["errors"]
    legacy = await http.post("/graphql", json=document, headers={"accept": "application/json"})
    assert legacy.status_code == 200
    assert legacy.json()["data"] is None and legacy.json()["errors"]


async def test_an_execution_error_is_200_with_data(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": "{ me { id } }"}, headers={"accept": GQL})
    assert response.status_code == 200
    assert "data" in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_queries_run_over_get_and_mutations_do_not(http: httpx.AsyncClient) -> None:
    query = await http.get(
        "/graphql",
        params={"query": "query($n: String!) { __type(name: $n) { name } }", "variables": '{"n": "Query"}'},
        headers=PREFLIGHT,
    )
    assert query.status_code == 200
    assert query.json() == {"data": {"__type": {"name": "Query"}}}
    mutation = await http.get("/graphql", params={"query": "mutation { __typename }"}, headers=PREFLIGHT)
    assert mutation.status_code == 405
    assert mutation.headers["allow"] == "POST"


async def test_a_batch_answers_an_array_in_order(http: httpx.AsyncClient) -> None:
    batch = [{"query": "{ __typename }"}, {"query": "{ noSuchField }"}, {"variables": {}}]
    response = await http.post("/graphql", json=batch)
    assert response.status_code == 200
    first, second, third = response.json()
    assert first == {"data": {"__typename": "Query"}}
    assert "noSuchField" in second["errors"][0]["message"]
    assert third["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_batch_over_the_limit_is_refused_as_too_complex(http: httpx.AsyncClient) -> None:
    assert len((await http.post("/graphql", json=[TYPENAME] * 5)).json()) == 5
    response = await http.post("/graphql", json=[TYPENAME] * 6)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["limit"] == "batch"


async def test_a_rate_limited_result_is_429_with_retry_after(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def limited(*_: Any, **__: Any) -> Any:
        raise GraphQLError("too many requests", extensions={"code": "RATE_LIMITED", "retryAfter": 17})

    monkeypatch.setattr(department_queries, "list_departments", limited)
    response = await http.post("/graphql", json={"query": "{ departments(first: 5) { totalCount } }"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "17"
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_an_error_raised_outside_resolvers_is_masked(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # given: a schema extension fails after execution, out of MaskUnexpectedErrors' reach
    def broken(self: Any) -> Any:
        yield
        raise RuntimeError("redis at 10.0.0.9 said NOAUTH")

    monkeypatch.setattr(ReportStaleUpstreams, "on_operation", broken)
    # when
    with caplog.at_level(logging.ERROR, logger="hospital_bff.http"):
        response = await http.post("/graphql", json=TYPENAME, headers={"x-request-id": "req-9"})
    # then
    assert "10.0.0.9" not in response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-9"}
    assert any("NOAUTH" in caplog.handler.format(r) for r in caplog.records if "req-9" in r.getMessage())


async def test_a_failure_before_execution_is_500_json_with_the_request_id(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import server.graphql_http

    async def broken(*_: Any, **__: Any) -> Any:
        raise ConnectionError("database at 10.0.0.5 refused")

    monkeypatch.setattr(server.graphql_http, "resolve_viewer", broken)
    response = await http.post("/graphql", json=TYPENAME, headers={"x-request-id": "req-5"})
    assert response.status_code == 500
    assert response.json() == {
        "errors": [
            {"message": "Internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-5"}}
        ]
    }


@pytest.mark.parametrize(
    ("request_body", "code"),
    [
        ({"query": "{ homepage { variant "}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {"query": "query($n: Int!) { departments(first: $n) { totalCount } }", "variables": {"n": "many"}},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ({"query": "{ departments(first: 51) { totalCount } }"}, "QUERY_TOO_COMPLEX"),  # keeps its own code
    ],
)
async def test_a_document_refused_before_execution_says_why_in_a_code(
    http: httpx.AsyncClient, request_body: dict[str, Any], code: str
) -> None:
    for accept, status in (("application/json", 200), ("application/graphql-response+json", 400)):
        response = await http.post("/graphql", json=request_body, headers={"accept": accept})
        assert response.status_code == status
        assert [error["extensions"]["code"] for error in response.json()["errors"]] == [code]
