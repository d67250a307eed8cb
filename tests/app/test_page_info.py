"""Relay PageInfo: hasNextPage, hasPreviousPage, startCursor and endCursor on every connection."""

from __future__ import annotations

import base64
from typing import Any

import pytest

QUERY_STAFF = """
query($first: Int!, $after: String) {
  staff(first: $first, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
QUERY_DEPARTMENTS = """
query($first: Int!, $after: String) {
  departments(first: $first, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
LISTS = [
    ("staff", "staff", QUERY_STAFF, "SELECT id FROM staff WHERE active ORDER BY id"),
    ("departments", "department", QUERY_DEPARTMENTS, "SELECT id FROM departments ORDER BY id"),
]


def cursor(kind: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


@pytest.mark.parametrize(("field", "kind", "query", "sql"), LISTS)
async def test_walking_a_list_reports_where_each_page_sits(
    client: Any, raw_rows: Any, field: str, kind: str, query: str, sql: str
) -> None:
    # given
    ids = [r["id"] for r in await raw_rows(sql)]
    size = 7
    pages = [ids[i : i + size] for i in range(0, len(ids), size)]
    assert len(pages) >= 3
    after = None
    for number, expected in enumerate(pages):
        # when
        page = (await client.query(query, {"first": size, "after": after}))[field]
        # then
        assert [int(e["node"]["id"]) for e in page["edges"]] == expected
        assert page["pageInfo"] == {
            "hasNextPage": number < len(pages) - 1,
            "hasPreviousPage": number > 0,
            "startCursor": cursor(kind, expected[0]),
            "endCursor": cursor(kind, expected[-1]),
        }
        after = page["pageInfo"]["endCursor"]


async def test_an_empty_page_after_the_last_item_has_no_cursors(client: Any, raw_rows: Any) -> None:
    [last] = await raw_rows("SELECT MAX(id) AS id FROM staff WHERE active")
    page = (await client.query(QUERY_STAFF, {"first": 5, "after": cursor("staff", last["id"])}))["staff"]
    assert page["edges"] == []
    assert page["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True, "startCursor": None, "endCursor": None}
