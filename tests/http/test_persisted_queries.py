"""Automatic persisted queries (Apollo's protocol) and trusted documents."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from starlette.applications import Starlette

from settings import ROOT

PREFLIGHT = {"apollo-require-preflight": "true"}


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_a_document_is_registered_once_then_runs_by_hash_also_over_get(
    http: httpx.AsyncClient, app: Starlette
) -> None:
    document = "query DepartmentCount { departments(first: 1) { totalCount } }"
    digest = sha(document)
    # unknown hash
    miss = await http.post("/graphql", json={"extensions": persisted(digest)})
    [error] = miss.json()["errors"]
    assert (error["message"], error["extensions"]["code"]) == ("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
    # hash and document: runs, and is stored in the shared cache under apq:<hash>
    registered = await http.post("/graphql", json={"query": document, "extensions": persisted(digest)})
    expected = registered.json()["data"]
    assert expected["departments"]["totalCount"] > 0
    assert await app.state.resources.cache.get(f"apq:{digest}") == document.encode()
    # hash only, over POST and over GET
    by_hash = await http.post("/graphql", json={"extensions": persisted(digest)})
    assert by_hash.json() == {"data": expected}
    over_get = await http.get("/graphql", params={"extensions": json.dumps(persisted(digest))}, headers=PREFLIGHT)
    assert over_get.status_code == 200
    assert over_get.json() == {"data": expected}


async def test_a_hash_that_does_not_match_the_document_is_bad_input(http: httpx.AsyncClient, app: Starlette) -> None:
    wrong = sha("{ somethingElse }")
    response = await http.post("/graphql", json={"query": "{ __typename }", "extensions": persisted(wrong)})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await app.state.resources.cache.get(f"apq:{wrong}") is None


async def test_persisted_queries_can_be_turned_off(app_with: Any) -> None:
    async with app_with(apq_enabled=False) as http:
        response = await http.post(
            "/graphql", json={"query": "{ __typename }", "extensions": persisted(sha("{ __typename }"))}
        )
        plain = await http.post("/graphql", json={"query": "{ __typename }"})
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert plain.json() == {"data": {"__typename": "Query"}}


async def test_with_trusted_documents_only_the_manifest_runs(app_with: Any) -> None:
    manifest_path = ROOT / "operations" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    [(digest, document)] = [(h, d) for h, d in manifest.items() if "query DepartmentList" in d]
    variables = {"first": 2}
    async with app_with(trusted_documents=manifest_path) as http:
        by_hash = await http.post("/graphql", json={"extensions": persisted(digest), "variables": variables})
        in_full = await http.post("/graphql", json={"query": document, "variables": variables})
        other = await http.post("/graphql", json={"query": "{ __typename }"})
        registration = await http.post(
            "/graphql", json={"query": "{ __typename }", "extensions": persisted(sha("{ __typename }"))}
        )
    assert by_hash.json()["data"]["departments"]["totalCount"] > 0
    assert in_full.json() == by_hash.json()
    assert other.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_TRUSTED"
    assert registration.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_TRUSTED"
