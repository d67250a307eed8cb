"""The edge cases of the ranking definitions, one scenario each, on SQLite and PostgreSQL.

Every scenario is also checked against the plain-Python reference, so the two readings of the
definitions agree on exactly these cases too.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ranking_reference import ConsultRow, Params, all_boards
from ranking_support import SUBJECTS, consult, replace_consults, sql_board
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.rankings import RankingBoard

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)  # 12:00 on 15 November in Shanghai
IN_OCTOBER = datetime(2026, 10, 12, 9, 0, tzinfo=SHANGHAI)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


async def board(
    engine: AsyncEngine, which: RankingBoard, rows: list[ConsultRow], now: datetime = NOW, p: Params | None = None
) -> list[tuple[int, float]]:
    """(subject, score) of the board over `rows`, after checking the reference says the same."""
    p = p or Params()
    await replace_consults(engine, rows)
    got = await sql_board(engine, which, now, p)
    expected = all_boards(rows, SUBJECTS, now, p)[which.value]
    assert [e.subject_id for e in got] == [x.subject_id for x in expected[: len(got)]]
    assert len(got) == min(len(expected), 5 if which.value.startswith("GOLD") else 3)
    return [(e.subject_id, e.score) for e in got]


def completed_in_october(n: int, **kw: object) -> list[ConsultRow]:
    return [consult(completed=IN_OCTOBER + timedelta(minutes=i), **kw) for i in range(n)]  # type: ignore[arg-type]


# ---- a month with no data; fewer subjects than places -----------------------------------------


async def test_a_month_without_consults_gives_empty_gold_boards(ranking_engine: AsyncEngine) -> None:
    # given: consults, but none completed last month (October)
    rows = [consult(staff=1, completed=local(2026, 11, 3, 10, 0)), consult(staff=2, completed=local(2026, 9, 3, 10))]
    # then
    assert await board(ranking_engine, RankingBoard.GOLD_DEPARTMENTS, rows) == []
    assert await board(ranking_engine, RankingBoard.GOLD_STAFF, rows) == []


async def test_fewer_eligible_subjects_than_places_gives_a_shorter_board(ranking_engine: AsyncEngine) -> None:
    rows = completed_in_october(3, staff=1) + completed_in_october(1, staff=3)
    assert await board(ranking_engine, RankingBoard.GOLD_STAFF, rows) == [(1, 3.0), (3, 1.0)]
    assert await board(ranking_engine, RankingBoard.GOLD_DEPARTMENTS, rows) == [(1, 3.0), (2, 1.0)]
    recent = [consult(staff=4, paid=NOW - timedelta(days=1), status="PAID")]
    assert [s for s, _ in await board(ranking_engine, RankingBoard.DOCTOR_POPULARITY, recent)] == [4]


# ---- ties -------------------------------------------------------------------------------------


async def test_gold_ties_go_to_the_better_positive_rate_then_the_lower_id(ranking_engine: AsyncEngine) -> None:
    # given: staff 1, 2, 3, 4 and 5 with six completed consults each
    rows = (
        completed_in_october(6, staff=1, rating=3)  # 0 % positive of 6 reviews
        + completed_in_october(6, staff=2, rating=5)  # 100 % of 6
        + completed_in_october(6, staff=3)  # no reviews: no rate, after every known rate
        + completed_in_october(5, staff=4, rating=4)
        + completed_in_october(1, staff=4, rating=1)  # 5 of 6 positive
        + completed_in_october(2, staff=5, rating=5)
        + completed_in_october(4, staff=5)  # 2 reviews: too few for a rate, like no reviews
    )
    # then
    assert [s for s, _ in await board(ranking_engine, RankingBoard.GOLD_STAFF, rows)] == [2, 4, 1, 3, 5]


async def test_popularity_ties_go_to_more_consults_then_the_lower_id(ranking_engine: AsyncEngine) -> None:
    # given: the same consult times for staff 4 and 2; staff 3 has one more, older consult
    times = [NOW - timedelta(hours=h) for h in (2, 30, 70)]
    rows = [consult(staff=s, paid=at, status="PAID") for s in (4, 2) for at in times]
    rows += [consult(staff=3, paid=at, status="PAID") for at in times]
    rows.append(consult(staff=3, paid=NOW - timedelta(days=6, hours=23), status="PAID"))
    # then
    ranked = await board(ranking_engine, RankingBoard.DOCTOR_POPULARITY, rows)
    assert [s for s, _ in ranked] == [3, 2, 4]
    assert ranked[1][1] == ranked[2][1], "equal weights sum to exactly the same score"


async def test_growth_ties_go_to_more_consults_this_month(ranking_engine: AsyncEngine) -> None:
    # given: staff 1 grows 10 → 20 (+100%) and staff 2 grows 15 → 30 (+100%), over the same days
    p = Params(growth_min_consults=5)

    def stretch(staff: int, before: int, now: int) -> list[ConsultRow]:
        return [consult(staff=staff, paid=local(2026, 10, 5, 9, i), status="PAID") for i in range(before)] + [
            consult(staff=staff, paid=local(2026, 11, 5, 9, i), status="PAID") for i in range(now)
        ]

    rows = stretch(1, 10, 20) + stretch(2, 15, 30)
    # then
    assert await board(ranking_engine, RankingBoard.FASTEST_GROWTH, rows, p=p) == [(2, 1.0), (1, 1.0)]


async def test_team_ties_go_to_more_reviews(ranking_engine: AsyncEngine) -> None:
    # given: both teams rate a perfect 4.5 on average with everything completed; team 2 has more reviews
    p = Params(team_min_reviews=2)
    at = NOW - timedelta(days=10)
    rows = [consult(team=1, completed=at, rating=r) for r in (4, 5)]
    rows += [consult(team=2, completed=at, rating=r) for r in (4, 5, 4, 5)]
    # then
    assert await board(ranking_engine, RankingBoard.BEST_TEAM, rows, p=p) == [(2, 4.5), (1, 4.5)]


# ---- staff who moved or left; who is ranked ----------------------------------------------------


async def test_a_moved_staff_members_consults_stay_with_the_department_they_were_in(
    ranking_engine: AsyncEngine,
) -> None:
    # given: staff 1 (now in department 1) took four consults while still in department 3
    rows = completed_in_october(4, staff=1, department=3) + completed_in_october(2, staff=1)
    rows += completed_in_october(3, staff=3)
    # then: the department board follows the consults, the staff board follows the person
    assert await board(ranking_engine, RankingBoard.GOLD_DEPARTMENTS, rows) == [(3, 4.0), (2, 3.0), (1, 2.0)]
    assert await board(ranking_engine, RankingBoard.GOLD_STAFF, rows) == [(1, 6.0), (3, 3.0)]


async def test_staff_who_left_are_not_ranked_and_the_next_moves_up(ranking_engine: AsyncEngine) -> None:
    # given: staff 7 has left after the busiest month of all
    rows = completed_in_october(9, staff=7) + completed_in_october(2, staff=8)
    # then: not on the staff boards; their consults still count for their department
    assert await board(ranking_engine, RankingBoard.GOLD_STAFF, rows) == [(8, 2.0)]
    assert await board(ranking_engine, RankingBoard.GOLD_DEPARTMENTS, rows) == [(4, 11.0)]
    recent = [consult(staff=7, paid=NOW - timedelta(hours=1), status="PAID")]
    assert await board(ranking_engine, RankingBoard.DOCTOR_POPULARITY, recent) == []


async def test_only_the_configured_roles_are_ranked(ranking_engine: AsyncEngine) -> None:
    rows = completed_in_october(3, staff=6) + completed_in_october(1, staff=5)  # 6 is a nurse
    assert await board(ranking_engine, RankingBoard.GOLD_STAFF, rows) == [(5, 1.0)]
    with_nurses = Params(staff_roles=("DOCTOR", "NURSE"))
    assert await board(ranking_engine, RankingBoard.GOLD_STAFF, rows, p=with_nurses) == [(6, 3.0), (5, 1.0)]


# ---- teams --------------------------------------------------------------------------------------


async def test_a_team_with_too_few_reviews_is_not_ranked(ranking_engine: AsyncEngine) -> None:
    at = NOW - timedelta(days=20)
    rows = [consult(team=1, completed=at, rating=5) for _ in range(9)]  # one short of 10
    rows += [consult(team=2, completed=at, rating=4) for _ in range(10)]
    rows += [consult(team=3, completed=at, rating=5) for _ in range(30)]  # a team that was dissolved
    ranked = await board(ranking_engine, RankingBoard.BEST_TEAM, rows)
    # (4.5 × 20 + 40) / (20 + 10) = 4.333333, all completed
    assert ranked == [(2, round(130 / 30, 6))]


async def test_refunds_lower_a_teams_completion_rate(ranking_engine: AsyncEngine) -> None:
    at = NOW - timedelta(days=20)
    rows = [consult(team=1, completed=at, rating=5) for _ in range(10)]
    rows += [consult(team=1, status="REFUNDED", paid=at) for _ in range(2)]
    rows += [consult(team=1, status="PAID", paid=NOW - timedelta(hours=1))]  # still open: not counted
    ranked = await board(ranking_engine, RankingBoard.BEST_TEAM, rows)
    assert ranked == [(1, round((90 + 50) / 30 * 10 / 12, 6))]


# ---- periods: Asia/Shanghai months, the first days of a month, decay ------------------------------


async def test_the_month_ends_at_midnight_in_shanghai_not_in_utc(ranking_engine: AsyncEngine) -> None:
    rows = [
        # 1 November 00:30 in Shanghai, still 31 October in UTC: a November consult
        consult(staff=1, completed=datetime(2026, 10, 31, 16, 30, tzinfo=UTC)),
        # 1 October 00:30 in Shanghai, 30 September in UTC: an October consult
        consult(staff=2, completed=datetime(2026, 9, 30, 16, 30, tzinfo=UTC)),
        # 31 October 23:59 in Shanghai: October
        consult(staff=3, completed=datetime(2026, 10, 31, 15, 59, tzinfo=UTC)),
    ]
    assert await board(ranking_engine, RankingBoard.GOLD_STAFF, rows) == [(2, 1.0), (3, 1.0)]
    # at 00:30 on 1 November in Shanghai October is complete, although UTC is still in October
    just_after = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
    assert await board(ranking_engine, RankingBoard.GOLD_STAFF, rows, now=just_after) == [(2, 1.0), (3, 1.0)]
    # at 23:59 on 31 October in Shanghai the complete month is September
    assert (
        await board(ranking_engine, RankingBoard.GOLD_STAFF, rows, now=datetime(2026, 10, 31, 15, 59, 30, tzinfo=UTC))
        == []
    )


async def test_growth_in_the_first_days_compares_the_same_stretch_of_last_month(ranking_engine: AsyncEngine) -> None:
    # given: 10:00 on 2 November; last month counts up to 10:00 on 2 October
    now = local(2026, 11, 2, 10, 0).astimezone(UTC)
    p = Params(growth_min_consults=2, growth_floor=1)
    rows = [consult(staff=1, paid=local(2026, 11, 1, 8, 0), status="PAID") for _ in range(4)]
    rows += [consult(staff=1, paid=local(2026, 10, 2, 9, 59), status="PAID") for _ in range(2)]  # same stretch
    rows += [consult(staff=1, paid=local(2026, 10, 2, 10, 0), status="PAID") for _ in range(5)]  # later: not
    # then: (4 − 2) / max(2, 1)
    assert await board(ranking_engine, RankingBoard.FASTEST_GROWTH, rows, now=now, p=p) == [(1, 1.0)]


async def test_growth_at_the_end_of_march_compares_with_all_of_february(ranking_engine: AsyncEngine) -> None:
    now = local(2026, 3, 31, 10, 0).astimezone(UTC)
    p = Params(growth_min_consults=1, growth_floor=1)
    rows = [consult(staff=1, paid=local(2026, 3, 30, 8, 0), status="PAID") for _ in range(3)]
    rows.append(consult(staff=1, paid=local(2026, 2, 28, 23, 0), status="PAID"))  # the last hour of February
    rows.append(consult(staff=1, paid=local(2026, 1, 31, 23, 0), status="PAID"))  # January: not compared
    assert await board(ranking_engine, RankingBoard.FASTEST_GROWTH, rows, now=now, p=p) == [(1, 2.0)]


async def test_staff_with_too_few_consults_this_month_are_not_ranked_for_growth(ranking_engine: AsyncEngine) -> None:
    rows = [consult(staff=1, paid=local(2026, 11, 3, 9, i), status="PAID") for i in range(19)]
    rows += [consult(staff=2, paid=local(2026, 11, 3, 9, i), status="PAID") for i in range(20)]
    assert await board(ranking_engine, RankingBoard.FASTEST_GROWTH, rows) == [(2, 2.0)]  # (20 − 0) / max(0, 10)


async def test_popularity_weighs_each_consult_by_its_age(ranking_engine: AsyncEngine) -> None:
    rows = [
        consult(staff=1, paid=NOW - timedelta(days=3), status="PAID"),  # e^-1
        consult(staff=1, paid=NOW - timedelta(days=6), status="COMPLETED", completed=NOW - timedelta(days=5)),
        consult(staff=1, paid=NOW - timedelta(days=1), status="REFUNDED"),  # refunded: not counted
        consult(staff=1, paid=NOW - timedelta(days=7, seconds=1), status="PAID"),  # older than 7 days
        consult(staff=1, status="CANCELLED"),  # never paid
    ]
    [(subject, heat)] = await board(ranking_engine, RankingBoard.DOCTOR_POPULARITY, rows)
    assert subject == 1
    assert abs(heat - (math.exp(-1) + math.exp(-2))) < 1e-6


async def test_reviews_after_the_month_do_not_change_a_past_gold_board(ranking_engine: AsyncEngine) -> None:
    # given: equal counts; staff 2's five good reviews arrive in November, staff 1's bad ones in October
    rows = [consult(staff=1, completed=IN_OCTOBER, rating=1) for _ in range(5)]
    rows += [consult(staff=2, completed=IN_OCTOBER, rating=5, reviewed=local(2026, 11, 2, 9, 0)) for _ in range(5)]
    # then: at the time, staff 1 had a (poor) rate and staff 2 none, which sorts last
    assert [s for s, _ in await board(ranking_engine, RankingBoard.GOLD_STAFF, rows)] == [1, 2]


# ---- e-banners and thank-you letters count towards 医生热度 ----------------------------------------


async def test_published_banners_and_letters_add_to_doctor_popularity(ranking_engine: AsyncEngine) -> None:
    from sqlalchemy import delete, insert, select

    from datasources.db import tables as t

    # given: doctor 1 has one consult paid a day ago; doctor 3 has none, but two published appreciations
    # (one and two days old), one still pending, and one published eight days ago (outside the window)
    unpaid = consult(staff=3, status="CANCELLED")  # what the appreciations thank for; not counted themselves
    await replace_consults(ranking_engine, [consult(staff=1, paid=NOW - timedelta(days=1)), unpaid, unpaid])
    async with ranking_engine.begin() as conn:
        await conn.execute(delete(t.Appreciation))
        await conn.execute(delete(t.PatientAccount).where(t.PatientAccount.openid == "ranking-thanks"))
        account = await conn.scalar(
            insert(t.PatientAccount).values(openid="ranking-thanks", created_at=NOW).returning(t.PatientAccount.id)
        )
        first, second = (await conn.scalars(select(t.Consult.id).where(t.Consult.staff_id == 3))).all()

        def thanks(kind: str, status: str, published: datetime | None, consult_id: int) -> dict[str, object]:
            return {
                "kind": kind,
                "design": "CLASSIC_RED" if kind == "BANNER" else None,
                "consult_id": consult_id,
                "account_id": account,
                "staff_id": 3,
                "text": "谢谢医生",
                "signature": "王**",
                "status": status,
                "created_at": NOW - timedelta(days=9),
                "published_at": published,
            }

        await conn.execute(
            insert(t.Appreciation),
            [
                thanks("BANNER", "PUBLISHED", NOW - timedelta(days=1), first),
                thanks("LETTER", "PUBLISHED", NOW - timedelta(days=2), first),
                thanks("LETTER", "PENDING", None, second),
                thanks("BANNER", "PUBLISHED", NOW - timedelta(days=8), second),
            ],
        )
    try:
        # when
        entries = await sql_board(ranking_engine, RankingBoard.DOCTOR_POPULARITY, NOW, Params())
        # then: each published one in the window weighs exp(−age/3) like a consult
        by_subject = {e.subject_id: e for e in entries}
        assert abs(by_subject[3].score - (math.exp(-1 / 3) + math.exp(-2 / 3))) < 1e-5
        assert by_subject[3].inputs["appreciations"] == 2 and by_subject[3].inputs["consults"] == 0
        assert abs(by_subject[1].score - math.exp(-1 / 3)) < 1e-5
        assert [e.subject_id for e in entries] == [3, 1]
    finally:
        async with ranking_engine.begin() as conn:
            await conn.execute(delete(t.Appreciation))
            await conn.execute(delete(t.PatientAccount).where(t.PatientAccount.openid == "ranking-thanks"))
