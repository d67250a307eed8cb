"""Ranking snapshots as the API reads them: any number of (board, period) at once, in one statement."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from datasources.db.queries.departments import departments_by_ids
from datasources.db.queries.staff import staff_by_ids
from datasources.db.queries.teams import teams_by_ids
from datasources.db.rankings import StoredBoard
from datasources.db.tables import Department, RankingEntry, RankingSnapshot, Staff, Team
from domain.rankings import SUBJECTS, RankingBoard, SubjectKind

# A board and its period key; None asks for the board's newest period.
RankingKey = tuple[RankingBoard, str | None]


async def boards_by_keys(db: AsyncSession, *, keys: Sequence[RankingKey]) -> dict[RankingKey, StoredBoard]:
    """The snapshots asked for, each with its entries in rank order; missing ones are left out."""
    if not keys:
        return {}
    newer = aliased(RankingSnapshot)
    newest_key = select(func.max(newer.period_key)).where(newer.board == RankingSnapshot.board).scalar_subquery()
    latest = sorted({board for board, period in keys if period is None})
    wanted = [and_(RankingSnapshot.board == b, RankingSnapshot.period_key == p) for b, p in keys if p is not None]
    if latest:
        wanted.append(and_(RankingSnapshot.board.in_(latest), RankingSnapshot.period_key == newest_key))
    rows = await db.execute(
        select(RankingSnapshot, RankingEntry)
        .outerjoin(RankingEntry, RankingEntry.snapshot_id == RankingSnapshot.id)
        .where(or_(*wanted))
        .order_by(RankingSnapshot.id, RankingEntry.rank)
    )
    found: dict[int, StoredBoard] = {}
    for snapshot, entry in rows:
        stored = found.setdefault(snapshot.id, StoredBoard(snapshot, []))
        if entry is not None:
            stored.entries.append(entry)
    answers: dict[RankingKey, StoredBoard] = {}
    for key in keys:
        which, period = key
        # For None, the newest period of the board (older ones may be here for other keys).
        matching = [b for b in found.values() if b.snapshot.board == which and period in (None, b.snapshot.period_key)]
        if matching:
            answers[key] = max(matching, key=lambda b: b.snapshot.period_key)
    return answers


@dataclass(frozen=True)
class RankedSubjects:
    """Everything an entry links to: its subject, the staff members' and teams' departments, the
    teams' leaders."""

    departments: dict[int, Department]
    staff: dict[int, Staff]
    teams: dict[int, Team]


async def subjects_of(db: AsyncSession, *, boards: Iterable[StoredBoard]) -> RankedSubjects:
    """The subjects of `boards` and what they link to, in at most three statements whatever the
    number of boards and entries (teams, then staff with the leaders, then every department)."""
    wanted: dict[SubjectKind, set[int]] = {kind: set() for kind in SubjectKind}
    for board in boards:
        wanted[SUBJECTS[board.snapshot.board]].update(entry.subject_id for entry in board.entries)
    teams = await teams_by_ids(db, ids=sorted(wanted[SubjectKind.TEAM])) if wanted[SubjectKind.TEAM] else {}
    staff_ids = wanted[SubjectKind.STAFF] | {t.leader_id for t in teams.values() if t.leader_id is not None}
    staff = await staff_by_ids(db, ids=sorted(staff_ids)) if staff_ids else {}
    department_ids = (
        wanted[SubjectKind.DEPARTMENT]
        | {s.department_id for s in staff.values()}
        | {t.department_id for t in teams.values()}
    )
    departments = await departments_by_ids(db, ids=sorted(department_ids)) if department_ids else {}
    return RankedSubjects(departments, staff, teams)
