"""Limits on what one GraphQL document may cost: at most 2,000 tokens, checked while parsing."""

from __future__ import annotations

from typing import Any

import httpx
from graphql.language import Lexer, Source, TokenKind

MAX_TOKENS = 2000


def token_count(document: str) -> int:
    """Lexical tokens of `document` as graphql-core's lexer reads them (comments skipped)."""
    lexer, count = Lexer(Source(document)), 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


def document_of(tokens: int) -> str:
    """A valid document of exactly `tokens` tokens: many small named operations (`query Qn { __typename }`).

    Many operations rather than one wide selection: graphql-core's own validation budget refuses
    hundreds of identical fields in one selection set, which is not what this limit is about.
    """
    operations, extra = divmod(tokens, 5)
    document = " ".join(
        f"query Q{i} {{ {' '.join(['__typename'] * (1 + (extra if i == 0 else 0)))} }}" for i in range(operations)
    )
    assert token_count(document) == tokens
    return document


async def post(http: httpx.AsyncClient, document: str) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": document, "operationName": "Q0"})
    body: dict[str, Any] = response.json()
    return body


async def test_a_document_of_the_largest_size_runs(http: httpx.AsyncClient) -> None:
    body = await post(http, document_of(MAX_TOKENS))
    assert body == {"data": {"__typename": "Query"}}


async def test_one_token_more_is_refused_before_it_runs(http: httpx.AsyncClient) -> None:
    body = await post(http, document_of(MAX_TOKENS + 1))
    assert body["data"] is None
    [error] = body["errors"]
    assert f"more than {MAX_TOKENS} tokens" in error["message"]


async def test_comments_count_towards_the_limit(client: Any) -> None:
    # Comments are read (and kept) by the lexer too, so they cannot pad a document for free.
    padded = "# padding\n" * MAX_TOKENS + "{ __typename }"
    assert token_count(padded) == 3
    body = await client.execute(padded)
    assert body["data"] is None
    assert "tokens" in body["errors"][0]["message"]
