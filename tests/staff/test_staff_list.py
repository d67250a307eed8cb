"""The staff list: filters, pagination, statistics computed independently from the consult rows."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest

from support import ANCHOR, parse_time

QUERY_STAFF = """
query Staff($first: Int!, $after: String, $role: StaffRole, $departmentId: ID, $service: ConsultService) {
  staff(first: $first, after: $after, role: $role, departmentId: $departmentId, service: $service) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id name role roleLabel title
      department { id name }
      services { service price { cents text } }
      registrationLink { kind target departmentId staffId }
      stats { windowDays acceptedRecent acceptedAllTime reviewCount positiveReviewCount positiveRate
              positiveRateText avgResponseMinutes }
    } }
  }
}
"""


async def _expected_stats(raw_rows: Any) -> dict[int, dict[str, Any]]:
    """接单数 / 好评率 / 平均接单时间 by the definitions, in plain Python over every consult row."""
    rows = await raw_rows(
        "SELECT staff_id, paid_at, first_response_at, rating FROM consults WHERE staff_id IS NOT NULL"
    )
    since = ANCHOR - timedelta(days=30)
    acc: dict[int, dict[str, Any]] = defaultdict(lambda: {"recent": 0, "all": 0, "reviews": 0, "good": 0, "waits": []})
    for row in rows:
        s = acc[row["staff_id"]]
        responded, paid = parse_time(row["first_response_at"]), parse_time(row["paid_at"])
        if responded is not None and responded <= ANCHOR:
            s["all"] += 1
            if responded > since:
                s["recent"] += 1
                if paid is not None:
                    s["waits"].append((responded - paid).total_seconds() / 60)
        if row["rating"] is not None:
            s["reviews"] += 1
            s["good"] += row["rating"] >= 4
    return acc


async def test_statistics_match_an_independent_computation(client: Any, raw_rows: Any) -> None:
    # given
    expected = await _expected_stats(raw_rows)
    # when
    data = await client.query(QUERY_STAFF, {"first": 50})
    # then
    nodes = [edge["node"] for edge in data["staff"]["edges"]]
    assert len(nodes) == 50
    checked_rates = 0
    for node in nodes:
        want = expected[int(node["id"])]
        stats = node["stats"]
        assert stats["windowDays"] == 30
        assert stats["acceptedRecent"] == want["recent"]
        assert stats["acceptedAllTime"] == want["all"]
        assert stats["reviewCount"] == want["reviews"]
        assert stats["positiveReviewCount"] == want["good"]
        if want["reviews"] >= 5:
            assert stats["positiveRate"] == pytest.approx(want["good"] / want["reviews"])
            assert stats["positiveRateText"] == f"{want['good'] / want['reviews'] * 100:.1f}%"
            checked_rates += 1
        else:
            assert stats["positiveRate"] is None
            assert stats["positiveRateText"] == "评价不足5条"
        if want["waits"]:
            assert stats["avgResponseMinutes"] == pytest.approx(sum(want["waits"]) / len(want["waits"]), abs=0.051)
        else:
            assert stats["avgResponseMinutes"] is None
    assert checked_rates > 10, "the seeded data should give most staff enough reviews"


async def test_too_few_reviews_says_so_instead_of_a_rate(client: Any, raw_rows: Any) -> None:
    # given: staff members (still there) with between 1 and 4 reviews in the seeded data
    rows = await raw_rows(
        "SELECT c.staff_id FROM consults c JOIN staff s ON s.id = c.staff_id "
        "WHERE c.rating IS NOT NULL AND s.active = :yes GROUP BY c.staff_id HAVING COUNT(*) BETWEEN 1 AND 4",
        yes=True,
    )
    assert rows, "the seeded data should contain staff with few reviews"
    query = "query($id: ID!) { staffMember(id: $id) { stats { reviewCount positiveRate positiveRateText } } }"
    for row in rows[:3]:
        # when
        stats = (await client.query(query, {"id": str(row["staff_id"])}))["staffMember"]["stats"]
        # then
        assert 1 <= stats["reviewCount"] <= 4
        assert stats["positiveRate"] is None
        assert stats["positiveRateText"] == "评价不足5条"


async def test_pages_walk_the_whole_list_in_order(client: Any, raw_rows: Any) -> None:
    # given
    expected_ids = [r["id"] for r in await raw_rows("SELECT id FROM staff WHERE active = :yes ORDER BY id", yes=True)]
    # when
    seen: list[int] = []
    after = None
    while True:
        page = (await client.query(QUERY_STAFF, {"first": 37, "after": after}))["staff"]
        assert page["totalCount"] == len(expected_ids)
        seen += [int(edge["node"]["id"]) for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    # then
    assert seen == expected_ids


@pytest.mark.parametrize("role", ["DOCTOR", "NURSE", "PHARMACIST"])
async def test_role_filter(client: Any, raw_rows: Any, role: str) -> None:
    expected = [
        r["id"]
        for r in await raw_rows(
            "SELECT id FROM staff WHERE role = :role AND active = :yes ORDER BY id", role=role, yes=True
        )
    ]
    page = (await client.query(QUERY_STAFF, {"first": 50, "role": role}))["staff"]
    assert page["totalCount"] == len(expected)
    assert [int(e["node"]["id"]) for e in page["edges"]] == expected[:50]
    labels = {"DOCTOR": "医", "NURSE": "护", "PHARMACIST": "药"}
    assert {e["node"]["roleLabel"] for e in page["edges"]} == {labels[role]}


async def test_department_and_service_filters_combine(client: Any, raw_rows: Any) -> None:
    expected = [
        r["id"]
        for r in await raw_rows(
            "SELECT DISTINCT s.id FROM staff s JOIN service_offerings o ON o.staff_id = s.id "
            "WHERE s.department_id = 1 AND o.service = 'VIDEO' AND o.active = :yes AND s.active = :yes ORDER BY s.id",
            yes=True,
        )
    ]
    assert expected, "the seeded cardiology department has video consults"
    page = (await client.query(QUERY_STAFF, {"first": 50, "departmentId": "1", "service": "VIDEO"}))["staff"]
    assert [int(e["node"]["id"]) for e in page["edges"]] == expected
    for edge in page["edges"]:
        node = edge["node"]
        assert node["department"]["id"] == "1"
        assert "VIDEO" in {s["service"] for s in node["services"]}
        assert node["registrationLink"]["staffId"] == node["id"]
        assert node["registrationLink"]["departmentId"] == "1"


async def test_prices_come_from_the_offerings(client: Any, raw_rows: Any) -> None:
    rows = await raw_rows("SELECT staff_id, service, price_cents FROM service_offerings WHERE staff_id <= 5")
    expected: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for row in rows:
        expected[str(row["staff_id"])].add((row["service"], row["price_cents"]))
    data = await client.query(QUERY_STAFF, {"first": 5})
    for edge in data["staff"]["edges"]:
        node = edge["node"]
        got = {(s["service"], s["price"]["cents"]) for s in node["services"]}
        assert got == expected[node["id"]]
        for s in node["services"]:
            assert s["price"]["text"] == f"¥{s['price']['cents'] // 100}.{s['price']['cents'] % 100:02d}"


@pytest.mark.parametrize(
    ("variables", "argument"),
    [
        ({"first": 0}, "first"),
        ({"first": 5, "after": "not-a-cursor"}, "after"),
        ({"first": 5, "departmentId": "abc"}, "departmentId"),
    ],
)
async def test_bad_arguments_get_bad_user_input(client: Any, variables: dict[str, Any], argument: str) -> None:
    body = await client.execute(QUERY_STAFF, variables)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == argument


async def test_a_page_over_the_limit_is_refused_before_it_runs(client: Any) -> None:
    body = await client.execute(QUERY_STAFF, {"first": 51})
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": "listSize"}


async def test_a_cursor_of_another_list_is_refused(client: Any) -> None:
    departments = await client.query("{ departments(first: 1) { pageInfo { endCursor } } }")
    cursor = departments["departments"]["pageInfo"]["endCursor"]
    assert await client.error_codes(QUERY_STAFF, {"first": 5, "after": cursor}) == ["BAD_USER_INPUT"]


async def test_statement_count_does_not_grow_with_page_size(client: Any, assert_num_queries: Any) -> None:
    # count + page + departments + statistics + offerings
    with assert_num_queries(5):
        small = await client.query(QUERY_STAFF, {"first": 5})
    with assert_num_queries(5):
        large = await client.query(QUERY_STAFF, {"first": 50})
    assert len(small["staff"]["edges"]) == 5
    assert len(large["staff"]["edges"]) == 50


async def test_staff_who_have_left_are_not_shown_by_id_either(client: Any, raw_rows: Any) -> None:
    # given: staff who have left, and staff who have not
    rows = await raw_rows("SELECT id, active FROM staff ORDER BY id")
    left = [str(r["id"]) for r in rows if not r["active"]]
    present = [str(r["id"]) for r in rows if r["active"]]
    assert left, "the demo data has staff who have left"
    query = "query($id: ID!) { staffMember(id: $id) { id name } }"
    for staff_id in left:
        # when / then
        assert (await client.query(query, {"id": staff_id}))["staffMember"] is None
    assert (await client.query(query, {"id": present[0]}))["staffMember"]["id"] == present[0]
