"""Health encyclopedia: the editors' workflow, patients' lists, search, related articles and views."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import httpx
import pytest
from content_support import audit_actions, count, mutate, snapshot, staff_token
from identity_support import codes, gql

from domain.content import plain_text
from domain.enums import AdminRole
from support import ANCHOR, parse_time

FIELDS = """id status title summary body coverUrl author tags pinned viewCount publishedAt scheduled live
  department { id }"""
RESULT = f"""__typename
  ... on ArticleSuccess {{ article {{ {FIELDS} }} }}
  ... on ValidationFailed {{ code field reason message }}
  ... on NotFound {{ code typeName id }}"""
CREATE = f"mutation($input: ArticleInput!) {{ createArticle(input: $input) {{ {RESULT} }} }}"
UPDATE = f"mutation($id: ID!, $input: ArticleInput!) {{ updateArticle(id: $id, input: $input) {{ {RESULT} }} }}"
PUBLISH = f"mutation($id: ID!, $at: DateTime) {{ publishArticle(id: $id, publishAt: $at) {{ {RESULT} }} }}"
ARCHIVE = f"mutation($id: ID!) {{ archiveArticle(id: $id) {{ {RESULT} }} }}"
PIN = f"mutation($id: ID!, $pinned: Boolean!) {{ pinArticle(id: $id, pinned: $pinned) {{ {RESULT} }} }}"
VIEW = """mutation($id: ID!) { recordArticleView(id: $id) {
  __typename ... on ArticleViewRecorded { article { id viewCount } } ... on NotFound { typeName id } } }"""
QUERY_ARTICLE = "query($id: ID!) { article(id: $id) { id title body tags pinned viewCount } }"
QUERY_LIST = """query($category: ArticleCategory, $tag: String, $first: Int!, $after: String) {
  articles(category: $category, tag: $tag, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id pinned publishedAt tags department { name } } } }"""
QUERY_SEARCH = """query($q: String!, $first: Int!, $after: String) {
  searchArticles(query: $q, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id title } } }"""
QUERY_RELATED = "query($id: ID!) { article(id: $id) { related(first: 4) { id } } }"


@pytest.fixture
async def editor(app: Any, http: httpx.AsyncClient) -> str:
    return await staff_token(app, http, AdminRole.CONTENT_EDITOR)


def article_input(**changes: Any) -> dict[str, Any]:
    return {
        "category": "SCIENCE",
        "title": "冬季心血管保健",
        "summary": "天冷了，心血管病人要注意什么",
        "body": "<p>很多<strong>高血压</strong>患者在冬季血压波动较大。</p>",
        "coverUrl": "https://static.hospital.example/articles/winter.jpg",
        "author": "李医生",
        "departmentId": "1",
        "tags": ["心血管", "冬季"],
        **changes,
    }


async def _create(http: httpx.AsyncClient, editor: str, **changes: Any) -> dict[str, Any]:
    result = await mutate(http, CREATE, {"input": article_input(**changes)}, editor)
    assert result["__typename"] == "ArticleSuccess", result
    article: dict[str, Any] = result["article"]
    return article


async def _published(http: httpx.AsyncClient, editor: str, **changes: Any) -> dict[str, Any]:
    draft = await _create(http, editor, **changes)
    result = await mutate(http, PUBLISH, {"id": draft["id"]}, editor)
    assert result["__typename"] == "ArticleSuccess", result
    article: dict[str, Any] = result["article"]
    return article


async def _visible_ids(http: httpx.AsyncClient, category: str | None = None) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        body = await gql(http, QUERY_LIST, {"category": category, "first": 50, "after": after})
        page = body["data"]["articles"]
        ids += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


# ---- the workflow ----------------------------------------------------------------------------


async def test_a_draft_is_sanitised_audited_and_hidden_until_published(
    http: httpx.AsyncClient, editor: str, app: Any
) -> None:
    # when: an editor writes an article whose body carries a script and an event handler
    draft = await _create(
        http,
        editor,
        body='<p onclick="steal()">高血压饮食<script>alert(1)</script></p><img src="javascript:x()">'
        '<a href="https://www.hospital.example/">更多</a><iframe src="https://evil.example"></iframe>',
        tags=["饮食", " 高血压 ", "饮食"],
    )
    # then: stored without any of it, as a draft
    assert draft["status"] == "DRAFT" and draft["publishedAt"] is None and not draft["live"]
    assert draft["body"] == (
        '<p>高血压饮食</p><img><a href="https://www.hospital.example/" rel="noopener noreferrer">更多</a>'
    )
    assert draft["tags"] == sorted(["饮食", "高血压"])
    async with app.state.resources.engine.connect() as conn:
        from sqlalchemy import text

        stored = (await conn.execute(text("SELECT body FROM articles WHERE id = :i"), {"i": int(draft["id"])})).scalar()
    assert "script" not in stored and "onclick" not in stored and "javascript" not in stored
    assert (await gql(http, QUERY_ARTICLE, {"id": draft["id"]}))["data"]["article"] is None
    assert draft["id"] not in await _visible_ids(http, "SCIENCE")
    # when: published
    published = await mutate(http, PUBLISH, {"id": draft["id"]}, editor)
    # then
    assert published["article"]["status"] == "PUBLISHED" and published["article"]["live"]
    assert parse_time(published["article"]["publishedAt"]) == ANCHOR
    shown = (await gql(http, QUERY_ARTICLE, {"id": draft["id"]}))["data"]["article"]
    assert shown["title"] == "冬季心血管保健"
    assert draft["id"] in await _visible_ids(http, "SCIENCE")
    assert await audit_actions(app, "Article", draft["id"]) == ["article.create", "article.publish"]


async def test_update_changes_every_field(http: httpx.AsyncClient, editor: str) -> None:
    article = await _published(http, editor)
    result = await mutate(
        http,
        UPDATE,
        {
            "id": article["id"],
            "input": article_input(
                category="NEWS", title="新标题", body="<p>新的正文</p>", tags=["新"], departmentId=None, coverUrl=""
            ),
        },
        editor,
    )
    changed = result["article"]
    assert (changed["title"], changed["body"], changed["tags"], changed["department"], changed["coverUrl"]) == (
        "新标题",
        "<p>新的正文</p>",
        ["新"],
        None,
        "",
    )
    assert changed["status"] == "PUBLISHED", "editing keeps the status"


async def test_scheduled_publishing_and_state_rules(http: httpx.AsyncClient, editor: str) -> None:
    draft = await _create(http, editor)
    tomorrow = (ANCHOR + timedelta(days=1)).isoformat()
    scheduled = (await mutate(http, PUBLISH, {"id": draft["id"], "at": tomorrow}, editor))["article"]
    assert scheduled["scheduled"] and not scheduled["live"] and scheduled["status"] == "PUBLISHED"
    assert (await gql(http, QUERY_ARTICLE, {"id": draft["id"]}))["data"]["article"] is None
    assert draft["id"] not in await _visible_ids(http)
    # a scheduled article may be rescheduled, e.g. to now
    now = (await mutate(http, PUBLISH, {"id": draft["id"]}, editor))["article"]
    assert now["live"]
    # a live one may not be published again
    again = await mutate(http, PUBLISH, {"id": draft["id"]}, editor)
    assert (again["__typename"], again["reason"]) == ("ValidationFailed", "WRONG_STATE")
    # archived: off the lists, not again, not pinnable; published again it returns
    archived = (await mutate(http, ARCHIVE, {"id": draft["id"]}, editor))["article"]
    assert archived["status"] == "ARCHIVED" and draft["id"] not in await _visible_ids(http)
    assert (await mutate(http, ARCHIVE, {"id": draft["id"]}, editor))["reason"] == "WRONG_STATE"
    assert (await mutate(http, PIN, {"id": draft["id"], "pinned": True}, editor))["reason"] == "WRONG_STATE"
    assert (await mutate(http, PUBLISH, {"id": draft["id"]}, editor))["article"]["live"]


@pytest.mark.parametrize(
    ("at", "field"),
    [(ANCHOR - timedelta(hours=1), "publishAt"), (ANCHOR + timedelta(days=400), "publishAt")],
)
async def test_publish_time_must_be_sensible(
    http: httpx.AsyncClient, editor: str, app: Any, at: Any, field: str
) -> None:
    draft = await _create(http, editor)
    before = await snapshot(app, "articles", "id")
    result = await mutate(http, PUBLISH, {"id": draft["id"], "at": at.isoformat()}, editor)
    assert (result["__typename"], result["field"], result["reason"]) == ("ValidationFailed", field, "INVALID")
    assert await snapshot(app, "articles", "id") == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "长" * 129}, "title"),
        ({"summary": "长" * 513}, "summary"),
        ({"body": "<script>alert(1)</script>"}, "body"),
        ({"coverUrl": "http://insecure.example/a.jpg"}, "coverUrl"),
        ({"coverUrl": "javascript:alert(1)"}, "coverUrl"),
        ({"tags": [f"标签{i}" for i in range(9)]}, "tags"),
        ({"tags": ["这个标签实在是太长了超过了十六个字的限制"]}, "tags"),
    ],
)
async def test_bad_input_is_refused_and_writes_nothing(
    http: httpx.AsyncClient, editor: str, app: Any, changes: dict[str, Any], field: str
) -> None:
    existing = await _create(http, editor)
    before = (await snapshot(app, "articles", "id"), await snapshot(app, "article_tags", "article_id, tag"))
    audit_before = await count(app, "audit_log")
    created = await mutate(http, CREATE, {"input": article_input(**changes)}, editor)
    updated = await mutate(http, UPDATE, {"id": existing["id"], "input": article_input(**changes)}, editor)
    for result in (created, updated):
        assert (result["__typename"], result["code"], result["field"]) == ("ValidationFailed", "BAD_USER_INPUT", field)
    assert (await snapshot(app, "articles", "id"), await snapshot(app, "article_tags", "article_id, tag")) == before
    assert await count(app, "audit_log") == audit_before


async def test_unknown_ids_are_not_found_and_write_nothing(http: httpx.AsyncClient, editor: str, app: Any) -> None:
    existing = await _create(http, editor)
    before = (await snapshot(app, "articles", "id"), await snapshot(app, "article_tags", "article_id, tag"))
    missing = "999999"
    results = [
        await mutate(http, UPDATE, {"id": missing, "input": article_input()}, editor),
        await mutate(http, PUBLISH, {"id": missing}, editor),
        await mutate(http, ARCHIVE, {"id": missing}, editor),
        await mutate(http, PIN, {"id": missing, "pinned": True}, editor),
    ]
    assert [(r["__typename"], r["code"], r["typeName"], r["id"]) for r in results] == [
        ("NotFound", "NOT_FOUND", "Article", missing)
    ] * 4
    for document, variables in (
        (CREATE, {"input": article_input(departmentId=missing)}),
        (UPDATE, {"id": existing["id"], "input": article_input(departmentId=missing, title="不会保存")}),
    ):
        result = await mutate(http, document, variables, editor)
        assert (result["__typename"], result["typeName"], result["id"]) == ("NotFound", "Department", missing)
    assert (await snapshot(app, "articles", "id"), await snapshot(app, "article_tags", "article_id, tag")) == before


async def test_only_content_editors_write_articles(http: httpx.AsyncClient, app: Any) -> None:
    operations = await staff_token(app, http, AdminRole.OPERATIONS)
    before = await count(app, "articles")
    body = await gql(http, CREATE, {"input": article_input()}, operations)
    assert codes(body) == ["FORBIDDEN"]
    assert await count(app, "articles") == before


# ---- patients' lists -------------------------------------------------------------------------


async def _expected_order(raw_rows: Any, category: str) -> list[str]:
    rows = await raw_rows(
        "SELECT id, pinned, published_at FROM articles WHERE status = 'PUBLISHED' AND category = :c", c=category
    )
    live = [r for r in rows if (t := parse_time(r["published_at"])) is not None and t <= ANCHOR]
    live.sort(key=lambda r: (bool(r["pinned"]), parse_time(r["published_at"]), r["id"]), reverse=True)
    return [str(r["id"]) for r in live]


async def test_lists_put_pinned_first_then_newest_and_page_through(
    http: httpx.AsyncClient, editor: str, raw_rows: Any
) -> None:
    # given: the oldest visible science article pinned
    oldest = (await _expected_order(raw_rows, "SCIENCE"))[-1]
    pinned = await mutate(http, PIN, {"id": oldest, "pinned": True}, editor)
    assert pinned["article"]["pinned"] is True
    try:
        expected = await _expected_order(raw_rows, "SCIENCE")
        # when: read in pages of 4
        seen: list[str] = []
        after = None
        while True:
            page = (await gql(http, QUERY_LIST, {"category": "SCIENCE", "first": 4, "after": after}))["data"]
            page = page["articles"]
            assert page["totalCount"] == len(expected)
            seen += [n["id"] for n in page["nodes"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        # then
        assert seen == expected
        assert expected.index(oldest) < len([r for r in expected if r != oldest])
    finally:
        await mutate(http, PIN, {"id": oldest, "pinned": False}, editor)


async def test_list_by_tag(http: httpx.AsyncClient, raw_rows: Any) -> None:
    rows = await raw_rows("SELECT article_id FROM article_tags WHERE tag = :t", t="高血压")
    tagged = {str(r["article_id"]) for r in rows}
    visible = set(await _visible_ids(http))
    body = await gql(http, QUERY_LIST, {"tag": "高血压", "first": 50})
    assert {n["id"] for n in body["data"]["articles"]["nodes"]} == tagged & visible
    assert all("高血压" in n["tags"] for n in body["data"]["articles"]["nodes"])


async def test_lists_cost_the_same_statements_for_any_page_size(client: Any, assert_num_queries: Any) -> None:
    query = "query($first: Int!) { articles(first: $first) { totalCount nodes { id tags department { name } } } }"
    # count + page + tags + departments
    with assert_num_queries(4):
        few = await client.query(query, {"first": 2})
    with assert_num_queries(4):
        many = await client.query(query, {"first": 40})
    assert len(few["articles"]["nodes"]) < len(many["articles"]["nodes"])


# ---- search ----------------------------------------------------------------------------------


async def _search(http: httpx.AsyncClient, words: str) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        body = await gql(http, QUERY_SEARCH, {"q": words, "first": 7, "after": after})
        assert "errors" not in body, body
        page = body["data"]["searchArticles"]
        ids += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            assert page["totalCount"] == len(ids)
            return ids
        after = page["pageInfo"]["endCursor"]


async def _expected_search(raw_rows: Any, words: str) -> list[str]:
    rows = await raw_rows("SELECT id, title, summary, body, status, published_at FROM articles")
    hits = [
        r
        for r in rows
        if r["status"] == "PUBLISHED"
        and (t := parse_time(r["published_at"])) is not None
        and t <= ANCHOR
        and words.casefold() in f"{r['title']} {r['summary']} {plain_text(r['body'])}".casefold()
    ]
    hits.sort(key=lambda r: (parse_time(r["published_at"]), r["id"]), reverse=True)
    return [str(r["id"]) for r in hits]


@pytest.mark.parametrize("words", ["高血压", "血压", "糖尿病", "互联网医院", "门诊", "结节"])
async def test_search_finds_words_inside_sentences(http: httpx.AsyncClient, raw_rows: Any, words: str) -> None:
    expected = await _expected_search(raw_rows, words)
    assert expected, "the demo articles mention every word searched here"
    assert await _search(http, words) == expected


async def test_search_follows_every_change_and_ignores_markup(http: httpx.AsyncClient, editor: str) -> None:
    # given: a sentence with a rare word inside it, in the body only
    article = await _published(
        http,
        editor,
        title="冬季养生",
        summary="",
        body="<p>研究发现<strong>鹿茸菇汤</strong>有益健康，富含Omega-3。</p>",
        tags=[],
    )
    assert await _search(http, "鹿茸菇") == [article["id"]]
    assert await _search(http, "omega-3") == [article["id"]], "Latin letters in any case"
    assert await _search(http, "菇汤") == [article["id"]], "two characters are found too"
    assert await _search(http, "strong") == [], "markup is not text"
    assert await _search(http, "100%") == [], "LIKE wildcards are plain characters"
    # when: the body changes, the index follows
    await mutate(
        http, UPDATE, {"id": article["id"], "input": article_input(title="冬季养生", body="<p>多喝热水。</p>")}, editor
    )
    assert await _search(http, "鹿茸菇") == []
    assert await _search(http, "多喝热水") == [article["id"]]
    # and archived articles are not found
    await mutate(http, ARCHIVE, {"id": article["id"]}, editor)
    assert await _search(http, "多喝热水") == []


async def test_search_needs_words(http: httpx.AsyncClient) -> None:
    for words in ("", "   ", "长" * 51):
        assert codes(await gql(http, QUERY_SEARCH, {"q": words, "first": 5})) == ["BAD_USER_INPUT"]


# ---- related articles and views ---------------------------------------------------------------


async def test_related_articles_score_tags_department_and_category(http: httpx.AsyncClient, raw_rows: Any) -> None:
    articles = {
        r["id"]: r for r in await raw_rows("SELECT id, category, department_id, status, published_at FROM articles")
    }
    tags: dict[int, set[str]] = defaultdict(set)
    for r in await raw_rows("SELECT article_id, tag FROM article_tags"):
        tags[r["article_id"]].add(r["tag"])

    def live(a: dict[str, Any]) -> bool:
        t = parse_time(a["published_at"])
        return a["status"] == "PUBLISHED" and t is not None and t <= ANCHOR

    def expected(source: dict[str, Any]) -> list[str]:
        scored = []
        for other in articles.values():
            if other["id"] == source["id"] or not live(other):
                continue
            shared = len(tags[source["id"]] & tags[other["id"]])
            same_dept = source["department_id"] is not None and source["department_id"] == other["department_id"]
            same_cat = source["category"] == other["category"]
            if shared or same_dept or same_cat:
                scored.append((shared * 2 + same_dept + same_cat, parse_time(other["published_at"]), other["id"]))
        return [str(i) for *_, i in sorted(scored, reverse=True)[:4]]

    sources = [a for a in articles.values() if live(a) and tags[a["id"]]][:5]
    assert sources
    for source in sources:
        body = await gql(http, QUERY_RELATED, {"id": str(source["id"])})
        assert [a["id"] for a in body["data"]["article"]["related"]] == expected(source)


async def test_views_are_counted_per_article_and_day(http: httpx.AsyncClient, editor: str, raw_rows: Any) -> None:
    article = await _published(http, editor)
    for expected in (1, 2, 3):
        result = await mutate(http, VIEW, {"id": article["id"]}, None)
        assert result == {"__typename": "ArticleViewRecorded", "article": {"id": article["id"], "viewCount": expected}}
    days = await raw_rows("SELECT day, views FROM article_daily_views WHERE article_id = :i", i=int(article["id"]))
    assert [(str(d["day"]), d["views"]) for d in days] == [("2026-11-15", 3)]  # 12:00 in Shanghai


async def test_views_of_unknown_or_unpublished_articles_are_not_found(
    http: httpx.AsyncClient, editor: str, app: Any
) -> None:
    draft = await _create(http, editor)
    before = await snapshot(app, "article_daily_views", "article_id, day")
    for article_id in (draft["id"], "999999"):
        result = await mutate(http, VIEW, {"id": article_id}, None)
        assert result == {"__typename": "NotFound", "typeName": "Article", "id": article_id}
    assert await snapshot(app, "article_daily_views", "article_id, day") == before
