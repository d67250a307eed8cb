"""The response cache behind /graphql: a public answer is stored once and then served as the same
bytes without any GraphQL or SQL work; private answers, mutations and errors never are; an admin
change drops what it changes, so the next request shows it.

An app of its own with the cache on (the suite's shared app runs with it off)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cache_support import app_with_response_cache
from content_support import mutate, staff_token
from identity_support import patient_login
from starlette.applications import Starlette

from datasources.response_cache import ResponseCache, response_cache_key
from domain.enums import AdminRole
from settings import Settings

HOMEPAGE = """query Home { homepage { variant layout { compact fontScale modules }
  featuredDepartments { position department { id name } } articles { label articles { id title } }
  goldBoard { period { key } } boards { board entries { rank } } } }"""
LAYOUT_ONLY = "query Layout { homepage(variant: ELDER) { layout { compact fontScale modules } } }"
SET_LAYOUT = """mutation($layout: LayoutInput!) { setLayout(variant: ELDER, layout: $layout) { __typename } }"""


@pytest.fixture(scope="module")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    async with app_with_response_cache(settings) as application:
        yield application


async def post(http: httpx.AsyncClient, query: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token:
        headers["authorization"] = f"Bearer {token}"
    return await http.post("/graphql", json={"query": query}, headers=headers)


async def test_a_public_answer_is_served_again_as_the_same_bytes_without_sql(
    http: httpx.AsyncClient, assert_num_queries: Any
) -> None:
    # a query nobody asked before in this app (the alias makes the document new)
    query = HOMEPAGE.replace("variant layout", f"variant fresh{uuid.uuid4().hex[:6]}: variant layout")
    first = await post(http, query)
    assert "errors" not in first.json(), first.text
    # articles (60 s, scheduled ones go live unannounced) bound the homepage's 300 s
    assert first.headers["cache-control"] == "public, max-age=60"
    with assert_num_queries(0):
        again = await post(http, query)
        as_spec = await post(http, query, accept="application/graphql-response+json")
    assert again.content == first.content
    assert again.headers["cache-control"].startswith("public, max-age=")
    # the same stored bytes, labelled with the media type the client asked for
    assert as_spec.content == first.content
    assert as_spec.headers["content-type"].startswith("application/graphql-response+json")
    # so is the same document from a signed-in patient: nothing under `homepage` depends on the viewer
    patient = await patient_login(http, f"rc-{uuid.uuid4().hex[:8]}")
    with assert_num_queries(0):
        signed_in = await post(http, query, patient)
    assert signed_in.content == first.content


async def test_variables_and_operation_names_are_part_of_the_key(http: httpx.AsyncClient) -> None:
    query = "query Depts($n: Int!) { departments(first: $n) { edges { node { id } } } }"
    two = await http.post("/graphql", json={"query": query, "variables": {"n": 2}})
    three = await http.post("/graphql", json={"query": query, "variables": {"n": 3}})
    assert len(two.json()["data"]["departments"]["edges"]) == 2
    assert len(three.json()["data"]["departments"]["edges"]) == 3


async def test_private_answers_mutations_and_errors_are_never_stored(app: Starlette, http: httpx.AsyncClient) -> None:
    cache: ResponseCache = app.state.resources.response_cache

    async def stored(query: str) -> bool:
        key = response_cache_key(document=query, variables=None, operation_name=None, scope="public")
        return await cache.get(key) is not None

    patient = await patient_login(http, f"rc-{uuid.uuid4().hex[:8]}")
    me = "{ me { id profiles { id } } }"
    private = await post(http, me, patient)
    assert "errors" not in private.json()
    # an error (here: an id that is not one) is not stored either
    broken = '{ departments(first: 1) { totalCount } staffMember(id: "not-an-id") { name } }'
    failed = await post(http, broken)
    assert failed.json().get("errors")
    mutation = 'mutation { login(code: "not-a-code") { token } }'
    refused = await post(http, mutation)
    for response in (private, failed, refused):
        assert response.headers["cache-control"] == "no-store"
    assert [await stored(query) for query in (me, broken, mutation)] == [False, False, False]
    # while a public answer is (the check itself can see stored entries)
    public = "{ departments(first: 1) { totalCount } }"
    await post(http, public)
    assert await stored(public)


async def test_an_admin_change_is_seen_at_once(
    app: Starlette, http: httpx.AsyncClient, assert_num_queries: Any
) -> None:
    editor = await staff_token(app, http, AdminRole.CONTENT_EDITOR)
    before = (await post(http, LAYOUT_ONLY)).json()["data"]["homepage"]["layout"]
    with assert_num_queries(0):  # stored by the request before
        assert (await post(http, LAYOUT_ONLY)).json()["data"]["homepage"]["layout"] == before
    changed = {**before, "compact": not before["compact"]}
    try:
        result = await mutate(http, SET_LAYOUT, {"layout": changed}, editor)
        assert result == {"__typename": "HomepageConfigSuccess"}
        # the mutation dropped every answer tagged "homepage": the next request reads the database
        after = await post(http, LAYOUT_ONLY)
        assert after.json()["data"]["homepage"]["layout"] == changed
    finally:
        await mutate(http, SET_LAYOUT, {"layout": before}, editor)
    assert (await post(http, LAYOUT_ONLY)).json()["data"]["homepage"]["layout"] == before


async def test_a_cached_answer_does_not_skip_the_request_checks(http: httpx.AsyncClient) -> None:
    query = "query Checked { departments(first: 1) { totalCount } }"
    raw = httpx.Request("POST", "http://t/graphql", json={"query": query}).content
    cached = await http.post("/graphql", content=raw, headers={"content-type": "application/json"})
    again = await http.post("/graphql", content=raw, headers={"content-type": "application/json"})
    assert again.content == cached.content and again.headers["cache-control"].startswith("public")
    # the same bytes as a simple (form-like) request: still refused by CSRF prevention
    simple = await http.post("/graphql", content=raw, headers={"content-type": "text/plain"})
    assert simple.status_code == 400
    assert simple.json()["errors"][0]["extensions"]["code"] == "CSRF_PREVENTED"
    # and with an Accept the server cannot serve: still 406
    refused = await http.post(
        "/graphql", content=raw, headers={"content-type": "application/json", "accept": "text/csv"}
    )
    assert refused.status_code == 406
    # a charset other than UTF-8 is still refused, cached or not
    latin = await http.post("/graphql", content=raw, headers={"content-type": "application/json; charset=latin-1"})
    assert latin.status_code == 415


async def test_the_same_bytes_in_another_shape_are_not_the_cached_request(http: httpx.AsyncClient) -> None:
    query = "query Shape { departments(first: 1) { totalCount } }"
    url = httpx.URL("/graphql", params={"query": query})
    preflight = {"apollo-require-preflight": "true"}
    first = await http.get(url, headers=preflight)
    assert (await http.get(url, headers=preflight)).content == first.content  # from the cache
    # the GET's query string sent as a JSON POST body is not JSON: refused, not answered from the cache
    as_body = await http.post("/graphql", content=url.query, headers={"content-type": "application/json"})
    assert as_body.status_code == 400
    # an Accept header given twice is negotiated by the full path, which reads the first one
    raw = httpx.Request("POST", "http://t/graphql", json={"query": query}).content
    await http.post("/graphql", content=raw, headers={"content-type": "application/json"})
    twice = await http.post(
        "/graphql",
        content=raw,
        headers=[("content-type", "application/json"), ("accept", "text/csv"), ("accept", "application/json")],
    )
    assert twice.status_code == 406
