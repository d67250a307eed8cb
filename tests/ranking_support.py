"""A small hospital for the ranking tests: four departments, eight staff, three teams, and consults
written exactly as a test describes them (on a database of their own, SQLite or PostgreSQL)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ranking_reference import ConsultRow, Params, Subjects
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from datasources.db import tables as t
from datasources.db.engine import session_factory
from datasources.db.rankings import ComputedEntry, compute_board
from domain.enums import ConsultService, LinkKind, StaffRole
from domain.rankings import RankingBoard, RankingRules, current_window

DEPARTMENTS = {1: "心血管内科", 2: "神经内科", 3: "内分泌科", 4: "全科医学科"}
# id -> (department, role, active)
STAFF = {
    1: (1, StaffRole.DOCTOR, True),
    2: (1, StaffRole.DOCTOR, True),
    3: (2, StaffRole.DOCTOR, True),
    4: (2, StaffRole.DOCTOR, True),
    5: (3, StaffRole.DOCTOR, True),
    6: (3, StaffRole.NURSE, True),  # not ranked by default (the staff boards rank doctors)
    7: (4, StaffRole.DOCTOR, False),  # has left the hospital
    8: (4, StaffRole.DOCTOR, True),
}
# id -> (department, leader, active)
TEAMS = {1: (1, 1, True), 2: (2, 7, True), 3: (3, 5, False)}  # team 2's leader has left

UNPAID_CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)

SUBJECTS = Subjects(
    staff={i: (role.value, active) for i, (_, role, active) in STAFF.items()},
    teams={i: active for i, (_, _, active) in TEAMS.items()},
)


async def build_world(engine: AsyncEngine) -> None:
    """Empty every table the rankings read or write, then add the departments, staff and teams."""
    async with engine.begin() as conn:
        for model in (t.RankingEntry, t.RankingSnapshot, t.Consult, t.TeamMember, t.Team, t.Staff, t.Department):
            await conn.execute(delete(model))
        await conn.execute(
            insert(t.Department),
            [
                {"id": i, "code": f"D{i}", "name": name, "registration_target": f"/pages/registration/department?d={i}"}
                for i, name in DEPARTMENTS.items()
            ],
        )
        await conn.execute(
            insert(t.Staff),
            [
                {
                    "id": i,
                    "code": f"S{i}",
                    "name": f"医生{i}",
                    "role": role,
                    "title": "主治医师",
                    "department_id": dept,
                    "active": active,
                    "registration_kind": LinkKind.MINI_PROGRAM_PAGE,
                    "registration_target": f"/pages/registration/doctor?s={i}",
                }
                for i, (dept, role, active) in STAFF.items()
            ],
        )
        await conn.execute(
            insert(t.Team),
            [
                {"id": i, "name": f"团队{i}", "department_id": dept, "leader_id": leader, "active": active}
                for i, (dept, leader, active) in TEAMS.items()
            ],
        )


async def replace_consults(engine: AsyncEngine, rows: Sequence[ConsultRow]) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(t.Consult))
        if rows:
            await conn.execute(insert(t.Consult), [_consult(r) for r in rows])


def _consult(r: ConsultRow) -> dict[str, Any]:
    created = (r.paid_at or r.completed_at or UNPAID_CREATED_AT) - timedelta(minutes=1)
    return {
        "service": ConsultService.TEAM if r.team_id else ConsultService.FOLLOW_UP,
        "patient_id": 1,
        "staff_id": r.staff_id,
        "team_id": r.team_id,
        "department_id": r.department_id,
        "status": r.status,
        "price_cents": 2000,
        "created_at": created,
        "paid_at": r.paid_at,
        "first_response_at": r.paid_at,
        "completed_at": r.completed_at,
        "rating": r.rating,
        "reviewed_at": r.reviewed_at,
    }


def rules_for(p: Params) -> RankingRules:
    """The application's rules with the same parameters as the reference's."""
    return RankingRules(
        timezone=p.timezone,
        staff_roles=tuple(StaffRole(r) for r in p.staff_roles),
        min_reviews_for_rate=p.min_reviews_for_rate,
        popularity_days=p.popularity_days,
        decay_days=p.decay_days,
        growth_min_consults=p.growth_min_consults,
        growth_floor=p.growth_floor,
        team_days=p.team_days,
        team_prior_mean=p.prior_mean,
        team_prior_weight=p.prior_weight,
        team_min_reviews=p.team_min_reviews,
    )


async def sql_board(
    engine: AsyncEngine, board: RankingBoard, now: datetime, p: Params, size: int | None = None
) -> list[ComputedEntry]:
    rules = rules_for(p)
    async with session_factory(engine)() as db:
        return await compute_board(db, window=current_window(board, now, rules), rules=rules, size=size)


def consult(
    *,
    staff: int | None = None,
    team: int | None = None,
    department: int | None = None,
    status: str = "COMPLETED",
    paid: datetime | None = None,
    completed: datetime | None = None,
    rating: int | None = None,
    reviewed: datetime | None = None,
) -> ConsultRow:
    """One consult; the department defaults to the staff member's or team's current one."""
    if department is None:
        department = STAFF[staff][0] if staff is not None else TEAMS[team or 1][0]
    if completed is not None and paid is None:
        paid = completed - timedelta(hours=1)
    if rating is not None and reviewed is None and completed is not None:
        reviewed = completed + timedelta(minutes=5)
    return ConsultRow(staff, team, department, status, paid, completed, rating, reviewed)


def busy_year(now: datetime, consults: int = 4000, seed: int = 4) -> list[ConsultRow]:
    """Realistic volumes over the 120 days before `now`: every board's threshold is reached."""
    rnd = random.Random(seed)
    rows = []
    for _ in range(consults):
        team = rnd.choice(sorted(TEAMS)) if rnd.random() < 0.2 else None
        staff = None if team else rnd.choice(sorted(STAFF))
        home = TEAMS[team][0] if team else STAFF[staff or 1][0]
        paid = now - timedelta(seconds=rnd.randint(1, 120 * 86400))
        status = rnd.choices(["COMPLETED", "REFUNDED", "PAID", "CANCELLED"], [85, 4, 6, 5])[0]
        completed = min(now - timedelta(seconds=1), paid + timedelta(minutes=rnd.randint(5, 600)))
        rated = status == "COMPLETED" and rnd.random() < 0.6
        rows.append(
            ConsultRow(
                staff,
                team,
                home if rnd.random() < 0.9 else rnd.choice(sorted(DEPARTMENTS)),
                status,
                None if status == "CANCELLED" else paid,
                completed if status == "COMPLETED" else None,
                rnd.choice([1, 2, 3, 4, 5, 5, 5]) if rated else None,
                min(now - timedelta(seconds=1), completed + timedelta(hours=rnd.randint(0, 48))) if rated else None,
            )
        )
    return rows
