"""Invalidation by the admin mutations that change what public fields show, observed through the
app's ResponseCache: an entry with the tag is put, the mutation runs over GraphQL, the entry is gone.

These tests use an app of their own with the response cache on (the suite's shared app runs with it
off, so that no test ever reads another test's cached answer)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cache_support import app_with_response_cache
from content_support import mutate, staff_token
from identity_support import ADD, gql, patient_login, profile_input
from sqlalchemy import insert, select
from starlette.applications import Starlette

from datasources.db.tables import Consult, Staff
from datasources.response_cache import CachedResponse, ResponseCache
from domain.enums import AdminRole, ConsultService, ConsultStatus
from settings import Settings
from support import ANCHOR


@pytest.fixture(scope="module")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    async with app_with_response_cache(settings) as application:
        yield application


# ---- invalidation by admin mutations ------------------------------------------------------------


async def _tagged(cache: ResponseCache, tag: str) -> str:
    key = f"test:{tag}:{uuid.uuid4().hex}"

    async def compute() -> CachedResponse:
        return CachedResponse(body=b"{}", content_type="application/json", max_age=300, tags=frozenset({tag}))

    await cache.get_or_compute(key, compute)
    assert await cache.get(key) is not None
    return key


@pytest.fixture
def response_cache(app: Starlette) -> ResponseCache:
    cache: ResponseCache = app.state.resources.response_cache
    return cache


async def _gone(cache: ResponseCache, *keys: str) -> list[bool]:
    return [await cache.get(key) is None for key in keys]


async def test_homepage_configuration_invalidates_the_homepage(
    app: Starlette, http: httpx.AsyncClient, response_cache: ResponseCache
) -> None:
    editor = await staff_token(app, http, AdminRole.CONTENT_EDITOR)
    layout = (await gql(http, "{ homepage(variant: ELDER) { layout { compact fontScale modules } } }"))["data"]
    home, other = await _tagged(response_cache, "homepage"), await _tagged(response_cache, "staff")
    # when: the layout is saved (unchanged, so other tests see the same homepage)
    result = await mutate(
        http,
        """mutation($layout: LayoutInput!) { setLayout(variant: ELDER, layout: $layout) { __typename } }""",
        {"layout": layout["homepage"]["layout"]},
        editor,
    )
    assert result["__typename"] == "HomepageConfigSuccess"
    # then
    assert await _gone(response_cache, home, other) == [True, False]


async def test_a_refused_change_invalidates_nothing(
    app: Starlette, http: httpx.AsyncClient, response_cache: ResponseCache
) -> None:
    editor = await staff_token(app, http, AdminRole.CONTENT_EDITOR)
    home = await _tagged(response_cache, "homepage")
    layout = {"compact": True, "fontScale": 99.0, "modules": ["ENTRIES"]}
    result = await mutate(
        http,
        """mutation($layout: LayoutInput!) { setLayout(variant: ELDER, layout: $layout) { __typename } }""",
        {"layout": layout},
        editor,
    )
    assert result["__typename"] == "ValidationFailed"
    assert await _gone(response_cache, home) == [False]


ARTICLE = "__typename ... on ArticleSuccess { article { id } }"


async def test_every_article_change_invalidates_the_articles(
    app: Starlette, http: httpx.AsyncClient, response_cache: ResponseCache
) -> None:
    editor = await staff_token(app, http, AdminRole.CONTENT_EDITOR)
    text = {
        "category": "SCIENCE",
        "title": "缓存测试",
        "summary": "一篇不会公开的文章",
        "body": "<p>内容</p>",
        "coverUrl": "",
        "author": "编辑部",
        "tags": [],
    }
    later = (ANCHOR + timedelta(days=30)).isoformat()
    steps: list[tuple[str, dict[str, Any]]] = [
        (f"mutation($input: ArticleInput!) {{ createArticle(input: $input) {{ {ARTICLE} }} }}", {"input": text}),
        (
            f"mutation($id: ID!, $input: ArticleInput!) {{ updateArticle(id: $id, input: $input) {{ {ARTICLE} }} }}",
            {"input": {**text, "title": "缓存测试二"}},
        ),
        # scheduled a month ahead: it stays off every list other tests look at
        (
            f"mutation($id: ID!, $at: DateTime) {{ publishArticle(id: $id, publishAt: $at) {{ {ARTICLE} }} }}",
            {"at": later},
        ),
        (f"mutation($id: ID!) {{ pinArticle(id: $id, pinned: true) {{ {ARTICLE} }} }}", {}),
        (f"mutation($id: ID!) {{ pinArticle(id: $id, pinned: false) {{ {ARTICLE} }} }}", {}),
        (f"mutation($id: ID!) {{ archiveArticle(id: $id) {{ {ARTICLE} }} }}", {}),
    ]
    article_id = None
    for document, variables in steps:
        articles, other = await _tagged(response_cache, "articles"), await _tagged(response_cache, "rankings")
        if article_id is not None:
            variables = {**variables, "id": article_id}
        result = await mutate(http, document, variables, editor)
        assert result["__typename"] == "ArticleSuccess", (document, result)
        article_id = result["article"]["id"]
        assert await _gone(response_cache, articles, other) == [True, False], document


# Before every ranking window and statistics window: the other tests' boards stay as they were.
LONG_AGO = ANCHOR - timedelta(days=400)


async def test_appreciation_moderation_invalidates_the_appreciations(
    app: Starlette, http: httpx.AsyncClient, response_cache: ResponseCache
) -> None:
    editor = await staff_token(app, http, AdminRole.CONTENT_EDITOR)
    patient = await patient_login(http, f"cache-thanks-{uuid.uuid4().hex[:8]}")
    body = await gql(http, ADD, {"input": profile_input(name="王小明")}, patient)
    assert body["data"]["addProfile"]["__typename"] == "ProfileSuccess", body
    account_id = int((await gql(http, "{ me { id } }", token=patient))["data"]["me"]["id"])
    async with app.state.resources.sessions() as db, db.begin():
        staff = await db.scalar(select(Staff).where(Staff.active.is_(True)).order_by(Staff.id).limit(1))
        assert staff is not None
        consult_id = (
            await db.execute(
                insert(Consult)
                .values(
                    service=ConsultService.FOLLOW_UP,
                    patient_id=999_999,
                    account_id=account_id,
                    staff_id=staff.id,
                    team_id=None,
                    department_id=staff.department_id,
                    status=ConsultStatus.COMPLETED,
                    price_cents=2000,
                    created_at=LONG_AGO,
                    paid_at=LONG_AGO,
                    first_response_at=LONG_AGO,
                    completed_at=LONG_AGO + timedelta(hours=1),
                )
                .returning(Consult.id)
            )
        ).scalar_one()
    sent = await mutate(
        http,
        """mutation($input: AppreciationInput!) { createAppreciation(input: $input) {
          __typename ... on AppreciationSuccess { appreciation { id } } } }""",
        {"input": {"consultId": str(consult_id), "kind": "BANNER", "design": "CLASSIC_RED", "text": "妙手回春"}},
        patient,
    )
    appreciation_id = sent["appreciation"]["id"]
    for document, variables in [
        ("mutation($id: ID!) { approveAppreciation(id: $id) { __typename } }", {"id": appreciation_id}),
        (
            "mutation($id: ID!, $r: String!) { rejectAppreciation(id: $id, reason: $r) { __typename } }",
            {"id": appreciation_id, "r": "测试后撤下"},
        ),
    ]:
        tagged, other = await _tagged(response_cache, "appreciations"), await _tagged(response_cache, "articles")
        result = await mutate(http, document, variables, editor)
        assert result["__typename"] == "AppreciationSuccess", result
        assert await _gone(response_cache, tagged, other) == [True, False], document


async def test_refreshing_the_rankings_invalidates_the_boards_and_the_homepage(
    app: Starlette, http: httpx.AsyncClient, response_cache: ResponseCache
) -> None:
    operations = await staff_token(app, http, AdminRole.OPERATIONS)
    boards, home, other = (
        await _tagged(response_cache, "rankings"),
        await _tagged(response_cache, "homepage"),
        await _tagged(response_cache, "departments"),
    )
    result = await mutate(
        http, "mutation { refreshRankings(boards: [DOCTOR_POPULARITY]) { __typename } }", {}, operations
    )
    assert result["__typename"] == "RefreshRankingsSuccess"
    assert await _gone(response_cache, boards, home, other) == [True, True, False]


async def test_the_periodic_ranking_job_invalidates_the_boards_and_the_homepage(
    app: Starlette, response_cache: ResponseCache
) -> None:
    boards, home = await _tagged(response_cache, "rankings"), await _tagged(response_cache, "homepage")
    job = app.state.resources.rankings
    stored = await job.run_once()
    if not stored:
        # every board fresh already: the job stored nothing, so nothing may be dropped
        assert await _gone(response_cache, boards, home) == [False, False]
        return
    assert await _gone(response_cache, boards, home) == [True, True]


async def test_visit_guide_and_consent_changes_invalidate_their_fields(
    app: Starlette, http: httpx.AsyncClient, response_cache: ResponseCache
) -> None:
    editor = await staff_token(app, http, AdminRole.CONTENT_EDITOR)
    guide = (await gql(http, "{ visitGuide { step title summary largePrintText readAloudText tips } }"))["data"][
        "visitGuide"
    ][0]
    tagged = await _tagged(response_cache, "visitGuide")
    result = await mutate(
        http,
        """mutation($step: VisitStep!, $input: VisitGuideStepInput!) {
          updateVisitGuideStep(step: $step, input: $input) { __typename } }""",
        {"step": guide.pop("step"), "input": guide},
        editor,
    )
    assert result["__typename"] == "UpdateVisitGuideStepSuccess", result
    assert await _gone(response_cache, tagged) == [True]
    # The current text again, under a new version: other tests still find the text they expect.
    current = (await gql(http, "{ consultConsent(service: VIDEO) { title body } }"))["data"]["consultConsent"]
    tagged = await _tagged(response_cache, "consultConsents")
    result = await mutate(
        http,
        """mutation($v: String!, $title: String!, $body: String!) {
          publishConsultConsent(service: VIDEO, version: $v, title: $title, body: $body) { __typename } }""",
        {"v": f"cache-{uuid.uuid4().hex[:6]}", **current},
        editor,
    )
    assert result["__typename"] == "ConsultConsentSuccess", result
    assert await _gone(response_cache, tagged) == [True]
