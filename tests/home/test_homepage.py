"""The homepage: every module in one query, values checked against the configured rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import create_app
from datasources.db.tables import Article
from domain.enums import ArticleCategory, ArticleStatus
from settings import Settings
from support import ANCHOR, parse_time

QUERY_HOMEPAGE = """
query Homepage($variant: LayoutVariant) {
  homepage(variant: $variant) {
    variant
    theme { tokens { name value description } }
    layout { compact fontScale modules }
    featuredDepartments { position imageUrl blurb department { id name } registrationLink { kind target departmentId } }
    consultZone { services { service title subtitle entryText requirements fromPrice { cents text } providerCount } }
    entries { kind title iconUrl link { kind target } }
    articles { category label articles { id title publishedAt categoryLabel } }
  }
}
"""


async def test_featured_departments_in_configured_order(client: Any, raw_rows: Any) -> None:
    # given
    rows = await raw_rows(
        "SELECT f.position, f.blurb, d.id, d.name, d.registration_target FROM featured_departments f "
        "JOIN departments d ON d.id = f.department_id ORDER BY f.position"
    )
    # when
    featured = (await client.query(QUERY_HOMEPAGE))["homepage"]["featuredDepartments"]
    # then
    assert [(f["department"]["name"], f["blurb"]) for f in featured] == [(r["name"], r["blurb"]) for r in rows]
    for card, row in zip(featured, rows, strict=True):
        assert card["registrationLink"] == {
            "kind": "MINI_PROGRAM_PAGE",
            "target": row["registration_target"],
            "departmentId": str(row["id"]),
        }


async def _set_featured_links(app: Any, rows: list[dict[str, Any]]) -> None:
    async with app.state.resources.engine.begin() as conn:
        await conn.execute(
            text("UPDATE featured_departments SET link_target = :link_target, link_kind = :link_kind WHERE id = :id"),
            rows,
        )


async def test_a_featured_link_override_opens_with_its_own_kind(client: Any, raw_rows: Any, app: Any) -> None:
    # given: the first card overridden by a web page, the second by a page without a kind of its own
    rows = await raw_rows(
        "SELECT f.id, f.department_id, f.link_target, f.link_kind, d.registration_kind FROM featured_departments f "
        "JOIN departments d ON d.id = f.department_id ORDER BY f.position"
    )
    first, second = rows[0], rows[1]
    assert first["registration_kind"] != "WEB_PAGE", "the department's own kind would hide the bug"
    web, page = "https://www.hospital.example/chest-pain-centre", "/pages/special/stroke?from=home"
    try:
        await _set_featured_links(
            app,
            [
                {"id": first["id"], "link_target": web, "link_kind": "WEB_PAGE"},
                {"id": second["id"], "link_target": page, "link_kind": None},
            ],
        )
        # when
        cards = (await client.query(QUERY_HOMEPAGE))["homepage"]["featuredDepartments"]
    finally:
        await _set_featured_links(
            app, [{k: row[k] for k in ("id", "link_target", "link_kind")} for row in (first, second)]
        )
    # then
    assert cards[0]["registrationLink"] == {
        "kind": "WEB_PAGE",
        "target": web,
        "departmentId": str(first["department_id"]),
    }
    assert cards[1]["registrationLink"] == {
        "kind": second["registration_kind"],
        "target": page,
        "departmentId": str(second["department_id"]),
    }


async def test_consult_zone_has_the_five_services_with_lowest_prices(client: Any, raw_rows: Any) -> None:
    # given: lowest price and number of active providers per service, from the offering rows
    offers = await raw_rows(
        "SELECT o.service, o.price_cents, o.active, s.active AS staff_active, t.active AS team_active "
        "FROM service_offerings o LEFT JOIN staff s ON s.id = o.staff_id LEFT JOIN teams t ON t.id = o.team_id"
    )
    prices: dict[str, list[int]] = defaultdict(list)
    for o in offers:
        provider_active = o["staff_active"] if o["staff_active"] is not None else o["team_active"]
        if o["active"] and provider_active:
            prices[o["service"]].append(o["price_cents"])
    # when
    services = (await client.query(QUERY_HOMEPAGE))["homepage"]["consultZone"]["services"]
    # then
    assert [s["service"] for s in services] == ["FOLLOW_UP", "VIDEO", "RAPID", "TEAM", "MDT"]
    assert [s["title"] for s in services] == ["复诊续方", "视频问诊", "极速咨询", "团队咨询", "MDT多学科诊疗"]
    for s in services:
        assert s["fromPrice"]["cents"] == min(prices[s["service"]])
        assert s["providerCount"] == len(prices[s["service"]])
        assert s["requirements"], "every service says what the patient needs"
    assert "知情同意书" in "".join(services[1]["requirements"])


async def test_latest_published_articles_per_category(client: Any, raw_rows: Any) -> None:
    # given
    rows = await raw_rows("SELECT id, category, status, published_at FROM articles")
    newest: dict[str, list[tuple[Any, int]]] = defaultdict(list)
    for r in rows:
        published = parse_time(r["published_at"])
        if r["status"] == "PUBLISHED" and published is not None and published <= ANCHOR:
            newest[r["category"]].append((published, r["id"]))
    # when
    groups = (await client.query(QUERY_HOMEPAGE))["homepage"]["articles"]
    # then
    assert [(g["category"], g["label"]) for g in groups] == [
        ("SCIENCE", "科普"),
        ("NEWS", "资讯"),
        ("HOSPITAL_NEWS", "医院动态"),
    ]
    for group in groups:
        expected = [str(i) for _, i in sorted(newest[group["category"]], reverse=True)[:3]]
        assert [a["id"] for a in group["articles"]] == expected
        assert {a["categoryLabel"] for a in group["articles"]} == {group["label"]}


async def test_scheduled_and_draft_articles_stay_hidden(client: Any, raw_rows: Any, app: Any) -> None:
    # given: the demo's drafts and archived articles, and a published article scheduled for tomorrow,
    # which would be the newest of its category if its publication time were not respected
    engine = app.state.resources.engine
    async with engine.begin() as conn:
        scheduled = (
            await conn.execute(
                insert(Article)
                .values(
                    category=ArticleCategory.NEWS,
                    title="明日发布：冬季流感疫苗接种安排",
                    summary="定时发布的资讯",
                    body="<p>定时发布。</p>",
                    status=ArticleStatus.PUBLISHED,
                    published_at=ANCHOR + timedelta(days=1),
                    created_at=ANCHOR - timedelta(days=1),
                )
                .returning(Article.id)
            )
        ).scalar_one()
    try:
        rows = await raw_rows("SELECT id, status, published_at FROM articles")
        hidden = {
            str(r["id"])
            for r in rows
            if r["status"] != "PUBLISHED" or (published := parse_time(r["published_at"])) is None or published > ANCHOR
        }
        assert str(scheduled) in hidden
        assert len(hidden) > 1, "the demo data has drafts and archived articles"
        # when
        groups = (await client.query(QUERY_HOMEPAGE))["homepage"]["articles"]
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(Article).where(Article.id == scheduled))
    # then
    shown = {a["id"] for g in groups for a in g["articles"]}
    assert not shown & hidden


async def test_theme_entries_and_layout(client: Any, raw_rows: Any) -> None:
    tokens = await raw_rows("SELECT name, value FROM theme_tokens WHERE variant = 'STANDARD' ORDER BY id")
    entries = await raw_rows(
        "SELECT kind, title, target FROM homepage_entries WHERE visible = :y ORDER BY position", y=True
    )
    home = (await client.query(QUERY_HOMEPAGE))["homepage"]
    assert [(t["name"], t["value"]) for t in home["theme"]["tokens"]] == [(t["name"], t["value"]) for t in tokens]
    assert [(e["kind"], e["title"], e["link"]["target"]) for e in home["entries"]] == [
        (e["kind"], e["title"], e["target"]) for e in entries
    ]
    assert {e["kind"] for e in home["entries"]} == {"POINTS_MALL", "BUSINESS_EXPANSION", "MY_BENEFITS"}
    assert home["layout"]["compact"] is True
    assert home["layout"]["modules"][0] == "CONSULT_ZONE"
    assert "RANKINGS" in home["layout"]["modules"]


async def test_elder_variant_has_larger_type_and_fewer_modules(client: Any) -> None:
    standard = (await client.query(QUERY_HOMEPAGE))["homepage"]
    elder = (await client.query(QUERY_HOMEPAGE, {"variant": "ELDER"}))["homepage"]
    assert elder["variant"] == "ELDER"
    assert elder["layout"]["fontScale"] > standard["layout"]["fontScale"]
    assert len(elder["layout"]["modules"]) < len(standard["layout"]["modules"])


async def _set_visible(app: Any, ids: list[int], visible: bool) -> None:
    async with app.state.resources.engine.begin() as conn:
        await conn.execute(
            text("UPDATE layout_modules SET visible = :visible WHERE id = :id"),
            [{"visible": visible, "id": i} for i in ids],
        )


async def test_layout_settings_survive_every_module_being_hidden(client: Any, raw_rows: Any, app: Any) -> None:
    # given: the elder layout's own settings (not the fallback), and every elder module hidden
    [setting] = await raw_rows("SELECT compact, font_scale FROM layout_settings WHERE variant = 'ELDER'")
    expected = {"compact": bool(setting["compact"]), "fontScale": setting["font_scale"], "modules": []}
    assert (expected["compact"], expected["fontScale"]) != (True, 1.0), "the fallback values would hide the bug"
    rows = await raw_rows("SELECT id FROM layout_modules WHERE variant = 'ELDER' AND visible = :yes", yes=True)
    visible = [r["id"] for r in rows]
    assert visible
    try:
        await _set_visible(app, visible, False)
        # when
        layout = (await client.query(QUERY_HOMEPAGE, {"variant": "ELDER"}))["homepage"]["layout"]
    finally:
        await _set_visible(app, visible, True)
    # then
    assert layout == expected


@contextmanager
def statements_on(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the engine runs inside the block (assert_num_queries watches only the shared app)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture
async def feature_every_department(app: Any) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Call to feature every department not yet featured; the added rows are removed afterwards."""
    engine = app.state.resources.engine

    async def feature() -> None:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO featured_departments (department_id, position, image_url, blurb) "
                    "SELECT id, 100 + id, '', name FROM departments "
                    "WHERE id NOT IN (SELECT department_id FROM featured_departments)"
                )
            )

    try:
        yield feature
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM featured_departments WHERE position >= 100"))


@pytest.fixture
async def app_with_more_articles(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncEngine]]:
    """A second app on the same database showing 12 articles per category instead of 3."""
    application = create_app(settings.model_copy(update={"articles_per_category": 12}), clock=lambda: ANCHOR)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver") as http,
    ):
        yield http, application.state.resources.engine


async def _homepage(http: httpx.AsyncClient) -> dict[str, Any]:
    body = (await http.post("/graphql", json={"query": QUERY_HOMEPAGE})).json()
    assert "errors" not in body, body["errors"]
    homepage: dict[str, Any] = body["data"]["homepage"]
    return homepage


async def test_one_request_costs_a_fixed_number_of_statements(
    client: Any,
    raw_rows: Any,
    assert_num_queries: Any,
    feature_every_department: Callable[[], Awaitable[None]],
    app_with_more_articles: tuple[httpx.AsyncClient, AsyncEngine],
) -> None:
    # theme + layout + featured + departments + consult zone + entries + articles
    with assert_num_queries(7):
        few = (await client.query(QUERY_HOMEPAGE))["homepage"]
    # given: every department featured, and four times the articles per category
    await feature_every_department()
    more_http, more_engine = app_with_more_articles
    # when
    with statements_on(more_engine) as statements:
        many = await _homepage(more_http)
    # then
    listing = "\n\n".join(f"[{i}] {s}" for i, s in enumerate(statements, 1))
    assert len(statements) == 7, f"ran {len(statements)} statements:\n\n{listing}"
    total_departments = len(await raw_rows("SELECT id FROM departments"))
    assert len(few["featuredDepartments"]) < len(many["featuredDepartments"]) == total_departments
    assert sum(len(g["articles"]) for g in many["articles"]) > sum(len(g["articles"]) for g in few["articles"])
