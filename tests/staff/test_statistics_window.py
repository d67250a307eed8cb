"""The edges of the statistics window: a response exactly at its start is outside, one just after
is inside, and responses or consults after now (the test clock) do not count yet."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert

from datasources.db.tables import Consult
from domain.enums import ConsultService, ConsultStatus
from support import ANCHOR, parse_time

WINDOW = timedelta(days=30)  # STATS_WINDOW_DAYS: 30 periods of 24 hours
SINCE = ANCHOR - WINDOW
QUERY_STATS = """
query($id: ID!) {
  staffMember(id: $id) {
    stats { windowDays acceptedRecent acceptedAllTime reviewCount positiveReviewCount avgResponseMinutes }
  }
}
"""


def consult(
    staff_id: int, department_id: int, *, created: datetime, response: datetime, rating: int | None = None
) -> dict[str, Any]:
    paid = created + timedelta(minutes=1)
    done = response <= ANCHOR
    return {
        "service": ConsultService.FOLLOW_UP,
        "patient_id": 1,
        "staff_id": staff_id,
        "department_id": department_id,
        "status": ConsultStatus.COMPLETED if done else ConsultStatus.PAID,
        "price_cents": 2000,
        "created_at": created,
        "paid_at": paid,
        # A response after now is one the clock has not reached: recorded ahead, as in a clock skew.
        "first_response_at": response,
        "rating": rating,
    }


def edge_consults(staff_id: int, department_id: int) -> list[dict[str, Any]]:
    """Four consults of one staff member at the edges of the window and of now."""
    return [
        # responded exactly at the start of the window: all time only
        consult(staff_id, department_id, created=SINCE - timedelta(minutes=20), response=SINCE),
        # responded one second into the window: recent and all time
        consult(staff_id, department_id, created=SINCE - timedelta(minutes=9), response=SINCE + timedelta(seconds=1)),
        # created before now, its first response after now: not responded to yet
        consult(staff_id, department_id, created=ANCHOR - timedelta(minutes=30), response=ANCHOR + timedelta(hours=1)),
        # created after now (with a review): does not exist yet
        consult(
            staff_id,
            department_id,
            created=ANCHOR + timedelta(hours=1),
            response=ANCHOR + timedelta(hours=1, minutes=5),
            rating=1,
        ),
    ]


async def _expected(raw_rows: Any, staff_id: int) -> dict[str, Any]:
    """The definitions in plain Python over every consult row of the staff member."""
    rows = await raw_rows(
        "SELECT created_at, paid_at, first_response_at, rating FROM consults WHERE staff_id = :id", id=staff_id
    )
    recent = every = reviews = positive = 0
    waits: list[float] = []
    for row in rows:
        created = parse_time(row["created_at"])
        if created is None or created > ANCHOR:
            continue  # not created yet
        responded, paid = parse_time(row["first_response_at"]), parse_time(row["paid_at"])
        if responded is not None and responded <= ANCHOR:
            every += 1
            if responded > SINCE:
                recent += 1
                if paid is not None:
                    waits.append((responded - paid).total_seconds() / 60)
        if row["rating"] is not None:
            reviews += 1
            positive += row["rating"] >= 4
    return {
        "windowDays": 30,
        "acceptedRecent": recent,
        "acceptedAllTime": every,
        "reviewCount": reviews,
        "positiveReviewCount": positive,
        "avgResponseMinutes": sum(waits) / len(waits) if waits else None,
    }


async def test_the_window_edges_and_the_future_count_as_defined(client: Any, raw_rows: Any, app: Any) -> None:
    # given: an active staff member's statistics, then four consults at the edges
    [member] = await raw_rows("SELECT id, department_id FROM staff WHERE active ORDER BY id LIMIT 1")
    variables = {"id": str(member["id"])}
    before = (await client.query(QUERY_STATS, variables))["staffMember"]["stats"]
    engine = app.state.resources.engine
    async with engine.begin() as conn:
        rows = edge_consults(member["id"], member["department_id"])
        ids = list((await conn.execute(insert(Consult).returning(Consult.id), rows)).scalars())
    try:
        # when
        stats = (await client.query(QUERY_STATS, variables))["staffMember"]["stats"]
        expected = await _expected(raw_rows, member["id"])
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(Consult).where(Consult.id.in_(ids)))
    # then: the definitions, computed independently
    assert stats == {**expected, "avgResponseMinutes": pytest.approx(expected["avgResponseMinutes"], abs=0.051)}
    # and exactly the one-second-inside consult is recent; the one at the start counts all time only
    assert stats["acceptedRecent"] == before["acceptedRecent"] + 1
    assert stats["acceptedAllTime"] == before["acceptedAllTime"] + 2
    assert (stats["reviewCount"], stats["positiveReviewCount"]) == (
        before["reviewCount"],
        before["positiveReviewCount"],
    )
