"""The SQL boards agree with the plain-Python reference on generated consults (both databases).

Hypothesis draws the consults, the clock and the parameters, with times gathered around every
boundary that matters (Asia/Shanghai month starts, the ends of the windows, the same point of last
month) and many duplicates, so that ties are common. Scores compare within two rounding steps
(2e-6): SQLite measures ages through julianday(), whose resolution is a few tens of microseconds, so
a score's sixth decimal can round differently there than in Python or PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ranking_reference import ConsultRow, Params, Place, all_boards, growth_bounds, last_month_bounds
from ranking_support import DEPARTMENTS, STAFF, SUBJECTS, TEAMS, busy_year, replace_consults, sql_board
from sqlalchemy.ext.asyncio import AsyncEngine

from datasources.db.rankings import ComputedEntry
from domain.rankings import ALL_BOARDS, RankingBoard

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOLERANCE = 2e-6  # one rounding step (1e-6) plus the last bits of two databases

# Clocks worth testing: mid-month, the first minutes of a month in Shanghai (still the previous
# month in UTC), the last minute of a month, the end of March (February is shorter), New Year.
NOWS = [
    datetime(2026, 11, 15, 4, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 0, 30, tzinfo=SHANGHAI).astimezone(UTC),
    datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI).astimezone(UTC),
    datetime(2026, 10, 31, 23, 59, tzinfo=SHANGHAI).astimezone(UTC),
    datetime(2026, 3, 31, 10, 0, tzinfo=SHANGHAI).astimezone(UTC),
    datetime(2027, 1, 1, 8, 0, tzinfo=SHANGHAI).astimezone(UTC),
]


def _boundaries(now: datetime) -> list[datetime]:
    """Instants next to which a consult lands on one side of a window or the other."""
    start, end, _ = last_month_bounds(now, SHANGHAI)
    this_start, _, before_start, before_end = growth_bounds(now, SHANGHAI)
    edges = [start, end, this_start, before_start, before_end, now - timedelta(days=7), now - timedelta(days=90)]
    return [
        edge + timedelta(seconds=delta)
        for edge in edges
        for delta in (-1, 0, 1)
        if edge + timedelta(seconds=delta) < now
    ]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[datetime, Params, list[ConsultRow]]:
    now = draw(st.sampled_from(NOWS))
    special = _boundaries(now)
    # Few distinct instants, so that equal counts and equal weights (ties) happen often.
    pool = draw(
        st.lists(
            st.one_of(
                st.sampled_from(special),
                st.integers(min_value=1, max_value=100 * 86400).map(lambda s: now - timedelta(seconds=s)),
            ),
            min_size=1,
            max_size=12,
        )
    )
    params = Params(
        staff_roles=draw(st.sampled_from([("DOCTOR",), ("DOCTOR", "NURSE")])),
        min_reviews_for_rate=draw(st.integers(1, 3)),
        decay_days=draw(st.sampled_from([3.0, 1.5])),
        growth_min_consults=draw(st.integers(1, 4)),
        growth_floor=draw(st.sampled_from([1, 2, 10])),
        team_min_reviews=draw(st.integers(1, 3)),
        prior_weight=draw(st.sampled_from([20.0, 2.0])),
    )
    rows = []
    for _ in range(draw(st.integers(0, 60))):
        team = draw(st.one_of(st.none(), st.sampled_from(sorted(TEAMS))))
        staff = None if team else draw(st.sampled_from(sorted(STAFF)))
        home = TEAMS[team][0] if team else STAFF[staff or 1][0]
        # Now and then a consult from before a move to another department.
        department = draw(st.one_of(st.just(home), st.sampled_from(sorted(DEPARTMENTS))))
        status = draw(st.sampled_from(["COMPLETED", "COMPLETED", "COMPLETED", "REFUNDED", "PAID", "CANCELLED"]))
        paid = None if status == "CANCELLED" else draw(st.sampled_from(pool))
        completed = rating = reviewed = None
        if status == "COMPLETED":
            assert paid is not None
            completed = min(now - timedelta(seconds=1), paid + timedelta(minutes=draw(st.integers(0, 3000))))
            completed = draw(st.one_of(st.just(completed), st.sampled_from(pool)))
            if draw(st.booleans()):
                rating = draw(st.integers(1, 5))
                reviewed = draw(
                    st.one_of(st.just(completed), st.sampled_from(special), st.just(now - timedelta(seconds=1)))
                )
        rows.append(ConsultRow(staff, team, department, status, paid, completed, rating, reviewed))
    return now, params, rows


def _assert_agrees(board: RankingBoard, got: list[ComputedEntry], expected: list[Place], size: int) -> None:
    """Same subjects in the same order with the same inputs; only scores within TOLERANCE of each
    other may trade places (a rounding step can fall between two databases' last digits)."""
    by_subject = {place.subject_id: place for place in expected}
    assert len(got) == min(size, len(expected)), (board, got, expected[:size])
    for position, (entry, want) in enumerate(zip(got, expected, strict=False), start=1):
        assert entry.rank == position
        mine = by_subject.get(entry.subject_id)
        assert mine is not None, f"{board}: subject {entry.subject_id} is not eligible"
        assert abs(entry.score - mine.score) <= TOLERANCE, (board, entry, mine)
        for key, value in mine.inputs.items():
            if isinstance(value, float):
                assert abs(entry.inputs[key] - value) <= TOLERANCE, (board, key, entry, mine)
            else:
                assert entry.inputs[key] == value, (board, key, entry, mine)
        if entry.subject_id != want.subject_id:
            assert abs(mine.score - want.score) <= TOLERANCE, f"{board} #{position}: {entry} instead of {want}"


async def _check(engine: AsyncEngine, now: datetime, params: Params, rows: list[ConsultRow]) -> None:
    await replace_consults(engine, rows)
    expected = all_boards(rows, SUBJECTS, now, params)
    for board in ALL_BOARDS:
        everything = await sql_board(engine, board, now, params, size=1000)
        _assert_agrees(board, everything, expected[board.value], 1000)
        top = await sql_board(engine, board, now, params)
        size = 5 if board in (RankingBoard.GOLD_DEPARTMENTS, RankingBoard.GOLD_STAFF) else 3
        assert top == everything[:size], "the board is the first entries of the full ranking"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
async def test_sql_boards_agree_with_the_reference(
    ranking_engine: AsyncEngine, scenario: tuple[datetime, Params, list[ConsultRow]]
) -> None:
    now, params, rows = scenario
    await _check(ranking_engine, now, params, rows)


async def test_sql_boards_agree_with_the_reference_on_a_busy_year(ranking_engine: AsyncEngine) -> None:
    """Default parameters and realistic volumes (thousands of consults, every threshold reached)."""
    now = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)
    rows = busy_year(now)
    await _check(ranking_engine, now, Params(), rows)
    expected = all_boards(rows, SUBJECTS, now, Params())
    assert all(len(expected[board]) >= 3 for board in ("FASTEST_GROWTH", "DOCTOR_POPULARITY", "GOLD_STAFF"))
    assert len(expected["BEST_TEAM"]) == 2, "both active teams have enough reviews"
