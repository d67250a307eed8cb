"""Departments and single staff members by id."""

from __future__ import annotations

from typing import Any

QUERY_DEPARTMENT = """
query($id: ID!) { department(id: $id) { id code name location description
  registrationLink { kind target departmentId staffId } } }
"""
QUERY_STAFF_MEMBER = """
query($id: ID!) { staffMember(id: $id) { id name title specialties department { id name }
  registrationLink { target departmentId staffId } } }
"""


async def test_department_by_id(client: Any, raw_rows: Any) -> None:
    [row] = await raw_rows("SELECT * FROM departments WHERE id = 5")
    department = (await client.query(QUERY_DEPARTMENT, {"id": "5"}))["department"]
    assert department == {
        "id": "5",
        "code": row["code"],
        "name": row["name"],
        "location": row["location"],
        "description": row["description"],
        "registrationLink": {
            "kind": "MINI_PROGRAM_PAGE",
            "target": row["registration_target"],
            "departmentId": "5",
            "staffId": None,
        },
    }


async def test_unknown_department_is_null(client: Any) -> None:
    assert (await client.query(QUERY_DEPARTMENT, {"id": "999999"}))["department"] is None


async def test_malformed_id_is_bad_input(client: Any) -> None:
    assert await client.error_codes(QUERY_DEPARTMENT, {"id": "五"}) == ["BAD_USER_INPUT"]
    assert await client.error_codes(QUERY_DEPARTMENT, {"id": "-3"}) == ["BAD_USER_INPUT"]


async def test_departments_list_is_complete(client: Any, raw_rows: Any) -> None:
    names = [r["name"] for r in await raw_rows("SELECT name FROM departments ORDER BY id")]
    page = (await client.query("{ departments(first: 50) { totalCount nodes { name } } }"))["departments"]
    assert page["totalCount"] == len(names) == 30
    assert [n["name"] for n in page["nodes"]] == names


async def test_staff_member_by_id(client: Any, raw_rows: Any) -> None:
    [row] = await raw_rows(
        "SELECT s.id, s.name, s.title, s.registration_target, d.id AS dept_id, d.name AS dept "
        "FROM staff s JOIN departments d ON d.id = s.department_id WHERE s.id = 42"
    )
    member = (await client.query(QUERY_STAFF_MEMBER, {"id": "42"}))["staffMember"]
    assert (member["name"], member["title"], member["department"]["name"]) == (row["name"], row["title"], row["dept"])
    assert member["registrationLink"] == {
        "target": row["registration_target"],
        "departmentId": str(row["dept_id"]),
        "staffId": "42",
    }
    assert member["specialties"]
    assert (await client.query(QUERY_STAFF_MEMBER, {"id": "100000"}))["staffMember"] is None
