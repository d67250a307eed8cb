"""Cache policies of real requests to /graphql, and invalidation by the admin mutations that change
what public fields show (observed through the app's ResponseCache: an entry with the tag is put,
the mutation runs over GraphQL, the entry is gone)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from identity_support import gql, patient_login

from schema.cache_control import CacheControlExtension, CachePolicy, CacheScope

HOMEPAGE = """query Home { homepage { variant layout { compact modules }
  featuredDepartments { department { name } } articles { label articles { title } }
  goldBoard { period { key } } boards { board } } }"""


@pytest.fixture
def policies(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[CachePolicy | None]]:
    """Every request's `context.cache_policy`, as the extension left it."""
    seen: list[CachePolicy | None] = []
    original = CacheControlExtension.on_operation

    def recording(self: CacheControlExtension) -> Iterator[None]:
        yield from original(self)
        seen.append(self.execution_context.context.cache_policy)

    monkeypatch.setattr(CacheControlExtension, "on_operation", recording)
    yield seen


async def _policy(
    http: httpx.AsyncClient, policies: list[CachePolicy | None], query: str, token: str | None = None, **variables: Any
) -> CachePolicy | None:
    policies.clear()
    body = await gql(http, query, variables, token)
    assert len(policies) == 1, body
    return policies[0]


def _public(max_age: int, *tags: str) -> CachePolicy:
    return CachePolicy(max_age=max_age, scope=CacheScope.PUBLIC, tags=frozenset(tags))


# ---- policies ---------------------------------------------------------------------------------


async def test_the_homepage_is_public_with_the_shortest_max_age_and_every_tag(
    http: httpx.AsyncClient, policies: list[CachePolicy | None]
) -> None:
    # Articles (60 s: scheduled ones go live unannounced) bound the homepage's 300 s.
    assert await _policy(http, policies, HOMEPAGE) == _public(60, "homepage", "articles", "departments", "rankings")
    # Without the articles, the homepage's own max age.
    assert await _policy(http, policies, "{ homepage { layout { compact } } }") == _public(300, "homepage")


async def test_fragments_are_walked(http: httpx.AsyncClient, policies: list[CachePolicy | None]) -> None:
    query = """query { homepage { ...H } }
      fragment H on Homepage { boards { board ... on Ranking { entries { rank } } } articles { ...A } }
      fragment A on ArticleGroup { articles { title } }"""
    assert await _policy(http, policies, query) == _public(60, "homepage", "rankings", "articles")


async def test_the_homepage_is_the_same_for_every_viewer(http: httpx.AsyncClient) -> None:
    # Being signed in changes nothing under `homepage`, so one shared cached copy is right for all.
    patient = await patient_login(http, f"cache-{uuid.uuid4().hex[:8]}")
    anonymous = await http.post("/graphql", json={"query": HOMEPAGE})
    signed_in = await http.post("/graphql", json={"query": HOMEPAGE}, headers={"authorization": f"Bearer {patient}"})
    expired = await http.post("/graphql", json={"query": HOMEPAGE}, headers={"authorization": "Bearer not-a-token"})
    assert "errors" not in anonymous.json()
    assert anonymous.content == signed_in.content == expired.content


async def test_public_lists_and_boards(http: httpx.AsyncClient, policies: list[CachePolicy | None]) -> None:
    assert await _policy(http, policies, "{ articles(first: 3) { nodes { title } } }") == _public(60, "articles")
    assert await _policy(http, policies, "{ departments(first: 3) { nodes { name } } }") == _public(600, "departments")
    assert await _policy(http, policies, "{ ranking(board: DOCTOR_POPULARITY) { board entries { rank } } }") == _public(
        300, "rankings"
    )
    assert await _policy(
        http, policies, "{ staff(first: 2) { nodes { name appreciationCounts { banners } department { name } } } }"
    ) == _public(300, "staff", "appreciations", "departments")


async def test_private_data_is_never_public(http: httpx.AsyncClient, policies: list[CachePolicy | None]) -> None:
    patient = await patient_login(http, f"cache-{uuid.uuid4().hex[:8]}")
    policy = await _policy(http, policies, "{ me { id } homepage { variant } }", patient)
    assert policy is not None and policy.scope is CacheScope.PRIVATE
    policy = await _policy(http, policies, "{ consultOrders(first: 1) { totalCount } }", patient)
    assert policy is not None and policy.scope is CacheScope.PRIVATE


async def test_not_cacheable(http: httpx.AsyncClient, policies: list[CachePolicy | None]) -> None:
    # errors (here: not signed in)
    assert await _policy(http, policies, "{ homepage { variant } me { id } }") is None
    # a validation error
    assert await _policy(http, policies, "{ homepage { noSuchField } }") is None
    # a root field without a hint, and one that must never be cached
    assert await _policy(http, policies, "{ __schema { queryType { name } } }") is None
    assert await _policy(http, policies, "{ rapidConsultStatus { queueLength } }") is None
    # mutations
    assert await _policy(http, policies, 'mutation { recordArticleView(id: "1") { __typename } }') is None
