"""The operations dashboard: every series matches counts computed here in plain Python from rows read
with plain SQL, bucketed by Asia/Shanghai day or week."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from content_support import staff_token
from identity_support import codes, gql

from domain.enums import AdminRole
from support import parse_time

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIRST, LAST = date(2026, 10, 19), date(2026, 11, 15)  # four whole weeks, Monday to Sunday

QUERY = """query($first: Date!, $last: Date!, $interval: SeriesInterval!, $group: ConsultGrouping) {
  operationsDashboard(firstDay: $first, lastDay: $last) {
    firstDay lastDay timeZone
    consults(interval: $interval, groupBy: $group) { key label points { date value } }
    funnel { stages { stage label count shareOfPrevious } }
    averageResponseMinutes(interval: $interval) { key points { date value } }
    refundRate(interval: $interval) { key points { date value } }
    appreciations(interval: $interval) { key label points { date value } }
    topArticles(first: 5) { views article { id } }
  } }"""


@pytest.fixture
async def operations(app: Any, http: httpx.AsyncClient) -> str:
    return await staff_token(app, http, AdminRole.OPERATIONS)


def _bucket(moment: datetime | None, interval: str) -> date | None:
    if moment is None:
        return None
    day = moment.astimezone(SHANGHAI).date()
    if not FIRST <= day <= LAST:
        return None
    return day - timedelta(days=day.weekday()) if interval == "WEEK" else day


def _buckets(interval: str) -> list[date]:
    days = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    return sorted({d - timedelta(days=d.weekday()) for d in days}) if interval == "WEEK" else days


async def _dashboard(http: httpx.AsyncClient, token: str, interval: str, group: str | None = None) -> dict[str, Any]:
    variables = {"first": FIRST.isoformat(), "last": LAST.isoformat(), "interval": interval, "group": group}
    body = await gql(http, QUERY, variables, token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["operationsDashboard"]
    return result


def _as_counts(series: dict[str, Any]) -> dict[date, float | None]:
    return {date.fromisoformat(p["date"]): p["value"] for p in series["points"]}


@pytest.fixture
async def consults(raw_rows: Any) -> list[dict[str, Any]]:
    rows = await raw_rows(
        "SELECT c.service, c.department_id, c.status, c.rating, c.created_at, c.paid_at, c.first_response_at, "
        "s.role FROM consults c LEFT JOIN staff s ON s.id = c.staff_id"
    )
    for row in rows:
        for column in ("created_at", "paid_at", "first_response_at"):
            row[column] = parse_time(row[column])
    return list(rows)


@pytest.mark.parametrize("interval", ["DAY", "WEEK"])
@pytest.mark.parametrize(
    ("group", "key_of"),
    [
        (None, lambda r: "ALL"),
        ("SERVICE", lambda r: r["service"]),
        ("DEPARTMENT", lambda r: str(r["department_id"])),
        ("ROLE", lambda r: r["role"] or "TEAM"),
    ],
)
async def test_consults_per_day_or_week_and_group(
    http: httpx.AsyncClient,
    operations: str,
    consults: list[dict[str, Any]],
    interval: str,
    group: str | None,
    key_of: Any,
) -> None:
    # given: counts per (group, bucket), computed here
    expected: dict[str, Counter[date]] = defaultdict(Counter)
    for row in consults:
        bucket = _bucket(row["created_at"], interval)
        if bucket is not None:
            expected[key_of(row)][bucket] += 1
    # when
    series = (await _dashboard(http, operations, interval, group))["consults"]
    # then: every bucket of the period, zeros included, for every group that had consults
    assert {s["key"] for s in series} == set(expected)
    for s in series:
        assert [date.fromisoformat(p["date"]) for p in s["points"]] == _buckets(interval)
        assert _as_counts(s) == {d: float(expected[s["key"]][d]) for d in _buckets(interval)}
    totals = [sum(p["value"] for p in s["points"]) for s in series]
    assert totals == sorted(totals, reverse=True), "biggest series first"
    if group == "ROLE":
        assert {s["label"] for s in series} <= {"医", "护", "药", "团队"}


async def test_funnel_response_time_and_refund_rate(
    http: httpx.AsyncClient, operations: str, consults: list[dict[str, Any]]
) -> None:
    created = [r for r in consults if _bucket(r["created_at"], "DAY") is not None]
    funnel = [
        len(created),
        sum(1 for r in created if r["paid_at"] is not None),
        sum(1 for r in created if r["status"] == "COMPLETED"),
        sum(1 for r in created if r["rating"] is not None),
    ]
    minutes: dict[date, list[float]] = defaultdict(list)
    paid: Counter[date] = Counter()
    refunded: Counter[date] = Counter()
    for r in consults:
        responded = _bucket(r["first_response_at"], "DAY")
        if responded is not None and r["paid_at"] is not None:
            minutes[responded].append((r["first_response_at"] - r["paid_at"]).total_seconds() / 60)
        paid_day = _bucket(r["paid_at"], "DAY")
        if paid_day is not None:
            paid[paid_day] += 1
            refunded[paid_day] += r["status"] == "REFUNDED"
    # when
    board = await _dashboard(http, operations, "DAY")
    # then
    stages = board["funnel"]["stages"]
    assert [s["count"] for s in stages] == funnel
    assert [s["stage"] for s in stages] == ["CREATED", "PAID", "COMPLETED", "REVIEWED"]
    assert stages[0]["shareOfPrevious"] is None
    assert stages[2]["shareOfPrevious"] == pytest.approx(funnel[2] / funnel[1])
    for day, value in _as_counts(board["averageResponseMinutes"]).items():
        if minutes[day]:
            assert value == pytest.approx(sum(minutes[day]) / len(minutes[day]), rel=1e-6)
        else:
            assert value is None
    for day, value in _as_counts(board["refundRate"]).items():
        assert value == (pytest.approx(refunded[day] / paid[day]) if paid[day] else None)
    assert sum(refunded.values()) > 0, "the demo data has refunds"


async def test_top_articles_and_appreciations(http: httpx.AsyncClient, operations: str, raw_rows: Any) -> None:
    # given: views of two published articles today, and whatever appreciations other tests sent
    visible = await raw_rows("SELECT id FROM articles WHERE status = 'PUBLISHED' ORDER BY id")
    view = "mutation($id: ID!) { recordArticleView(id: $id) { __typename } }"
    for article_id, times in ((visible[0]["id"], 3), (visible[1]["id"], 5)):
        for _ in range(times):
            await gql(http, view, {"id": str(article_id)})
    views: Counter[int] = Counter()
    for r in await raw_rows("SELECT article_id, day, views FROM article_daily_views"):
        day = r["day"] if isinstance(r["day"], date) else date.fromisoformat(r["day"])
        if FIRST <= day <= LAST:
            views[r["article_id"]] += r["views"]
    expected_top = sorted(views.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    sent: dict[str, Counter[date]] = {"BANNER": Counter(), "LETTER": Counter()}
    for r in await raw_rows("SELECT kind, created_at FROM appreciations"):
        bucket = _bucket(parse_time(r["created_at"]), "WEEK")
        if bucket is not None:
            sent[r["kind"]][bucket] += 1
    # when
    board = await _dashboard(http, operations, "WEEK")
    # then
    assert [(int(a["article"]["id"]), a["views"]) for a in board["topArticles"]] == expected_top
    assert [s["key"] for s in board["appreciations"]] == ["BANNER", "LETTER"]
    for s in board["appreciations"]:
        assert _as_counts(s) == {d: float(sent[s["key"]][d]) for d in _buckets("WEEK")}


async def test_periods_must_make_sense(http: httpx.AsyncClient, operations: str) -> None:
    query = "query($a: Date!, $b: Date!) { operationsDashboard(firstDay: $a, lastDay: $b) { firstDay } }"
    for first, last in (("2026-11-15", "2026-11-14"), ("2025-01-01", "2026-01-02")):
        assert codes(await gql(http, query, {"a": first, "b": last}, operations)) == ["BAD_USER_INPUT"]
    one_day = await gql(http, query, {"a": "2026-11-15", "b": "2026-11-15"}, operations)
    assert one_day["data"]["operationsDashboard"]["firstDay"] == "2026-11-15"


async def test_only_operations_staff_see_the_dashboard(http: httpx.AsyncClient, app: Any) -> None:
    query = '{ operationsDashboard(firstDay: "2026-11-01", lastDay: "2026-11-15") { firstDay } }'
    editor = await staff_token(app, http, AdminRole.CONTENT_EDITOR)
    assert codes(await gql(http, query, token=editor)) == ["FORBIDDEN"]
    assert codes(await gql(http, query)) == ["UNAUTHENTICATED"]


async def test_each_chart_is_one_statement_whatever_the_period(
    app: Any, assert_num_queries: Any, operations: str
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        for first in ("2026-11-09", "2025-11-16"):
            variables = {"first": first, "last": LAST.isoformat(), "interval": "DAY", "group": "DEPARTMENT"}
            # the staff session's account + six charts
            with assert_num_queries(7):
                body = await gql(client, QUERY, variables, operations)
            assert "errors" not in body, body
