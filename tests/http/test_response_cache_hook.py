"""The endpoint's use of a response cache (contract 3), with a small in-test cache: a hit is answered
without GraphQL work; a miss runs the operation and stores it only when its policy is public."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from server.graphql_http import GraphQLEndpoint, ResponseCaching

QUERY = "{ departments(first: 2) { totalCount } }"


@dataclass(frozen=True)
class Entry:
    body: bytes
    content_type: str
    max_age: int
    tags: frozenset[str]


@dataclass(frozen=True)
class Policy:
    max_age: int
    scope: str
    tags: frozenset[str]


class DictCache:
    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    async def get(self, key: str) -> Entry | None:
        return self.entries.get(key)

    async def get_or_compute(self, key: str, compute: Callable[[], Awaitable[Entry | None]]) -> Entry | None:
        entry = await compute()
        if entry is not None:
            self.entries[key] = entry
        return entry


def key(*, document: str, variables: Any, operation_name: str | None, scope: str) -> str:
    return f"{scope}|{operation_name}|{document}|{orjson.dumps(variables).decode()}"


@pytest.fixture
async def cached(app: Starlette) -> AsyncIterator[tuple[httpx.AsyncClient, DictCache, GraphQLEndpoint]]:
    cache = DictCache()
    caching = ResponseCaching(cache=cache, entry=Entry, key=key)
    endpoint = GraphQLEndpoint(
        lambda: app.state.resources, settings=app.state.resources.settings, response_caching=lambda: caching
    )
    wrapped = Starlette(routes=[Route("/graphql", endpoint, methods=["GET", "POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://t") as http:
        yield http, cache, endpoint


async def test_a_hit_is_answered_from_the_cache_without_running_anything(cached: Any, assert_num_queries: Any) -> None:
    http, cache, _ = cached
    stored = b'{"data":{"departments":{"totalCount":12345}}}'
    cache.entries[key(document=QUERY, variables=None, operation_name=None, scope="public")] = Entry(
        stored, "application/json", 60, frozenset({"departments"})
    )
    with assert_num_queries(0):
        response = await http.post("/graphql", json={"query": QUERY})
    assert response.content == stored
    assert response.headers["cache-control"] == "public, max-age=60"


async def test_a_result_without_a_public_policy_is_not_stored(cached: Any) -> None:
    http, cache, _ = cached
    response = await http.post("/graphql", json={"query": QUERY})
    assert response.json()["data"]["departments"]["totalCount"] > 0
    assert response.headers["cache-control"] == "no-store"
    assert cache.entries == {}


async def test_a_public_result_is_stored_and_mutations_bypass_the_cache(
    cached: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    http, cache, endpoint = cached
    execute = endpoint.schema.execute

    async def with_policy(*args: Any, **kwargs: Any) -> Any:
        # stands in for the cache-control extension, which sets the policy after execution
        result = await execute(*args, **kwargs)
        kwargs["context_value"].cache_policy = Policy(30, "PUBLIC", frozenset({"departments"}))
        return result

    monkeypatch.setattr(endpoint.schema, "execute", with_policy)
    response = await http.post("/graphql", json={"query": QUERY})
    assert response.headers["cache-control"] == "public, max-age=30"
    [entry] = cache.entries.values()
    assert entry.body == response.content
    assert (entry.max_age, entry.tags) == (30, frozenset({"departments"}))
    await http.post("/graphql", json={"query": "mutation { __typename }"})
    assert len(cache.entries) == 1
