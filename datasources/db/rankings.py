"""The ranking boards computed in the database, and their snapshots.

Each board is one aggregate statement (GROUP BY, then row_number() over the ordered groups) that
runs on SQLite and PostgreSQL; its period arrives as UTC instants computed in Python
(domain/rankings.py), so both databases compare the same values. Python ranks nothing itself and
loops only over the few rows of the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, delete, func, insert, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from datasources.db.tables import Appreciation, Consult, RankingEntry, RankingSnapshot, Staff, Team
from datasources.db.types import days_between, round_float
from domain.enums import AppreciationStatus, ConsultStatus
from domain.rankings import SCORE_DIGITS, RankingBoard, RankingRules, Window

AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class ComputedEntry:
    rank: int
    subject_id: int
    score: float
    inputs: dict[str, Any]


@dataclass(frozen=True)
class StoredBoard:
    """A snapshot with its entries, as read back or just written."""

    snapshot: RankingSnapshot
    entries: list[RankingEntry]

    @property
    def window(self) -> Window:
        s = self.snapshot
        return Window(s.board, s.period_key, s.starts_at, s.ends_at, s.compare_starts_at, s.compare_ends_at)

    @property
    def rules(self) -> RankingRules:
        return RankingRules.from_json(self.snapshot.rules)


def _booked(window_start: Any, window_end: Any) -> ColumnElement[bool]:
    """Paid in [start, end) and not refunded: the consults the popularity and growth boards count."""
    return and_(
        Consult.paid_at.is_not(None),
        Consult.paid_at >= window_start,
        Consult.paid_at < window_end,
        Consult.status != ConsultStatus.REFUNDED,
    )


def _reviewed_by(end: datetime) -> ColumnElement[bool]:
    """A review given before the period ended: a board computed again later gives the same answer."""
    return and_(Consult.rating.is_not(None), Consult.reviewed_at < end)


Order = Callable[[Any], list[ColumnElement[Any]]]  # the ORDER BY of a board, given the groups' columns
Eligible = tuple[Any, ColumnElement[bool]]  # the table subjects are joined to, and who of them may rank


def _ranked(grouped: AnySelect, order: Order, size: int, eligible: Eligible | None = None) -> AnySelect:
    """Number the groups of `grouped` in `order` and keep the first `size`, in one statement.

    The consults are aggregated first, in a subquery of their own, and only the groups are joined
    to the staff or teams they belong to: the planner then starts from the consults' time range,
    instead of walking every consult of every doctor (SQLite, which keeps no statistics, would).
    """
    g = grouped.subquery("g")
    numbered = select(g, func.row_number().over(order_by=order(g.c)).label("rank"))
    if eligible is not None:
        table, condition = eligible
        numbered = numbered.join(table, table.id == g.c.subject_id).where(condition)
    ranked = numbered.subquery("ranked")
    return select(ranked).where(ranked.c.rank <= size).order_by(ranked.c.rank)


def _staff_eligible(rules: RankingRules) -> Eligible:
    """Staff still employed, of the ranked roles; the next one moves up when someone has left."""
    return Staff, and_(Staff.active.is_(True), Staff.role.in_(rules.staff_roles))


def _gold(window: Window, rules: RankingRules, size: int) -> AnySelect:
    completed = and_(
        Consult.status == ConsultStatus.COMPLETED,
        Consult.completed_at >= window.starts_at,
        Consult.completed_at < window.ends_at,
    )
    reviewed = _reviewed_by(window.ends_at)
    departments = window.board is RankingBoard.GOLD_DEPARTMENTS
    subject = Consult.department_id if departments else Consult.staff_id
    grouped = (
        select(
            subject.label("subject_id"),
            func.count().label("consults"),
            func.sum(case((reviewed, 1), else_=0)).label("reviews"),
            func.sum(case((and_(reviewed, Consult.rating >= 4), 1), else_=0)).label("positive_reviews"),
        )
        .where(completed, subject.is_not(None))
        .group_by(subject)
    )

    def order(c: Any) -> list[ColumnElement[Any]]:
        # 好评率 breaks ties only with enough reviews; without, it sorts after every known rate.
        rate = case((c.reviews >= rules.min_reviews_for_rate, c.positive_reviews * 1.0 / c.reviews))
        return [c.consults.desc(), rate.desc().nulls_last(), c.subject_id.asc()]

    return _ranked(grouped, order, size, None if departments else _staff_eligible(rules))


def _popularity(window: Window, rules: RankingRules, size: int) -> AnySelect:
    """医生热度 / 科室热度: every booked consult of the window weighs exp(−age_days/τ); for doctors, so
    does every e-banner (电子锦旗) and thank-you letter (感谢信) published in the window."""
    departments = window.board is RankingBoard.DEPARTMENT_POPULARITY
    subject = Consult.department_id if departments else Consult.staff_id
    consults = select(
        subject.label("subject_id"),
        Consult.paid_at.label("at"),
        literal(1).label("consult"),
        literal(0).label("appreciation"),
    ).where(_booked(window.starts_at, window.ends_at), subject.is_not(None))
    events: Any = consults
    if not departments:
        events = union_all(
            consults,
            select(
                Appreciation.staff_id.label("subject_id"),
                Appreciation.published_at.label("at"),
                literal(0).label("consult"),
                literal(1).label("appreciation"),
            ).where(
                Appreciation.status == AppreciationStatus.PUBLISHED,
                Appreciation.staff_id.is_not(None),
                Appreciation.published_at >= window.starts_at,
                Appreciation.published_at < window.ends_at,
            ),
        )
    e = events.subquery("events")
    age_days = days_between(e.c.at, literal(window.ends_at, Consult.paid_at.type))
    columns = [
        e.c.subject_id.label("subject_id"),
        func.sum(e.c.consult).label("consults"),
        round_float(func.sum(func.exp(-age_days / rules.decay_days)), SCORE_DIGITS).label("heat"),
    ]
    if not departments:
        columns.insert(2, func.sum(e.c.appreciation).label("appreciations"))
    grouped = select(*columns).group_by(e.c.subject_id)
    return _ranked(
        grouped,
        lambda c: [c.heat.desc(), c.consults.desc(), c.subject_id.asc()],
        size,
        None if departments else _staff_eligible(rules),
    )


def _growth(window: Window, rules: RankingRules, size: int) -> AnySelect:
    assert window.compare_starts_at is not None and window.compare_ends_at is not None
    now_count = func.sum(case((_booked(window.starts_at, window.ends_at), 1), else_=0))
    before = func.sum(case((_booked(window.compare_starts_at, window.compare_ends_at), 1), else_=0))
    floor = case((before > rules.growth_floor, before), else_=rules.growth_floor)
    grouped = (
        select(
            Consult.staff_id.label("subject_id"),
            now_count.label("consults"),
            before.label("consults_before"),
            round_float((now_count - before) * 1.0 / floor, SCORE_DIGITS).label("growth"),
        )
        # Both stretches in one scan: from the start of the earlier one to now.
        .where(_booked(window.compare_starts_at, window.ends_at), Consult.staff_id.is_not(None))
        .group_by(Consult.staff_id)
        .having(now_count >= rules.growth_min_consults)
    )
    return _ranked(
        grouped,
        lambda c: [c.growth.desc(), c.consults.desc(), c.subject_id.asc()],
        size,
        _staff_eligible(rules),
    )


def _team(window: Window, rules: RankingRules, size: int) -> AnySelect:
    reviewed = _reviewed_by(window.ends_at)
    reviews = func.sum(case((reviewed, 1), else_=0))
    rating_sum = func.sum(case((reviewed, Consult.rating), else_=0))
    completed = func.sum(case((Consult.status == ConsultStatus.COMPLETED, 1), else_=0))
    settled = func.sum(case((Consult.status.in_([ConsultStatus.COMPLETED, ConsultStatus.REFUNDED]), 1), else_=0))
    bayesian = (rules.team_prior_mean * rules.team_prior_weight + rating_sum) / (rules.team_prior_weight + reviews)
    # Paid consults, refunded ones included: a refund is what the completion rate counts against.
    paid = and_(Consult.paid_at.is_not(None), Consult.paid_at >= window.starts_at, Consult.paid_at < window.ends_at)
    grouped = (
        select(
            Consult.team_id.label("subject_id"),
            reviews.label("reviews"),
            rating_sum.label("rating_sum"),
            completed.label("completed"),
            settled.label("settled"),
            round_float(bayesian * completed / case((settled > 0, settled), else_=1), SCORE_DIGITS).label("score"),
        )
        # Team consults are few: the (team_id, paid_at) index reaches them team by team.
        .where(paid, Consult.team_id.in_(select(Team.id).where(Team.active.is_(True))))
        .group_by(Consult.team_id)
        .having(reviews >= rules.team_min_reviews)
    )
    return _ranked(grouped, lambda c: [c.score.desc(), c.reviews.desc(), c.subject_id.asc()], size)


_STATEMENTS = {
    RankingBoard.GOLD_DEPARTMENTS: (_gold, "consults"),
    RankingBoard.GOLD_STAFF: (_gold, "consults"),
    RankingBoard.DOCTOR_POPULARITY: (_popularity, "heat"),
    RankingBoard.DEPARTMENT_POPULARITY: (_popularity, "heat"),
    RankingBoard.FASTEST_GROWTH: (_growth, "growth"),
    RankingBoard.BEST_TEAM: (_team, "score"),
}


def board_statement(window: Window, rules: RankingRules, size: int | None = None) -> AnySelect:
    """The one SELECT that computes `window.board`: its first `size` entries (default: the board's size)."""
    build, _ = _STATEMENTS[window.board]
    return build(window, rules, rules.size(window.board) if size is None else size)


async def compute_board(
    db: AsyncSession, *, window: Window, rules: RankingRules, size: int | None = None
) -> list[ComputedEntry]:
    """Run the board's statement; each entry keeps the counts its score came from."""
    _, score_column = _STATEMENTS[window.board]
    result = await db.execute(board_statement(window, rules, size))
    entries = []
    for row in result.mappings():
        inputs = {k: _plain(v) for k, v in row.items() if k not in ("subject_id", "rank", "growth", "score")}
        entries.append(
            ComputedEntry(
                rank=int(row["rank"]),
                subject_id=int(row["subject_id"]),
                score=float(row[score_column] or 0),
                inputs=inputs,
            )
        )
    return entries


def _plain(value: Any) -> int | float:
    """JSON-ready numbers: counts as int, the rest as float (PostgreSQL answers sums as Decimal)."""
    number = float(value or 0)
    return int(number) if number.is_integer() and not isinstance(value, float) else number


# ---- snapshots ---------------------------------------------------------------------------


async def store_board(
    db: AsyncSession,
    *,
    window: Window,
    rules: RankingRules,
    entries: Sequence[ComputedEntry],
    computed_at: datetime,
) -> StoredBoard:
    """Write (or replace) the snapshot of `window.board` for `window.key`, in the caller's transaction."""
    await db.execute(
        delete(RankingEntry).where(
            RankingEntry.snapshot_id.in_(
                select(RankingSnapshot.id).where(
                    RankingSnapshot.board == window.board, RankingSnapshot.period_key == window.key
                )
            )
        )
    )
    await db.execute(
        delete(RankingSnapshot).where(RankingSnapshot.board == window.board, RankingSnapshot.period_key == window.key)
    )
    snapshot = RankingSnapshot(
        board=window.board,
        period_key=window.key,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        compare_starts_at=window.compare_starts_at,
        compare_ends_at=window.compare_ends_at,
        computed_at=computed_at,
        rules=rules.to_json(),
    )
    db.add(snapshot)
    await db.flush()
    rows = [
        {"snapshot_id": snapshot.id, "rank": e.rank, "subject_id": e.subject_id, "score": e.score, "inputs": e.inputs}
        for e in entries
    ]
    if rows:
        await db.execute(insert(RankingEntry), rows)
    stored = [RankingEntry(**row) for row in rows]
    return StoredBoard(snapshot, stored)


async def refresh_board(db: AsyncSession, *, window: Window, rules: RankingRules, computed_at: datetime) -> StoredBoard:
    """Compute one board and store it as its period's snapshot."""
    entries = await compute_board(db, window=window, rules=rules)
    return await store_board(db, window=window, rules=rules, entries=entries, computed_at=computed_at)
