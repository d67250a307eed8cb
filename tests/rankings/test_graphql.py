"""The boards through GraphQL: the homepage's gold board and TOP3 boards on the seeded history,
past periods, registration links, statement counts, and the admin refresh."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from identity_support import gql, make_staff, staff_login
from ranking_reference import ConsultRow, Params, Subjects, all_boards
from ranking_support import SUBJECTS, busy_year, consult, replace_consults
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app import create_app
from datasources.db.rankings import ComputedEntry, store_board
from datasources.rankings import LOCK_NAME, refresh_rankings
from domain.enums import AdminRole
from domain.rankings import RankingBoard, RankingRules, Window, check_period, gold_window, parse_month
from settings import load_settings
from support import ANCHOR, parse_time

COMMON = """
rank score reason
inputs { consults consultsBefore heat reviews positiveReviews positiveRate averageRating bayesianRating
         completed settled completionRate }
registrationLink { kind target departmentId staffId }
"""
DEPARTMENT = "department { id name }"
STAFF = "staffMember { id name department { id } stats { acceptedRecent } }"
TEAM = "team { id name leader { id } department { id } }"
ENTRY = f"""{COMMON}
... on DepartmentRankingEntry {{ {DEPARTMENT} }}
... on StaffRankingEntry {{ {STAFF} }}
... on TeamRankingEntry {{ {TEAM} }}
"""
PERIOD = "period { key label startsAt endsAt comparedStartsAt comparedEndsAt }"
QUERY_HOMEPAGE = f"""
{{ homepage {{
  goldBoard {{ {PERIOD} computedAt departmentsDefinition staffDefinition
              departments {{ {COMMON} {DEPARTMENT} }} staff {{ {COMMON} {STAFF} }} }}
  boards {{ board title definition computedAt {PERIOD} entries {{ {ENTRY} }} }}
}} }}
"""
QUERY_RANKING = f"""
query($board: RankingBoard!, $period: String) {{
  ranking(board: $board, period: $period) {{ board title {PERIOD} entries {{ {ENTRY} }} }}
}}
"""
REFRESH = """
mutation($boards: [RankingBoard!], $month: String) {
  refreshRankings(boards: $boards, month: $month) {
    __typename
    ... on RefreshRankingsSuccess { rankings { board period { key } entries { rank } } }
    ... on RefreshInProgress { code message }
    ... on ValidationFailed { code field reason message }
  }
}
"""


@pytest.fixture(scope="module")
async def refreshed(app: Starlette) -> None:
    """The boards computed at the test clock over the seeded history."""
    resources = app.state.resources
    async with resources.sessions() as db, db.begin():
        await refresh_rankings(db, now=ANCHOR, rules=resources.settings.ranking_rules)


async def _reference(raw_rows: Any) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """The reference boards over every seeded consult, and the rows needed to check links."""
    consults = await raw_rows(
        "SELECT staff_id, team_id, department_id, status, paid_at, completed_at, rating, reviewed_at FROM consults"
    )
    staff = await raw_rows("SELECT id, role, active, department_id, registration_target FROM staff")
    teams = await raw_rows("SELECT id, active, leader_id, department_id FROM teams")
    departments = await raw_rows("SELECT id, registration_target FROM departments")
    rows = [
        ConsultRow(
            c["staff_id"],
            c["team_id"],
            c["department_id"],
            c["status"],
            parse_time(c["paid_at"]),
            parse_time(c["completed_at"]),
            c["rating"],
            parse_time(c["reviewed_at"]),
        )
        for c in consults
    ]
    subjects = Subjects(
        staff={s["id"]: (s["role"], bool(s["active"])) for s in staff},
        teams={t["id"]: bool(t["active"]) for t in teams},
    )
    lookups = {
        "staff": {s["id"]: s for s in staff},
        "teams": {t["id"]: t for t in teams},
        "departments": {d["id"]: d["registration_target"] for d in departments},
    }
    return all_boards(rows, subjects, ANCHOR, Params()), lookups


def _subject_id(entry: dict[str, Any]) -> int:
    subject = entry.get("department") or entry.get("staffMember") or entry.get("team")
    assert subject is not None
    return int(subject["id"])


def _expected_link(entry: dict[str, Any], lookups: dict[str, Any]) -> str:
    if "department" in entry:
        return str(lookups["departments"][int(entry["department"]["id"])])
    if "staffMember" in entry:
        return str(lookups["staff"][int(entry["staffMember"]["id"])]["registration_target"])
    leader = lookups["staff"][lookups["teams"][int(entry["team"]["id"])]["leader_id"]]
    return str(leader["registration_target"])


async def test_the_homepage_shows_the_boards_the_reference_computes(
    client: Any, raw_rows: Any, refreshed: None
) -> None:
    # given
    expected, lookups = await _reference(raw_rows)
    # when
    homepage = (await client.query(QUERY_HOMEPAGE))["homepage"]
    # then: last month's gold board
    gold = homepage["goldBoard"]
    assert gold["period"]["key"] == "2026-10" and gold["period"]["label"] == "2026年10月"
    assert "金牌科室" in gold["departmentsDefinition"] and "金牌医生" in gold["staffDefinition"]
    for entries, board in ((gold["departments"], "GOLD_DEPARTMENTS"), (gold["staff"], "GOLD_STAFF")):
        assert [(_subject_id(e), e["score"]) for e in entries] == [(p.subject_id, p.score) for p in expected[board][:5]]
        assert len(entries) == 5
    assert gold["departments"][0]["reason"].startswith(f"10月接诊 {int(gold['departments'][0]['score']):,} 次")
    # the four TOP3 boards, in display order, each as the reference ranks it
    boards = homepage["boards"]
    assert [(b["board"], b["title"]) for b in boards] == [
        ("DOCTOR_POPULARITY", "医生热度"),
        ("FASTEST_GROWTH", "最快成长"),
        ("BEST_TEAM", "团队最佳"),
        ("DEPARTMENT_POPULARITY", "科室热度"),
    ]
    # at the tests' scale (5,000 consults) no doctor reaches 20 consults this month and no team 10
    # reviews, so 最快成长 and 团队最佳 are empty here; test_busy_year_fills_every_board covers them
    assert [len(b["entries"]) for b in boards] == [3, 0, 0, 3]
    for board in boards:
        want = expected[board["board"]][:3]
        assert [_subject_id(e) for e in board["entries"]] == [p.subject_id for p in want], board["board"]
        assert [e["score"] for e in board["entries"]] == pytest.approx([p.score for p in want], abs=2e-6)
        assert board["period"]["key"] == "2026-11-15"
        assert board["definition"]
        for entry in board["entries"]:
            assert entry["reason"], "every entry explains itself"
    growth = boards[1]
    assert growth["period"]["comparedStartsAt"] is not None
    assert growth["period"]["label"].startswith("本月至今（11月1日 00:00–11月15日 12:00）")
    # every entry links to its registration page
    for entry in gold["departments"] + gold["staff"] + [e for b in boards for e in b["entries"]]:
        assert entry["registrationLink"]["target"] == _expected_link(entry, lookups)


async def test_entries_explain_their_scores_with_their_inputs(client: Any, refreshed: None) -> None:
    homepage = (await client.query(QUERY_HOMEPAGE))["homepage"]
    top_staff = homepage["goldBoard"]["staff"][0]
    inputs = top_staff["inputs"]
    assert inputs["consults"] == top_staff["score"]
    assert inputs["positiveRate"] == pytest.approx(inputs["positiveReviews"] / inputs["reviews"])
    assert inputs["heat"] is None and inputs["bayesianRating"] is None
    popular = homepage["boards"][0]["entries"][0]
    assert popular["inputs"]["heat"] == popular["score"] and popular["inputs"]["consults"] >= 1


async def test_a_past_month_and_a_missing_one(client: Any, app: Starlette, refreshed: None) -> None:
    # given: September's gold boards computed as well
    resources = app.state.resources
    async with resources.sessions() as db, db.begin():
        await refresh_rankings(
            db, now=ANCHOR, rules=resources.settings.ranking_rules, boards=[RankingBoard.GOLD_STAFF], month=(2026, 9)
        )
    # when / then
    september = (await client.query(QUERY_RANKING, {"board": "GOLD_STAFF", "period": "2026-09"}))["ranking"]
    assert september["period"]["key"] == "2026-09"
    assert september["entries"][0]["reason"].startswith("9月接诊")
    newest = (await client.query(QUERY_RANKING, {"board": "GOLD_STAFF"}))["ranking"]
    assert newest["period"]["key"] == "2026-10"
    today = (await client.query(QUERY_RANKING, {"board": "BEST_TEAM", "period": "2026-11-15"}))["ranking"]
    assert today["period"]["key"] == "2026-11-15"
    never = await client.query(QUERY_RANKING, {"board": "GOLD_STAFF", "period": "2020-01"})
    assert never["ranking"] is None


@pytest.mark.parametrize(
    ("board", "period"), [("GOLD_STAFF", "2026-13"), ("BEST_TEAM", "2026-10"), ("GOLD_STAFF", "x")]
)
async def test_a_malformed_period_is_bad_input(client: Any, board: str, period: str) -> None:
    assert await client.error_codes(QUERY_RANKING, {"board": board, "period": period}) == ["BAD_USER_INPUT"]


# ---- statement counts ----------------------------------------------------------------------


async def _store(app: Starlette, board: RankingBoard, period: str, subjects: list[int]) -> None:
    rules = RankingRules()
    if board in (RankingBoard.GOLD_STAFF, RankingBoard.GOLD_DEPARTMENTS):
        window = gold_window(board, *parse_month(period), rules.zone)
    else:
        window = Window(board, check_period(board, period), ANCHOR - timedelta(days=90), ANCHOR)
    entries = [
        ComputedEntry(rank, subject, float(100 - rank), {"consults": 100 - rank, "reviews": 20, "positive_reviews": 19})
        for rank, subject in enumerate(subjects, start=1)
    ]
    async with app.state.resources.sessions() as db, db.begin():
        await store_board(db, window=window, rules=rules, entries=entries, computed_at=ANCHOR)


QUERY_THREE_BOARDS = f"""
query($month: String!, $day: String!) {{
  staff: ranking(board: GOLD_STAFF, period: $month) {{ entries {{ {ENTRY} }} }}
  departments: ranking(board: GOLD_DEPARTMENTS, period: $month) {{ entries {{ {ENTRY} }} }}
  teams: ranking(board: BEST_TEAM, period: $day) {{ entries {{ {ENTRY} }} }}
}}
"""


async def test_loading_boards_costs_the_same_statements_whatever_their_size(
    client: Any, app: Starlette, assert_num_queries: Any
) -> None:
    # given: boards of one entry and of five (staff who have left and a team included)
    await _store(app, RankingBoard.GOLD_STAFF, "2001-01", [3])
    await _store(app, RankingBoard.GOLD_DEPARTMENTS, "2001-01", [2])
    await _store(app, RankingBoard.BEST_TEAM, "2001-01-01", [1])
    await _store(app, RankingBoard.GOLD_STAFF, "2001-02", [5, 9, 13, 40, 41])
    await _store(app, RankingBoard.GOLD_DEPARTMENTS, "2001-02", [1, 3, 5, 7, 9])
    await _store(app, RankingBoard.BEST_TEAM, "2001-01-02", [2, 4, 6, 8, 10])
    # when / then: the boards; their teams, staff (with the leaders) and departments; the staff statistics
    with assert_num_queries(5) as small:
        one = await client.query(QUERY_THREE_BOARDS, {"month": "2001-01", "day": "2001-01-01"})
    with assert_num_queries(len(small.statements)):
        five = await client.query(QUERY_THREE_BOARDS, {"month": "2001-02", "day": "2001-01-02"})
    assert [len(one[k]["entries"]) for k in ("staff", "departments", "teams")] == [1, 1, 1]
    assert [len(five[k]["entries"]) for k in ("staff", "departments", "teams")] == [5, 5, 5]


async def test_the_whole_homepage_with_its_boards_costs_a_fixed_number_of_statements(
    client: Any, assert_num_queries: Any, refreshed: None
) -> None:
    # the boards; their staff and departments (no team qualifies at this scale); the staff statistics
    with assert_num_queries(4):
        await client.query(QUERY_HOMEPAGE)


# ---- links of staff who left and of teams without a leader on staff ---------------------------


@pytest.fixture
async def world_app(world: AsyncEngine) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """An app on the small hospital of ranking_support (no snapshots yet), and a client of it."""
    settings = load_settings(
        database_url=world.url.render_as_string(hide_password=False), seed_demo_data=False, ranking_refresh_seconds=0
    )
    application = create_app(settings, clock=lambda: ANCHOR)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver") as http,
    ):
        yield application, http


async def test_busy_year_fills_every_board(world: AsyncEngine, world_app: tuple[Starlette, httpx.AsyncClient]) -> None:
    # given: four months of consults at realistic volumes, and the boards computed
    application, http = world_app
    rows = busy_year(ANCHOR)
    await replace_consults(world, rows)
    async with application.state.resources.sessions() as db, db.begin():
        await refresh_rankings(db, now=ANCHOR, rules=RankingRules())
    expected = all_boards(rows, SUBJECTS, ANCHOR, Params())
    statements: list[str] = []
    engine = application.state.resources.engine.sync_engine
    record = lambda *args: statements.append(args[2])  # noqa: E731
    # when
    event.listen(engine, "before_cursor_execute", record)
    try:
        homepage = (await gql(http, QUERY_HOMEPAGE))["data"]["homepage"]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    # then: every board full, as the reference ranks it
    boards = {b["board"]: b["entries"] for b in homepage["boards"]}
    boards["GOLD_DEPARTMENTS"] = homepage["goldBoard"]["departments"]
    boards["GOLD_STAFF"] = homepage["goldBoard"]["staff"]
    for board, entries in boards.items():
        assert [_subject_id(e) for e in entries] == [p.subject_id for p in expected[board][: len(entries)]]
    assert {board: len(entries) for board, entries in boards.items()} == {
        "GOLD_DEPARTMENTS": 4,
        "GOLD_STAFF": 5,
        "DOCTOR_POPULARITY": 3,
        "FASTEST_GROWTH": 3,
        "BEST_TEAM": 2,
        "DEPARTMENT_POPULARITY": 3,
    }
    # a team's score is its Bayesian rating times its completion rate, and its inputs say so
    team = boards["BEST_TEAM"][0]
    inputs = team["inputs"]
    assert inputs["bayesianRating"] * inputs["completionRate"] == pytest.approx(team["score"], abs=1e-6)
    assert inputs["averageRating"] == pytest.approx(
        (inputs["bayesianRating"] * (20 + inputs["reviews"]) - 4.5 * 20) / inputs["reviews"]
    )
    assert inputs["completionRate"] == pytest.approx(inputs["completed"] / inputs["settled"])
    growth = boards["FASTEST_GROWTH"][0]
    assert growth["reason"].startswith(f"本月至今 {growth['inputs']['consults']} 次，上月同期 ")
    # and the whole homepage, six boards and three kinds of subject, took a fixed number of statements
    # the boards; their teams, staff (with the leaders) and departments; the staff statistics
    assert len(statements) == 5, "\n\n".join(statements)


async def test_before_the_first_computation_the_homepage_has_no_boards(
    world_app: tuple[Starlette, httpx.AsyncClient],
) -> None:
    body = await gql(world_app[1], "{ homepage { goldBoard { period { key } } boards { board } } }")
    assert body["data"]["homepage"] == {"goldBoard": None, "boards": []}


async def test_departed_staff_and_leaderless_teams_link_to_their_department(
    world: AsyncEngine, world_app: tuple[Starlette, httpx.AsyncClient]
) -> None:
    application, http = world_app
    # given: last month, staff 7 (who has since left) and team 2 (whose leader has left) were busy
    october = ANCHOR - timedelta(days=30)
    await replace_consults(
        world,
        [consult(staff=7, completed=october) for _ in range(3)]
        + [consult(team=2, completed=ANCHOR - timedelta(days=3), rating=5) for _ in range(10)],
    )
    async with application.state.resources.sessions() as db, db.begin():
        await store_board(
            db,
            window=gold_window(RankingBoard.GOLD_STAFF, 2026, 10, RankingRules().zone),
            rules=RankingRules(),
            entries=[ComputedEntry(1, 7, 3.0, {"consults": 3, "reviews": 0, "positive_reviews": 0})],
            computed_at=ANCHOR,
        )
        await refresh_rankings(db, now=ANCHOR, rules=RankingRules(), boards=[RankingBoard.BEST_TEAM])
    # when
    body = await gql(http, QUERY_HOMEPAGE)
    homepage = body["data"]["homepage"]
    # then: the registration page of the department they belong to
    [departed] = homepage["goldBoard"]["staff"]
    assert departed["registrationLink"] == {
        "kind": "MINI_PROGRAM_PAGE",
        "target": "/pages/registration/department?d=4",
        "departmentId": "4",
        "staffId": None,
    }
    [team] = next(b for b in homepage["boards"] if b["board"] == "BEST_TEAM")["entries"]
    assert team["team"]["leader"] == {"id": "7"}
    assert team["registrationLink"]["target"] == "/pages/registration/department?d=2"


# ---- the admin refresh -------------------------------------------------------------------------


async def test_operations_staff_refresh_the_boards_and_it_is_audited(
    http: httpx.AsyncClient, app: Starlette, raw_rows: Any
) -> None:
    token = await staff_login(http, await make_staff(app, [AdminRole.OPERATIONS]))
    body = await gql(http, REFRESH, {"boards": ["BEST_TEAM", "GOLD_STAFF"]}, token)
    result = body["data"]["refreshRankings"]
    assert result["__typename"] == "RefreshRankingsSuccess"
    assert [(r["board"], r["period"]["key"]) for r in result["rankings"]] == [
        ("BEST_TEAM", "2026-11-15"),
        ("GOLD_STAFF", "2026-10"),
    ]
    audited = await raw_rows(
        "SELECT actor_kind, result, target_id FROM audit_log WHERE action = 'rankings.refresh' ORDER BY id DESC LIMIT 2"
    )
    assert sorted((a["actor_kind"], a["result"], a["target_id"]) for a in audited) == [
        ("STAFF", "OK", "BEST_TEAM"),
        ("STAFF", "OK", "GOLD_STAFF"),
    ]


async def test_a_past_month_of_the_gold_boards_can_be_recomputed(http: httpx.AsyncClient, app: Starlette) -> None:
    token = await staff_login(http, await make_staff(app, [AdminRole.SUPER_ADMIN]))
    result = (await gql(http, REFRESH, {"month": "2026-08"}, token))["data"]["refreshRankings"]
    assert [(r["board"], r["period"]["key"], len(r["entries"])) for r in result["rankings"]] == [
        ("GOLD_DEPARTMENTS", "2026-08", 5),
        ("GOLD_STAFF", "2026-08", 5),
    ]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"month": "2026-11"}, "month"),  # not over yet
        ({"month": "2026-1"}, "month"),
        ({"month": "2026-09", "boards": ["DOCTOR_POPULARITY"]}, "month"),
        ({"boards": []}, "boards"),
    ],
)
async def test_refused_refreshes_change_nothing(
    http: httpx.AsyncClient, app: Starlette, raw_rows: Any, variables: dict[str, Any], field: str
) -> None:
    token = await staff_login(http, await make_staff(app, [AdminRole.OPERATIONS]))
    before = await raw_rows("SELECT COUNT(*) AS n, MAX(computed_at) AS latest FROM ranking_snapshots")
    result = (await gql(http, REFRESH, variables, token))["data"]["refreshRankings"]
    assert (result["__typename"], result["code"], result["field"]) == ("ValidationFailed", "BAD_USER_INPUT", field)
    assert await raw_rows("SELECT COUNT(*) AS n, MAX(computed_at) AS latest FROM ranking_snapshots") == before


async def test_a_refresh_while_another_runs_says_so(http: httpx.AsyncClient, app: Starlette, raw_rows: Any) -> None:
    token = await staff_login(http, await make_staff(app, [AdminRole.OPERATIONS]))
    cache = app.state.resources.cache
    held = await cache.acquire_lock(LOCK_NAME, ttl_seconds=60)
    assert held is not None
    try:
        result = (await gql(http, REFRESH, {"boards": ["BEST_TEAM"]}, token))["data"]["refreshRankings"]
    finally:
        await cache.release_lock(LOCK_NAME, held)
    assert result["__typename"] == "RefreshInProgress" and result["code"] == "CONFLICT"
    [audited] = await raw_rows(
        "SELECT result FROM audit_log WHERE action = 'rankings.refresh' ORDER BY id DESC LIMIT 1"
    )
    assert audited["result"] == "FAILED"
