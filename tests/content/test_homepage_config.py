"""Homepage configuration through mutations: featured departments, entries, theme, layout and the
consult zone, per variant; each change visible on the next homepage query, refusals change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from content_support import audit_actions, mutate, snapshot, staff_token
from identity_support import codes, gql
from sqlalchemy import delete, insert, select

from datasources.db.tables import (
    ConsultServiceEntry,
    FeaturedDepartment,
    HomepageEntry,
    LayoutModule,
    LayoutSetting,
    ThemeToken,
)
from domain.content import contrast_ratio
from domain.enums import AdminRole

CONFIG_TABLES = [FeaturedDepartment, HomepageEntry, ThemeToken, LayoutModule, LayoutSetting, ConsultServiceEntry]
SNAPSHOT_TABLES = {
    "featured_departments": "id",
    "homepage_entries": "id",
    "theme_tokens": "id",
    "layout_modules": "id",
    "layout_settings": "variant",
    "consult_service_entries": "service",
}

HOME = """homepage(variant: $variant) {
  variant theme { tokens { name value description } } layout { compact fontScale modules }
  featuredDepartments { position imageUrl blurb department { id } registrationLink { kind target } }
  entries { kind title iconUrl link { kind target } }
  consultZone { services { service title requirements } } }"""
QUERY_HOME = f"query($variant: LayoutVariant) {{ {HOME} }}"
RESULT = """__typename
  ... on HomepageConfigSuccess { homepage { variant } }
  ... on ValidationFailed { code field reason detail message }"""
SET_FEATURED = f"""mutation($variant: LayoutVariant!, $items: [FeaturedDepartmentInput!]!) {{
  setFeaturedDepartments(variant: $variant, items: $items) {{ {RESULT} ... on NotFound {{ code typeName id }} }} }}"""
SET_ENTRIES = f"""mutation($variant: LayoutVariant!, $items: [HomepageEntryInput!]!) {{
  setHomepageEntries(variant: $variant, items: $items) {{ {RESULT} }} }}"""
SET_THEME = f"""mutation($variant: LayoutVariant!, $tokens: [ColorTokenInput!]!) {{
  setTheme(variant: $variant, tokens: $tokens) {{ {RESULT} }} }}"""
SET_LAYOUT = f"""mutation($variant: LayoutVariant!, $layout: LayoutInput!) {{
  setLayout(variant: $variant, layout: $layout) {{ {RESULT} }} }}"""
SET_ZONE = f"""mutation($services: [ConsultServiceInput!]!) {{ setConsultZone(services: $services) {{ {RESULT} }} }}"""


@pytest.fixture(autouse=True)
async def restore_configuration(app: Any) -> AsyncIterator[None]:
    """Every test here changes the shared database's homepage; it is put back afterwards."""
    engine = app.state.resources.engine
    saved: dict[Any, list[dict[str, Any]]] = {}
    async with engine.connect() as conn:
        for model in CONFIG_TABLES:
            saved[model] = [dict(row._mapping) for row in await conn.execute(select(model))]
    yield
    async with engine.begin() as conn:
        for model in CONFIG_TABLES:
            await conn.execute(delete(model))
            if saved[model]:
                await conn.execute(insert(model), saved[model])


@pytest.fixture
async def editor(app: Any, http: httpx.AsyncClient) -> str:
    return await staff_token(app, http, AdminRole.CONTENT_EDITOR)


async def _home(http: httpx.AsyncClient, variant: str = "STANDARD") -> dict[str, Any]:
    body = await gql(http, QUERY_HOME, {"variant": variant})
    assert "errors" not in body, body
    home: dict[str, Any] = body["data"]["homepage"]
    return home


async def _config(app: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {table: await snapshot(app, table, order) for table, order in SNAPSHOT_TABLES.items()}


def _card(department_id: str, blurb: str = "简介", **extra: Any) -> dict[str, Any]:
    return {
        "departmentId": department_id,
        "imageUrl": f"https://static.hospital.example/featured/{department_id}.jpg",
        "blurb": blurb,
        **extra,
    }


# ---- featured departments ---------------------------------------------------------------------


async def test_featured_departments_are_replaced_for_one_variant(
    http: httpx.AsyncClient, editor: str, app: Any
) -> None:
    # given
    elder_before = (await _home(http, "ELDER"))["featuredDepartments"]
    standard_before = (await _home(http))["featuredDepartments"]
    second, first = standard_before[0]["department"]["id"], standard_before[1]["department"]["id"]
    items = [
        _card(first, "调换到第一"),
        _card(second, "换了图和简介", link={"kind": "WEB_PAGE", "target": "https://www.hospital.example/chest"}),
        _card("20", "新加的科室", link={"kind": "MINI_PROGRAM_PAGE", "target": "/pages/special/index?dept=20"}),
    ]
    # when
    result = await mutate(http, SET_FEATURED, {"variant": "STANDARD", "items": items}, editor)
    # then: the next homepage query shows exactly these cards
    assert result == {"__typename": "HomepageConfigSuccess", "homepage": {"variant": "STANDARD"}}
    cards = (await _home(http))["featuredDepartments"]
    assert [(c["position"], c["department"]["id"], c["blurb"], c["imageUrl"]) for c in cards] == [
        (i, item["departmentId"], item["blurb"], item["imageUrl"]) for i, item in enumerate(items)
    ]
    assert cards[1]["registrationLink"] == {"kind": "WEB_PAGE", "target": "https://www.hospital.example/chest"}
    assert cards[2]["registrationLink"] == {"kind": "MINI_PROGRAM_PAGE", "target": "/pages/special/index?dept=20"}
    assert cards[0]["registrationLink"]["target"].startswith("/pages/registration/department")
    # and the elder homepage keeps its own
    assert (await _home(http, "ELDER"))["featuredDepartments"] == elder_before
    assert (await audit_actions(app, "Homepage", "STANDARD"))[-1] == "homepage.featured.set"


async def test_the_success_answer_is_the_changed_homepage(http: httpx.AsyncClient, editor: str) -> None:
    document = """mutation($items: [FeaturedDepartmentInput!]!) {
      setFeaturedDepartments(variant: ELDER, items: $items) {
        ... on HomepageConfigSuccess { homepage { variant featuredDepartments { blurb department { id } } } } } }"""
    result = await mutate(http, document, {"items": [_card("3", "长辈版只放一个")]}, editor)
    assert result["homepage"] == {
        "variant": "ELDER",
        "featuredDepartments": [{"blurb": "长辈版只放一个", "department": {"id": "3"}}],
    }


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([_card("1"), _card("1")], "items.1.departmentId"),
        ([_card("1", imageUrl="http://static.hospital.example/a.jpg")], "items.0.imageUrl"),
        ([_card("1", blurb="  ")], "items.0.blurb"),
        ([_card("1", blurb="长" * 65)], "items.0.blurb"),
        ([_card("1", link={"kind": "WEB_PAGE", "target": "/pages/x/index"})], "items.0.link.target"),
        ([_card("1", link={"kind": "MINI_PROGRAM_PAGE", "target": "https://a.example"})], "items.0.link.target"),
        ([_card("1", link={"kind": "WEB_PAGE", "target": "javascript:alert(1)"})], "items.0.link.target"),
        ([_card(str(i)) for i in range(1, 14)], "items"),
    ],
)
async def test_bad_featured_departments_change_nothing(
    http: httpx.AsyncClient, editor: str, app: Any, items: list[dict[str, Any]], field: str
) -> None:
    before = await _config(app)
    result = await mutate(http, SET_FEATURED, {"variant": "STANDARD", "items": items}, editor)
    assert (result["__typename"], result["code"], result["field"], result["reason"]) == (
        "ValidationFailed",
        "BAD_USER_INPUT",
        field,
        "INVALID",
    )
    assert await _config(app) == before


async def test_an_unknown_department_is_not_found_and_changes_nothing(
    http: httpx.AsyncClient, editor: str, app: Any
) -> None:
    before = await _config(app)
    audit_before = await audit_actions(app, "Homepage", "STANDARD")
    result = await mutate(http, SET_FEATURED, {"variant": "STANDARD", "items": [_card("1"), _card("9999")]}, editor)
    assert result == {"__typename": "NotFound", "code": "NOT_FOUND", "typeName": "Department", "id": "9999"}
    assert await _config(app) == before
    assert await audit_actions(app, "Homepage", "STANDARD") == audit_before


# ---- entries -------------------------------------------------------------------------------


def _entry(kind: str, title: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "title": title, "link": {"kind": "MINI_PROGRAM_PAGE", "target": target}, **extra}


async def test_entries_are_replaced_reordered_and_hidden(http: httpx.AsyncClient, editor: str) -> None:
    items = [
        _entry("MY_BENEFITS", "会员权益", "/pages/benefits/index", iconUrl="https://static.hospital.example/b.png"),
        _entry("POINTS_MALL", "积分兑换", "/pages/points/index?from=home"),
        _entry("BUSINESS_EXPANSION", "业务拓展", "/pages/business/index", visible=False),
    ]
    result = await mutate(http, SET_ENTRIES, {"variant": "ELDER", "items": items}, editor)
    assert result["__typename"] == "HomepageConfigSuccess"
    entries = (await _home(http, "ELDER"))["entries"]
    assert [(e["kind"], e["title"], e["link"]["target"], e["iconUrl"]) for e in entries] == [
        ("MY_BENEFITS", "会员权益", "/pages/benefits/index", "https://static.hospital.example/b.png"),
        ("POINTS_MALL", "积分兑换", "/pages/points/index?from=home", ""),
    ]
    assert [e["title"] for e in (await _home(http))["entries"]] == ["积分商城", "业务拓展", "我的权益"]


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([_entry("POINTS_MALL", "积分", "/p"), _entry("POINTS_MALL", "积分", "/q")], "items.1.kind"),
        ([_entry("POINTS_MALL", "一个很长很长的入口名称", "/p")], "items.0.title"),
        ([_entry("POINTS_MALL", "积分", "pages/no-slash")], "items.0.link.target"),
        ([_entry("POINTS_MALL", "积分", "/p", iconUrl="ftp://x")], "items.0.iconUrl"),
    ],
)
async def test_bad_entries_change_nothing(
    http: httpx.AsyncClient, editor: str, app: Any, items: list[dict[str, Any]], field: str
) -> None:
    before = await _config(app)
    result = await mutate(http, SET_ENTRIES, {"variant": "STANDARD", "items": items}, editor)
    assert (result["__typename"], result["field"]) == ("ValidationFailed", field)
    assert await _config(app) == before


# ---- theme ---------------------------------------------------------------------------------


async def test_theme_tokens_change_and_keep_the_others(http: httpx.AsyncClient, editor: str) -> None:
    before = {t["name"]: t for t in (await _home(http))["theme"]["tokens"]}
    tokens = [
        {"name": "primary", "value": "#005a9e", "description": "主色：蓝"},
        {"name": "highlight", "value": "#FFF4CE", "description": "新：提示条背景"},
    ]
    result = await mutate(http, SET_THEME, {"variant": "STANDARD", "tokens": tokens}, editor)
    assert result["__typename"] == "HomepageConfigSuccess"
    after = {t["name"]: t for t in (await _home(http))["theme"]["tokens"]}
    assert after["primary"] == {"name": "primary", "value": "#005A9E", "description": "主色：蓝"}
    assert after["highlight"]["value"] == "#FFF4CE"
    assert {k: v for k, v in after.items() if k not in ("primary", "highlight")} == {
        k: v for k, v in before.items() if k != "primary"
    }
    assert (await _home(http, "ELDER"))["theme"]["tokens"] != (await _home(http))["theme"]["tokens"]


async def test_low_contrast_is_refused(http: httpx.AsyncClient, editor: str, app: Any) -> None:
    # given: a grey that reads badly on the standard background (checked here independently)
    background = {t["name"]: t["value"] for t in (await _home(http))["theme"]["tokens"]}["background"]
    grey = "#949494"
    assert contrast_ratio(grey, background) < 4.5 <= contrast_ratio("#595959", background)
    before = await _config(app)
    # when
    result = await mutate(http, SET_THEME, {"variant": "STANDARD", "tokens": [{"name": "text", "value": grey}]}, editor)
    # then
    assert (result["__typename"], result["reason"], result["field"]) == ("ValidationFailed", "LOW_CONTRAST", "tokens")
    assert "text/background" in result["detail"] and "text/surface" in result["detail"]
    assert await _config(app) == before
    # and a darker grey is fine
    ok = await mutate(
        http, SET_THEME, {"variant": "STANDARD", "tokens": [{"name": "text", "value": "#595959"}]}, editor
    )
    assert ok["__typename"] == "HomepageConfigSuccess"


@pytest.mark.parametrize(
    ("tokens", "field"),
    [
        ([{"name": "primary", "value": "green"}], "tokens.0.value"),
        ([{"name": "primary", "value": "#12345"}], "tokens.0.value"),
        ([{"name": "Primary Colour", "value": "#123456"}], "tokens.0.name"),
        ([{"name": "text", "value": "#000000"}, {"name": "text", "value": "#111111"}], "tokens.1.name"),
        ([], "tokens"),
    ],
)
async def test_bad_tokens_change_nothing(
    http: httpx.AsyncClient, editor: str, app: Any, tokens: list[dict[str, Any]], field: str
) -> None:
    before = await _config(app)
    result = await mutate(http, SET_THEME, {"variant": "ELDER", "tokens": tokens}, editor)
    assert (result["__typename"], result["field"], result["reason"]) == ("ValidationFailed", field, "INVALID")
    assert await _config(app) == before


# ---- layout and consult zone ----------------------------------------------------------------


async def test_layout_order_compact_mode_and_type_scale(http: httpx.AsyncClient, editor: str) -> None:
    layout = {"compact": False, "fontScale": 1.5, "modules": ["PATIENT_SERVICES", "CONSULT_ZONE"]}
    result = await mutate(http, SET_LAYOUT, {"variant": "ELDER", "layout": layout}, editor)
    assert result["__typename"] == "HomepageConfigSuccess"
    assert (await _home(http, "ELDER"))["layout"] == layout
    # and back to every module, in a new order
    everything = ["ARTICLES", "CONSULT_ZONE", "ENTRIES", "FEATURED_DEPARTMENTS", "PATIENT_SERVICES", "RANKINGS"]
    layout = {"compact": True, "fontScale": 1.2, "modules": everything}
    await mutate(http, SET_LAYOUT, {"variant": "ELDER", "layout": layout}, editor)
    assert (await _home(http, "ELDER"))["layout"] == layout


@pytest.mark.parametrize(
    ("variant", "layout", "field"),
    [
        ("ELDER", {"compact": False, "fontScale": 1.0, "modules": ["CONSULT_ZONE"]}, "fontScale"),
        ("STANDARD", {"compact": True, "fontScale": 3.0, "modules": ["CONSULT_ZONE"]}, "fontScale"),
        ("STANDARD", {"compact": True, "fontScale": 1.0, "modules": []}, "modules"),
        ("STANDARD", {"compact": True, "fontScale": 1.0, "modules": ["ENTRIES", "ENTRIES"]}, "modules"),
    ],
)
async def test_bad_layouts_change_nothing(
    http: httpx.AsyncClient, editor: str, app: Any, variant: str, layout: dict[str, Any], field: str
) -> None:
    before = await _config(app)
    result = await mutate(http, SET_LAYOUT, {"variant": variant, "layout": layout}, editor)
    assert (result["__typename"], result["field"]) == ("ValidationFailed", field)
    assert await _config(app) == before


def _service(service: str, title: str) -> dict[str, Any]:
    return {
        "service": service,
        "title": title,
        "subtitle": "副标题",
        "entryText": "说明",
        "requirements": ["选择就诊人", "在线支付"],
    }


async def test_consult_zone_order_texts_and_hidden_services(http: httpx.AsyncClient, editor: str) -> None:
    services = [_service("RAPID", "极速问诊"), _service("FOLLOW_UP", "复诊续方")]
    result = await mutate(http, SET_ZONE, {"services": services}, editor)
    assert result["__typename"] == "HomepageConfigSuccess"
    zone = (await _home(http))["consultZone"]["services"]
    assert [(s["service"], s["title"], s["requirements"]) for s in zone] == [
        ("RAPID", "极速问诊", ["选择就诊人", "在线支付"]),
        ("FOLLOW_UP", "复诊续方", ["选择就诊人", "在线支付"]),
    ]


@pytest.mark.parametrize(
    ("services", "field"),
    [
        ([], "services"),
        ([_service("RAPID", "a"), _service("RAPID", "b")], "services.1.service"),
        ([{**_service("RAPID", "a"), "requirements": []}], "services.0.requirements"),
        ([_service("RAPID", " ")], "services.0.title"),
    ],
)
async def test_bad_consult_zones_change_nothing(
    http: httpx.AsyncClient, editor: str, app: Any, services: list[dict[str, Any]], field: str
) -> None:
    before = await _config(app)
    result = await mutate(http, SET_ZONE, {"services": services}, editor)
    assert (result["__typename"], result["field"]) == ("ValidationFailed", field)
    assert await _config(app) == before


async def test_only_content_editors_configure_the_homepage(http: httpx.AsyncClient, app: Any) -> None:
    operations = await staff_token(app, http, AdminRole.OPERATIONS)
    before = await _config(app)
    attempts: list[tuple[str, dict[str, Any]]] = [
        (SET_FEATURED, {"variant": "STANDARD", "items": [_card("1")]}),
        (SET_ENTRIES, {"variant": "STANDARD", "items": []}),
        (SET_THEME, {"variant": "STANDARD", "tokens": [{"name": "primary", "value": "#000000"}]}),
        (SET_LAYOUT, {"variant": "STANDARD", "layout": {"compact": True, "fontScale": 1.0, "modules": ["ENTRIES"]}}),
        (SET_ZONE, {"services": [_service("RAPID", "a")]}),
    ]
    for document, variables in attempts:
        assert codes(await gql(http, document, variables, operations)) == ["FORBIDDEN"]
        assert codes(await gql(http, document, variables)) == ["UNAUTHENTICATED"]
    assert await _config(app) == before
