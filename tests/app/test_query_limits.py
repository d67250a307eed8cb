"""Query limits: each one admits a document exactly at its configured value and refuses one more,
before anything runs, with QUERY_TOO_COMPLEX and the limit's name; production keeps the values,
the schema (introspection) and "Did you mean …" to itself.

Test documents are built here and measured independently of schema/limits.py: tokens with
graphql-core's Lexer, depth by counting braces, aliases, directives and root fields by construction.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query
from graphql.language import Lexer, Source, TokenKind
from starlette.applications import Starlette

from app import create_app
from settings import Environment, Settings


def token_count(document: str) -> int:
    """Lexical tokens of `document` as graphql-core's lexer reads them."""
    lexer, count = Lexer(Source(document)), 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


def brace_depth(document: str) -> int:
    """Nesting of selection sets below the root fields: the deepest `{` level minus one."""
    level = deepest = 0
    for char in document:
        level += {"{": 1, "}": -1}.get(char, 0)
        deepest = max(deepest, level)
    return deepest - 1


def tokens_document(tokens: int) -> str:
    """A valid document of exactly `tokens` tokens: small named operations (`query Qn { __typename }`).

    Many operations rather than one wide selection: graphql-core's own validation budget refuses
    hundreds of identical fields in one selection set, which is not what this limit is about.
    """
    operations, extra = divmod(tokens, 5)
    document = " ".join(
        f"query Q{i} {{ {' '.join(['__typename'] * (1 + (extra if i == 0 else 0)))} }}" for i in range(operations)
    )
    assert token_count(document) == tokens
    return document


def depth_document(depth: int) -> str:
    """`articles { nodes { related { related … { id } } } }`, nested `depth` levels deep."""
    inner = "id"
    for _ in range(depth - 2):
        inner = f"related(first: 1) {{ {inner} }}"
    document = f"{{ articles(first: 1) {{ nodes {{ {inner} }} }} }}"
    assert brace_depth(document) == depth
    return document


def aliases_document(direct: int, in_fragment: int = 0, spreads: int = 0) -> str:
    fragment = " ".join(f"f{i}: __typename" for i in range(in_fragment))
    own = " ".join(f"a{i}: __typename" for i in range(direct))
    document = "{ " + own + " ...F" * spreads + " }" + (f" fragment F on Query {{ {fragment} }}" if spreads else "")
    assert len(re.findall(r"\w+: __typename", document)) == direct + in_fragment
    return document


def directives_document(spreads: int, extra: int) -> str:
    """`spreads` spreads of a fragment with two directives, plus `extra` directives of the operation."""
    fragment = "fragment F on Query { __typename @include(if: true) __typename @skip(if: false) }"
    own = "".join(f" s{i}: __typename @skip(if: false)" for i in range(extra))
    document = "{" + " ...F" * spreads + " visitGuide { step }" + own + " } " + fragment
    assert document.count("@") == 2 + extra  # two in the fragment, `extra` in the operation
    return document


def root_fields_document(direct: int, in_fragment: int = 0, spreads: int = 0) -> str:
    fragment = " ".join(f"f{i}: visitGuide {{ step }}" for i in range(in_fragment))
    own = " ".join(f"r{i}: visitGuide {{ step }}" for i in range(direct))
    return (
        "{ __typename " + own + " ...F" * spreads + " }" + (f" fragment F on Query {{ {fragment} }}" if spreads else "")
    )


async def post(http: httpx.AsyncClient, document: str, variables: dict[str, Any] | None = None, **extra: Any) -> Any:
    response = await http.post("/graphql", json={"query": document, "variables": variables or {}, **extra})
    return response.json()


def refused(body: dict[str, Any], limit: str) -> dict[str, Any]:
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": limit}, error
    return error


def answered(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    return body["data"]


@pytest.fixture(scope="module")
async def production(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(
        settings.model_copy(update={"env": Environment.PROD, "wechat_api_base_url": "http://127.0.0.1:9"})
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def prod_http(production: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=production), base_url="http://prod") as client:
        yield client


# ---- tokens ----


async def test_a_document_of_exactly_the_token_limit_runs(http: httpx.AsyncClient, settings: Settings) -> None:
    body = await post(http, tokens_document(settings.query_max_tokens), operationName="Q0")
    assert body == {"data": {"__typename": "Query"}}


async def test_one_token_more_is_refused_before_it_runs(http: httpx.AsyncClient, settings: Settings) -> None:
    error = refused(await post(http, tokens_document(settings.query_max_tokens + 1), operationName="Q0"), "tokens")
    assert str(settings.query_max_tokens) in error["message"]  # development tells the value


async def test_comments_count_towards_the_token_limit(http: httpx.AsyncClient, settings: Settings) -> None:
    # graphql-core's parser counts the comments it reads, so they cannot pad a document for free.
    padded = "# padding\n" * settings.query_max_tokens + "{ __typename }"
    assert token_count(padded) == 3
    refused(await post(http, padded), "tokens")


# ---- depth ----


async def test_a_document_exactly_as_deep_as_the_limit_runs(http: httpx.AsyncClient, settings: Settings) -> None:
    data = answered(await post(http, depth_document(settings.query_max_depth)))
    assert len(data["articles"]["nodes"]) == 1


async def test_one_level_deeper_is_refused(http: httpx.AsyncClient, settings: Settings) -> None:
    refused(await post(http, depth_document(settings.query_max_depth + 1)), "depth")


async def test_depth_through_fragments_counts(http: httpx.AsyncClient, settings: Settings) -> None:
    inner = "id"
    for _ in range(settings.query_max_depth - 3):
        inner = f"related(first: 1) {{ {inner} }}"
    fragment = f"fragment Deep on Article {{ related(first: 1) {{ {inner} }} }}"
    at_limit = f"{{ articles(first: 1) {{ nodes {{ ...Deep }} }} }} {fragment}"
    inlined = f"{{ articles(first: 1) {{ nodes {{ related(first: 1) {{ {inner} }} }} }} }}"
    assert brace_depth(inlined) == settings.query_max_depth
    answered(await post(http, at_limit))
    one_more = f"{{ articles(first: 1) {{ nodes {{ related(first: 1) {{ ...Deep }} }} }} }} {fragment}"
    refused(await post(http, one_more), "depth")


async def test_graphiqls_introspection_query_runs_in_development(http: httpx.AsyncClient, settings: Settings) -> None:
    # Introspection fields do not count toward depth: GraphiQL's query nests `ofType` far deeper.
    query = get_introspection_query(descriptions=True, directive_is_repeatable=True, input_value_deprecation=True)
    deep = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } }"
    assert brace_depth(deep) > settings.query_max_depth
    answered(await post(http, deep))
    data = answered(await post(http, query))
    assert data["__schema"]["queryType"]["name"] == "Query"


# ---- aliases ----


async def test_exactly_the_alias_limit_runs_and_one_more_is_refused(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    limit = settings.query_max_aliases
    data = answered(await post(http, aliases_document(limit)))
    assert set(data) == {f"a{i}" for i in range(limit)}
    refused(await post(http, aliases_document(limit + 1)), "aliases")


async def test_aliases_in_a_fragment_count_wherever_it_is_spread(http: httpx.AsyncClient, settings: Settings) -> None:
    limit = settings.query_max_aliases
    in_fragment, direct = divmod(limit, 2)  # spread twice: 2 × in_fragment + direct == limit
    answered(await post(http, aliases_document(direct, in_fragment, spreads=2)))
    refused(await post(http, aliases_document(direct + 1, in_fragment, spreads=2)), "aliases")


# ---- directives ----


async def test_exactly_the_directive_limit_runs_and_one_more_is_refused(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    limit = settings.query_max_directives
    spreads, extra = divmod(limit, 2)  # each spread brings the fragment's two directives
    at_limit = directives_document(spreads, extra)
    answered(await post(http, at_limit))
    refused(await post(http, directives_document(spreads, extra + 1)), "directives")


# ---- root fields ----


async def test_exactly_the_root_field_limit_runs_and_one_more_is_refused(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    limit = settings.query_max_root_fields
    data = answered(await post(http, root_fields_document(limit)))
    assert len(data) == limit + 1  # and __typename, which does not count
    refused(await post(http, root_fields_document(limit + 1)), "rootFields")


async def test_root_fields_in_a_fragment_count_wherever_it_is_spread(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    limit = settings.query_max_root_fields
    in_fragment, direct = divmod(limit, 2)
    answered(await post(http, root_fields_document(direct, in_fragment, spreads=2)))
    refused(await post(http, root_fields_document(direct + 1, in_fragment, spreads=2)), "rootFields")


# ---- list sizes ----

DEPARTMENTS = "query($n: Int!) { departments(first: $n) { nodes { id } } }"


async def test_a_literal_page_size_at_the_limit_runs_and_one_more_is_refused(
    http: httpx.AsyncClient, settings: Settings, raw_rows: Any
) -> None:
    size = settings.page_size_max
    [row] = await raw_rows("SELECT COUNT(*) AS n FROM departments")
    data = answered(await post(http, f"{{ departments(first: {size}) {{ nodes {{ id }} }} }}"))
    assert len(data["departments"]["nodes"]) == min(size, row["n"])
    error = refused(await post(http, f"{{ departments(first: {size + 1}) {{ nodes {{ id }} }} }}"), "listSize")
    assert "first" in error["message"] and str(size) in error["message"]


async def test_page_sizes_from_variables_and_their_defaults_count(http: httpx.AsyncClient, settings: Settings) -> None:
    size = settings.page_size_max
    answered(await post(http, DEPARTMENTS, {"n": size}))
    refused(await post(http, DEPARTMENTS, {"n": size + 1}), "listSize")
    with_default = f"query($n: Int = {size + 1}) {{ departments(first: $n) {{ nodes {{ id }} }} }}"
    refused(await post(http, with_default), "listSize")
    # A value given for the variable replaces its default.
    answered(await post(http, with_default, {"n": size}))


async def test_page_sizes_inside_fragments_count(http: httpx.AsyncClient, settings: Settings) -> None:
    document = "query($n: Int!) { ...D } fragment D on Query { departments(first: $n) { nodes { id } } }"
    answered(await post(http, document, {"n": settings.page_size_max}))
    refused(await post(http, document, {"n": settings.page_size_max + 1}), "listSize")


async def test_nested_page_sizes_count(http: httpx.AsyncClient, settings: Settings) -> None:
    document = "query($n: Int!) { articles(first: 1) { nodes { related(first: $n) { id } } } }"
    refused(await post(http, document, {"n": settings.page_size_max + 1}), "listSize")


async def test_a_refused_list_runs_nothing(
    http: httpx.AsyncClient, settings: Settings, assert_num_queries: Any
) -> None:
    with assert_num_queries(0):
        refused(await post(http, DEPARTMENTS, {"n": settings.page_size_max + 1}), "listSize")


async def test_a_page_size_that_is_not_a_number_is_left_to_graphql(http: httpx.AsyncClient) -> None:
    body = await post(http, DEPARTMENTS, {"n": "lots"})
    assert body["errors"][0]["message"].startswith("Variable '$n' has invalid value")
    assert body["errors"][0].get("extensions", {}).get("code") != "QUERY_TOO_COMPLEX"


# ---- production ----


async def test_production_messages_do_not_tell_the_limits(prod_http: httpx.AsyncClient, settings: Settings) -> None:
    refusals = {
        "tokens": await post(prod_http, tokens_document(settings.query_max_tokens + 1), operationName="Q0"),
        "depth": await post(prod_http, depth_document(settings.query_max_depth + 1)),
        "aliases": await post(prod_http, aliases_document(settings.query_max_aliases + 1)),
        "directives": await post(prod_http, directives_document(*divmod(settings.query_max_directives + 1, 2))),
        "rootFields": await post(prod_http, root_fields_document(settings.query_max_root_fields + 1)),
        "listSize": await post(prod_http, DEPARTMENTS, {"n": settings.page_size_max + 1}),
    }
    for limit, body in refusals.items():
        error = refused(body, limit)
        assert not re.search(r"\d", error["message"]), error["message"]
        assert "locations" not in error or limit in {"depth", "directives", "rootFields", "listSize"}


async def test_production_limits_admit_what_development_admits(
    prod_http: httpx.AsyncClient, settings: Settings
) -> None:
    answered(await post(prod_http, depth_document(settings.query_max_depth)))
    answered(await post(prod_http, DEPARTMENTS, {"n": settings.page_size_max}))


@pytest.mark.parametrize("document", ["{ __schema { queryType { name } } }", '{ __type(name: "Query") { name } }'])
async def test_introspection_is_off_in_production(prod_http: httpx.AsyncClient, document: str) -> None:
    body = await post(prod_http, document)
    assert body.get("data") is None
    assert "introspection" in body["errors"][0]["message"].lower()


async def test_introspection_is_on_in_development(http: httpx.AsyncClient) -> None:
    data = answered(await post(http, '{ __type(name: "Query") { name } __schema { queryType { name } } }'))
    assert data == {"__type": {"name": "Query"}, "__schema": {"queryType": {"name": "Query"}}}


async def test_typename_still_answers_in_production(prod_http: httpx.AsyncClient) -> None:
    assert answered(await post(prod_http, "{ __typename }")) == {"__typename": "Query"}


MISSPELT = [
    # (document, variables, what development suggests)
    ("{ staf { totalCount } }", None, "Did you mean 'staff'"),
    ("{ departments(frist: 1) { totalCount } }", None, "Did you mean 'first'"),
    ("{ staff(role: DOCTR) { totalCount } }", None, "Did you mean the enum value 'DOCTOR'"),
    ("query($r: StaffRole) { staff(role: $r) { totalCount } }", {"r": "DOCTR"}, "Did you mean the enum value 'DOCTOR'"),
]


@pytest.mark.parametrize(("document", "variables", "suggestion"), MISSPELT)
async def test_suggestions_only_in_development(
    http: httpx.AsyncClient,
    prod_http: httpx.AsyncClient,
    document: str,
    variables: dict[str, Any] | None,
    suggestion: str,
) -> None:
    dev = await post(http, document, variables)
    assert suggestion in dev["errors"][0]["message"]
    prod = await post(prod_http, document, variables)
    message = prod["errors"][0]["message"]
    assert "Did you mean" not in message and "DOCTOR" not in message and "'staff'" not in message
    # What was wrong is still said.
    assert message.split(" Did you mean")[0] == dev["errors"][0]["message"].split(" Did you mean")[0]
