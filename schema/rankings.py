"""Ranking boards (金牌榜单 and the TOP3 boards): entries with their subjects, scores and reasons.

Every board is read from a stored snapshot; the definitions are in domain/rankings.py and each
board repeats its own in `definition`, with the parameters it was computed with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from datasources.db.rankings import StoredBoard
from datasources.db.tables import RankingEntry as EntryRow
from domain import rankings as rules_
from domain.rankings import GOLD_BOARDS, SUBJECTS, RankingBoard, RankingRules, SubjectKind, Window
from schema.cache_control import RANKINGS, cache_hint
from schema.common import RegistrationLink
from schema.context import Info
from schema.departments import Department
from schema.errors import ErrorCode
from schema.staff import StaffMember
from schema.teams import Team

strawberry.enum(
    RankingBoard,
    description="The ranking boards. GOLD_DEPARTMENTS 金牌科室 and GOLD_STAFF 金牌医生: consults completed in "
    "the last complete calendar month (Asia/Shanghai), top 5, ties by positive-review rate then id. "
    "DOCTOR_POPULARITY 医生热度 and DEPARTMENT_POPULARITY 科室热度: paid consults of the last 7 days, each "
    "weighted by exp(−age_days/3), top 3. FASTEST_GROWTH 最快成长: paid consults month-to-date against the "
    "same stretch of last month, (now − before) / max(before, 10), staff with 20+ consults this month, top 3. "
    "BEST_TEAM 团队最佳: Bayesian-average rating (prior 4.5, weight 20) × completion rate over the last 90 "
    "days, teams with 10+ reviews, top 3. These are the defaults; each board's `definition` states the "
    "parameters it was computed with.",
)


@strawberry.type(description="The period a board covers, in the hospital's time zone (Asia/Shanghai).")
class RankingPeriod:
    key: str = strawberry.field(
        description="The period's name, to pass as `ranking(period:)`: YYYY-MM for the gold boards (the month), "
        "YYYY-MM-DD for the TOP3 boards (the day they were computed; the day's last computation is kept)."
    )
    label: str = strawberry.field(
        description="The period in words for display, e.g. 2026年10月, or 近7天（截至11月15日 12:00）."
    )
    starts_at: datetime = strawberry.field(description="Start of the period (included).")
    ends_at: datetime = strawberry.field(description="End of the period (not included).")
    compared_starts_at: datetime | None = strawberry.field(
        description="最快成长 only: start of the stretch of last month the period is compared with."
    )
    compared_ends_at: datetime | None = strawberry.field(
        description="最快成长 only: end of that stretch: as many days and hours into last month, at most its end."
    )

    @classmethod
    def from_window(cls, window: Window, rules: RankingRules) -> RankingPeriod:
        return cls(
            key=window.key,
            label=rules_.period_label(window, rules.zone),
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            compared_starts_at=window.compare_starts_at,
            compared_ends_at=window.compare_ends_at,
        )


@strawberry.type(
    description="The counts behind an entry's score, so that it can be explained and checked. Each board fills "
    "the fields its formula uses; the others are null."
)
class RankingInputs:
    consults: int | None = strawberry.field(
        description="Gold boards: consults completed in the month. Popularity: paid consults in the window. "
        "最快成长: paid consults this month so far."
    )
    consults_before: int | None = strawberry.field(
        description="最快成长: paid consults in the same stretch of last month."
    )
    appreciations: int | None = strawberry.field(
        description="医生热度: e-banners and thank-you letters published in the window."
    )
    heat: float | None = strawberry.field(
        description="Popularity: the sum of exp(−age_days/τ) over the consults (and, for 医生热度, the published "
        "e-banners and thank-you letters)."
    )
    reviews: int | None = strawberry.field(
        description="Gold boards and 团队最佳: reviews given before the period ended."
    )
    positive_reviews: int | None = strawberry.field(description="Gold boards: reviews with 4 or 5 stars.")
    positive_rate: float | None = strawberry.field(
        description="Gold boards: 好评率 between 0 and 1; null below the minimum number of reviews (then it "
        "does not break ties either)."
    )
    average_rating: float | None = strawberry.field(description="团队最佳: the plain average of the reviews' stars.")
    bayesian_rating: float | None = strawberry.field(
        description="团队最佳: the average pulled towards the prior, (prior × weight + stars) / (weight + reviews)."
    )
    completed: int | None = strawberry.field(description="团队最佳: paid team consults completed.")
    settled: int | None = strawberry.field(description="团队最佳: paid team consults completed or refunded.")
    completion_rate: float | None = strawberry.field(description="团队最佳: completed ÷ settled.")

    @classmethod
    def from_inputs(cls, board: RankingBoard, inputs: dict[str, Any], rules: RankingRules) -> RankingInputs:
        def count(name: str) -> int | None:
            return None if name not in inputs else int(inputs[name])

        reviews, settled = count("reviews"), count("settled")
        team = board is RankingBoard.BEST_TEAM
        rating_sum = float(inputs.get("rating_sum", 0))
        return cls(
            consults=count("consults"),
            consults_before=count("consults_before"),
            appreciations=count("appreciations"),
            heat=None if "heat" not in inputs else float(inputs["heat"]),
            reviews=reviews,
            positive_reviews=count("positive_reviews"),
            positive_rate=(
                rules_.positive_rate(int(inputs["positive_reviews"]), reviews or 0, rules)
                if board in GOLD_BOARDS
                else None
            ),
            average_rating=rating_sum / reviews if team and reviews else None,
            bayesian_rating=rules_.bayesian_rating(rating_sum, reviews or 0, rules) if team else None,
            completed=count("completed"),
            settled=settled,
            completion_rate=(count("completed") or 0) / settled if team and settled else None,
        )


@strawberry.interface(description="One place on a ranking board.")
class RankingEntry:
    rank: int = strawberry.field(description="Place on the board, from 1.")
    score: float = strawberry.field(description="The value the board is ordered by (see the board's `definition`).")
    reason: str = strawberry.field(description='Why the entry is here, for display, e.g. "10月接诊 1,203 次".')
    inputs: RankingInputs = strawberry.field(description="The counts the score was computed from.")
    subject_id: strawberry.Private[int]

    @strawberry.field(description="Where tapping the entry leads: the subject's registration (挂号) page.")
    async def registration_link(self, info: Info) -> RegistrationLink:
        raise NotImplementedError  # every implementation resolves its own


@strawberry.type(description="A department on a board (金牌科室, 科室热度).")
class DepartmentRankingEntry(RankingEntry):
    @strawberry.field(description="The department.")
    async def department(self, info: Info) -> Department:
        row = await info.context.loaders.department_by_id.load(self.subject_id)
        assert row is not None, "ranked departments are never deleted"
        return Department.from_row(row)

    @strawberry.field(description="The department's registration page.")
    async def registration_link(self, info: Info) -> RegistrationLink:
        return (await self.department(info)).registration_link


@strawberry.type(description="A staff member on a board (金牌医生, 医生热度, 最快成长).")
class StaffRankingEntry(RankingEntry):
    @strawberry.field(description="The staff member, with their statistics.")
    async def staff_member(self, info: Info) -> StaffMember:
        row = await info.context.loaders.staff_by_id.load(self.subject_id)
        assert row is not None, "ranked staff are never deleted (leavers are marked inactive)"
        return StaffMember.from_row(row, info)

    @strawberry.field(
        description="The staff member's registration page; on a past board, once they have left the hospital, "
        "the registration page of the department they belonged to."
    )
    async def registration_link(self, info: Info) -> RegistrationLink:
        row = await info.context.loaders.staff_by_id.load(self.subject_id)
        assert row is not None, "ranked staff are never deleted (leavers are marked inactive)"
        if row.active:
            return StaffMember.from_row(row, info).registration_link
        department = await info.context.loaders.department_by_id.load(row.department_id)
        assert department is not None, "staff.department_id is a foreign key"
        return Department.from_row(department).registration_link


@strawberry.type(description="A doctor team on a board (团队最佳).")
class TeamRankingEntry(RankingEntry):
    @strawberry.field(description="The team.")
    async def team(self, info: Info) -> Team:
        row = await info.context.loaders.team_by_id.load(self.subject_id)
        assert row is not None, "ranked teams are never deleted (dissolved ones are marked inactive)"
        return Team.from_row(row)

    @strawberry.field(
        description="The team leader's registration page; the team's department's when it has no leader on staff."
    )
    async def registration_link(self, info: Info) -> RegistrationLink:
        return await (await self.team(info)).registration_link(info)


_ENTRY_TYPES: dict[SubjectKind, type[RankingEntry]] = {
    SubjectKind.DEPARTMENT: DepartmentRankingEntry,
    SubjectKind.STAFF: StaffRankingEntry,
    SubjectKind.TEAM: TeamRankingEntry,
}


def _entry(board: RankingBoard, row: EntryRow, window: Window, rules: RankingRules) -> RankingEntry:
    cls = _ENTRY_TYPES[SUBJECTS[board]]
    return cls(
        rank=row.rank,
        score=row.score,
        reason=rules_.reason(board, row.inputs, window, rules),
        inputs=RankingInputs.from_inputs(board, row.inputs, rules),
        subject_id=row.subject_id,
    )


@strawberry.type(
    description="A ranking board as computed for one period, with what it means.",
    directives=[cache_hint(300, RANKINGS)],
)
class Ranking:
    board: RankingBoard = strawberry.field(description="Which board.")
    title: str = strawberry.field(description="The board's name as shown, e.g. 医生热度.")
    definition: str = strawberry.field(
        description="What the board means and how it was computed, with the parameters used (Chinese, then English)."
    )
    period: RankingPeriod = strawberry.field(description="The period the board covers.")
    computed_at: datetime = strawberry.field(description="When the board was computed.")
    entries: list[RankingEntry] = strawberry.field(
        description="The entries in rank order; fewer than the board's size when fewer subjects qualify, none "
        "for a period without data."
    )

    @classmethod
    def from_stored(cls, stored: StoredBoard) -> Ranking:
        board, window, rules = stored.snapshot.board, stored.window, stored.rules
        return cls(
            board=board,
            title=rules_.TITLES[board],
            definition=rules_.definition(board, rules),
            period=RankingPeriod.from_window(window, rules),
            computed_at=stored.snapshot.computed_at,
            entries=[_entry(board, row, window, rules) for row in stored.entries],
        )


@strawberry.type(
    description="金牌榜单: the top departments (金牌科室) and staff (金牌医生) of the last complete calendar month.",
    directives=[cache_hint(300, RANKINGS)],
)
class GoldBoard:
    period: RankingPeriod = strawberry.field(description="The month both lists cover.")
    computed_at: datetime = strawberry.field(description="When the lists were computed.")
    departments: list[DepartmentRankingEntry] = strawberry.field(description="金牌科室, in rank order.")
    staff: list[StaffRankingEntry] = strawberry.field(description="金牌医生, in rank order.")
    departments_definition: str = strawberry.field(description="What 金牌科室 means, with its parameters.")
    staff_definition: str = strawberry.field(description="What 金牌医生 means, with its parameters.")

    @classmethod
    def from_stored(cls, departments: StoredBoard | None, staff: StoredBoard | None) -> GoldBoard | None:
        """The newest month of the two lists; a list not computed for that month is empty."""
        newest = max(
            (b for b in (departments, staff) if b is not None), key=lambda b: b.snapshot.period_key, default=None
        )
        if newest is None:
            return None
        month = newest.snapshot.period_key

        def entries(stored: StoredBoard | None) -> list[RankingEntry]:
            return Ranking.from_stored(stored).entries if stored and stored.snapshot.period_key == month else []

        return cls(
            period=RankingPeriod.from_window(newest.window, newest.rules),
            computed_at=newest.snapshot.computed_at,
            departments=[e for e in entries(departments) if isinstance(e, DepartmentRankingEntry)],
            staff=[e for e in entries(staff) if isinstance(e, StaffRankingEntry)],
            departments_definition=rules_.definition(RankingBoard.GOLD_DEPARTMENTS, newest.rules),
            staff_definition=rules_.definition(RankingBoard.GOLD_STAFF, newest.rules),
        )


@strawberry.type(description="The boards were computed and stored; the homepage shows them from now on.")
class RefreshRankingsSuccess:
    rankings: list[Ranking] = strawberry.field(description="Every board computed, as stored.")


@strawberry.type(description="Another refresh is running (on this or another instance); try again in a minute.")
class RefreshInProgress:
    message: str = strawberry.field(description="What happened, in plain Chinese and English.")
    code: ErrorCode = strawberry.field(default=ErrorCode.CONFLICT, description="Always CONFLICT.")
