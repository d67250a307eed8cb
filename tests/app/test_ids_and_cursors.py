"""Id arguments and cursors: canonical decimal ids from 1 to 2^31 − 1 only, anything else is
BAD_USER_INPUT (never an overflow inside the database)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

LARGEST_ID = "2147483647"  # 2^31 − 1, the largest value of an INTEGER column

NOT_IDS = [
    "2147483648",  # 2^31: overflows PostgreSQL's int4
    "3000000000",
    "99999999999999999999999",
    "0",
    "-1",
    "+5",
    " 5",
    "5 ",
    "5\n",
    "1_0",
    "05",
    "",
    "1e3",
    "0x10",
    "٣",  # ARABIC-INDIC DIGIT THREE: int() accepts it
    "５",  # FULLWIDTH DIGIT FIVE
    "abc",
]

QUERY_STAFF_MEMBER = "query($id: ID!) { staffMember(id: $id) { id } }"
QUERY_DEPARTMENT = "query($id: ID!) { department(id: $id) { id } }"
QUERY_STAFF_IN_DEPARTMENT = "query($id: ID) { staff(departmentId: $id, first: 5) { totalCount } }"
QUERY_STAFF_AFTER = "query($after: String) { staff(first: 5, after: $after) { totalCount edges { cursor } } }"
QUERY_DEPARTMENTS_AFTER = "query($after: String) { departments(first: 5, after: $after) { totalCount } }"


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert not any((body.get("data") or {}).values()), body
    [error] = body["errors"]
    return dict(error)


@pytest.mark.parametrize("value", NOT_IDS)
@pytest.mark.parametrize(
    ("query", "argument"),
    [(QUERY_STAFF_MEMBER, "id"), (QUERY_DEPARTMENT, "id"), (QUERY_STAFF_IN_DEPARTMENT, "departmentId")],
)
async def test_an_id_that_is_not_canonical_or_out_of_range_is_bad_user_input(
    client: Any, query: str, argument: str, value: str
) -> None:
    error = only_error(await client.execute(query, {"id": value}))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == argument


async def test_an_out_of_range_id_written_as_an_int_literal_is_bad_user_input(client: Any) -> None:
    error = only_error(await client.execute("{ staffMember(id: 3000000000) { id } }"))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_largest_id_is_accepted_and_finds_nothing(client: Any) -> None:
    data = await client.query(QUERY_STAFF_MEMBER, {"id": LARGEST_ID})
    assert data == {"staffMember": None}
    assert await client.query(QUERY_DEPARTMENT, {"id": LARGEST_ID}) == {"department": None}
    assert await client.query(QUERY_STAFF_IN_DEPARTMENT, {"id": LARGEST_ID}) == {"staff": {"totalCount": 0}}


async def test_a_cursor_at_the_largest_id_gives_an_empty_page(client: Any, raw_rows: Any) -> None:
    active = await raw_rows("SELECT COUNT(*) AS n FROM staff WHERE active = :yes", yes=True)
    data = await client.query(QUERY_STAFF_AFTER, {"after": cursor(f"staff:{LARGEST_ID}")})
    assert data == {"staff": {"totalCount": active[0]["n"], "edges": []}}


@pytest.mark.parametrize(
    "after",
    [
        cursor("staff:2147483648"),
        cursor("staff:3000000000"),
        cursor("staff:0"),
        cursor("staff:-1"),
        cursor("staff:+5"),
        cursor("staff: 5"),
        cursor("staff:05"),
        cursor("staff:1_0"),
        cursor("staff:٣"),
        cursor("staff:"),
        cursor("staff"),
        cursor("department:5"),
        cursor("staff:5") + "!",  # base64 decoding alone would skip the stray character
        cursor("staff:5").rstrip("="),
        "not-a-cursor",
        "",
    ],
)
async def test_a_cursor_we_did_not_issue_is_bad_user_input(client: Any, after: str) -> None:
    error = only_error(await client.execute(QUERY_STAFF_AFTER, {"after": after}))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == "after"


async def test_a_department_cursor_beyond_the_range_is_bad_user_input(client: Any) -> None:
    error = only_error(await client.execute(QUERY_DEPARTMENTS_AFTER, {"after": cursor("department:3000000000")}))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_issued_cursors_still_work(client: Any, raw_rows: Any) -> None:
    ids = [r["id"] for r in await raw_rows("SELECT id FROM staff WHERE active = :yes ORDER BY id", yes=True)]
    first = (await client.query(QUERY_STAFF_AFTER))["staff"]["edges"]
    assert first[-1]["cursor"] == cursor(f"staff:{ids[4]}")
    after = (await client.query(QUERY_STAFF_AFTER, {"after": first[-1]["cursor"]}))["staff"]["edges"]
    assert [e["cursor"] for e in after] == [cursor(f"staff:{i}") for i in ids[5:10]]
