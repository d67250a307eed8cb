"""The ranking boards: what each one means, over which period, and how its entries are explained.

Every definition lives here (the parameters come from the settings); the SQL that computes the
boards, the GraphQL descriptions and the README all follow this module. No I/O.

- 金牌科室 / 金牌医生 (GOLD_DEPARTMENTS, GOLD_STAFF): the last complete calendar month, consults
  completed in it; top 5 by count, ties by positive-review rate (only when there are enough reviews),
  then by id.
- 医生热度 (DOCTOR_POPULARITY) and 科室热度 (DEPARTMENT_POPULARITY): consults paid in the last 7 days,
  each weighted by exp(−age_days / 3); top 3; ties by the plain count, then by id.
- 最快成长 (FASTEST_GROWTH): consults paid month-to-date against the same stretch of the previous
  month, (now − before) / max(before, 10), only staff with at least 20 this month; top 3; ties by this
  month's count, then by id.
- 团队最佳 (BEST_TEAM): team consults paid in the last 90 days; Bayesian-average rating (prior 4.5,
  weight 20) × completion rate (completed ÷ completed or refunded); only teams with at least 10
  reviews; top 3; ties by review count, then by id.

A consult counts for the popularity, growth and team boards once it is paid and unless it was
refunded; reviews count when they were given before the period ended, so a board computed again
later gives the same answer. Thank-you letters and e-banners (issue 7) will add to 医生热度 once they
exist; until then 医生热度 is consults only.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from domain.enums import StaffRole


class RankingBoard(StrEnum):
    GOLD_DEPARTMENTS = "GOLD_DEPARTMENTS"  # 金牌科室
    GOLD_STAFF = "GOLD_STAFF"  # 金牌医生
    DOCTOR_POPULARITY = "DOCTOR_POPULARITY"  # 医生热度
    FASTEST_GROWTH = "FASTEST_GROWTH"  # 最快成长
    BEST_TEAM = "BEST_TEAM"  # 团队最佳
    DEPARTMENT_POPULARITY = "DEPARTMENT_POPULARITY"  # 科室热度


class SubjectKind(StrEnum):
    DEPARTMENT = "DEPARTMENT"
    STAFF = "STAFF"
    TEAM = "TEAM"


GOLD_BOARDS = (RankingBoard.GOLD_DEPARTMENTS, RankingBoard.GOLD_STAFF)
# The four TOP3 boards, in the order the homepage shows them.
TRENDING_BOARDS = (
    RankingBoard.DOCTOR_POPULARITY,
    RankingBoard.FASTEST_GROWTH,
    RankingBoard.BEST_TEAM,
    RankingBoard.DEPARTMENT_POPULARITY,
)
ALL_BOARDS = GOLD_BOARDS + TRENDING_BOARDS

TITLES = {
    RankingBoard.GOLD_DEPARTMENTS: "金牌科室",
    RankingBoard.GOLD_STAFF: "金牌医生",
    RankingBoard.DOCTOR_POPULARITY: "医生热度",
    RankingBoard.FASTEST_GROWTH: "最快成长",
    RankingBoard.BEST_TEAM: "团队最佳",
    RankingBoard.DEPARTMENT_POPULARITY: "科室热度",
}
SUBJECTS = {
    RankingBoard.GOLD_DEPARTMENTS: SubjectKind.DEPARTMENT,
    RankingBoard.GOLD_STAFF: SubjectKind.STAFF,
    RankingBoard.DOCTOR_POPULARITY: SubjectKind.STAFF,
    RankingBoard.FASTEST_GROWTH: SubjectKind.STAFF,
    RankingBoard.BEST_TEAM: SubjectKind.TEAM,
    RankingBoard.DEPARTMENT_POPULARITY: SubjectKind.DEPARTMENT,
}

# Scores are rounded before ranking, so that equal scores summed in a different order tie exactly
# (on both databases and in the reference computation) and the tie-break decides.
SCORE_DIGITS = 6


@dataclass(frozen=True)
class RankingRules:
    """The parameters of every board. Stored with each snapshot, so a past board explains itself
    even after the settings have changed."""

    timezone: str = "Asia/Shanghai"
    gold_size: int = 5
    board_size: int = 3
    staff_roles: tuple[StaffRole, ...] = (StaffRole.DOCTOR,)
    min_reviews_for_rate: int = 5
    popularity_days: int = 7
    decay_days: float = 3.0
    growth_min_consults: int = 20
    growth_floor: int = 10
    team_days: int = 90
    team_prior_mean: float = 4.5
    team_prior_weight: float = 20.0
    team_min_reviews: int = 10

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def size(self, board: RankingBoard) -> int:
        return self.gold_size if board in GOLD_BOARDS else self.board_size

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["staff_roles"] = [role.value for role in self.staff_roles]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RankingRules:
        known = {name: value for name, value in data.items() if name in cls.__dataclass_fields__}
        if "staff_roles" in known:
            known["staff_roles"] = tuple(StaffRole(role) for role in known["staff_roles"])
        return cls(**known)


@dataclass(frozen=True)
class Window:
    """The period a board covers: [starts_at, ends_at) in UTC, and for 最快成长 the stretch of the
    previous month it is compared with. `key` names the period: YYYY-MM for the gold boards (the
    month), YYYY-MM-DD for the TOP3 boards (the local day they were computed; the last computation
    of a day stays as that day's board)."""

    board: RankingBoard
    key: str
    starts_at: datetime
    ends_at: datetime
    compare_starts_at: datetime | None = None
    compare_ends_at: datetime | None = None


# ---- periods -------------------------------------------------------------------------------

MONTH_KEY = re.compile(r"(\d{4})-(\d{2})")
DAY_KEY = re.compile(r"\d{4}-\d{2}-\d{2}")


def month_key(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def local_month_start(year: int, month: int, zone: ZoneInfo) -> datetime:
    """Midnight on the first day of the month in `zone`, as a UTC instant."""
    return datetime(year, month, 1, tzinfo=zone).astimezone(UTC)


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def last_complete_month(now: datetime, zone: ZoneInfo) -> tuple[int, int]:
    """The calendar month (in `zone`) before the one `now` falls in."""
    local = now.astimezone(zone)
    return previous_month(local.year, local.month)


def gold_window(board: RankingBoard, year: int, month: int, zone: ZoneInfo) -> Window:
    end_year, end_month = next_month(year, month)
    return Window(
        board,
        month_key(year, month),
        local_month_start(year, month, zone),
        local_month_start(end_year, end_month, zone),
    )


def trending_window(board: RankingBoard, now: datetime, rules: RankingRules) -> Window:
    """The window of a TOP3 board computed at `now`."""
    zone = rules.zone
    local = now.astimezone(zone)
    key = local.date().isoformat()
    now = now.astimezone(UTC)
    if board is RankingBoard.FASTEST_GROWTH:
        month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        elapsed = local - month_start
        year, month = previous_month(local.year, local.month)
        before_start = datetime(year, month, 1, tzinfo=zone)
        # The same stretch of the previous month: as many days and hours from its first day,
        # capped at its end (31 March compares with the whole of February).
        before_end = min(before_start + elapsed, month_start)
        return Window(
            board,
            key,
            month_start.astimezone(UTC),
            now,
            before_start.astimezone(UTC),
            before_end.astimezone(UTC),
        )
    days = rules.team_days if board is RankingBoard.BEST_TEAM else rules.popularity_days
    return Window(board, key, now - timedelta(days=days), now)


def current_window(board: RankingBoard, now: datetime, rules: RankingRules) -> Window:
    """The window a board computed at `now` covers: the last complete month, or the trailing one."""
    if board in GOLD_BOARDS:
        return gold_window(board, *last_complete_month(now, rules.zone), rules.zone)
    return trending_window(board, now, rules)


class BadPeriod(ValueError):
    """A period key in the wrong format for its board."""


def parse_month(text: str) -> tuple[int, int]:
    match = MONTH_KEY.fullmatch(text)
    if match is None or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 2999:
        raise BadPeriod("期间应为年月，例如 2026-10 (a month such as 2026-10)")
    return int(match.group(1)), int(match.group(2))


def check_period(board: RankingBoard, text: str) -> str:
    """The period key as stored, or BadPeriod: YYYY-MM for the gold boards, YYYY-MM-DD otherwise."""
    if board in GOLD_BOARDS:
        return month_key(*parse_month(text))
    if DAY_KEY.fullmatch(text) is None:
        raise BadPeriod("期间应为日期，例如 2026-11-14 (a day such as 2026-11-14)")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise BadPeriod("期间应为日期，例如 2026-11-14 (a day such as 2026-11-14)") from None


# ---- scores and explanations ---------------------------------------------------------------


def decay_weight(age_days: float, rules: RankingRules) -> float:
    """The weight of one consult `age_days` old on the popularity boards."""
    return math.exp(-age_days / rules.decay_days)


def positive_rate(positive: int, reviews: int, rules: RankingRules) -> float | None:
    """好评率, or None below the minimum number of reviews (a 100% of one review misleads)."""
    return positive / reviews if reviews >= rules.min_reviews_for_rate and reviews > 0 else None


def bayesian_rating(rating_sum: float, reviews: int, rules: RankingRules) -> float:
    prior = rules.team_prior_mean * rules.team_prior_weight
    return (prior + rating_sum) / (rules.team_prior_weight + reviews)


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone)


def _day_time(instant: datetime, zone: ZoneInfo) -> str:
    local = _local(instant, zone)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def period_label(window: Window, zone: ZoneInfo) -> str:
    """The period in words, e.g. 2026年10月, or 近7天（截至11月15日 12:00）."""
    if window.board in GOLD_BOARDS:
        year, month = parse_month(window.key)
        return f"{year}年{month}月"
    if window.board is RankingBoard.FASTEST_GROWTH:
        assert window.compare_starts_at is not None and window.compare_ends_at is not None
        return (
            f"本月至今（{_day_time(window.starts_at, zone)}–{_day_time(window.ends_at, zone)}），"
            f"对比上月同期（{_day_time(window.compare_starts_at, zone)}–{_day_time(window.compare_ends_at, zone)}）"
        )
    days = round((window.ends_at - window.starts_at) / timedelta(days=1))
    return f"近{days}天（截至{_day_time(window.ends_at, zone)}）"


def reason(board: RankingBoard, inputs: dict[str, Any], window: Window, rules: RankingRules) -> str:
    """Why an entry is where it is, in one line a patient understands."""
    consults = int(inputs.get("consults", 0))
    if board in GOLD_BOARDS:
        _, month = parse_month(window.key)
        text = f"{month}月接诊 {consults:,} 次"
        rate = positive_rate(int(inputs.get("positive_reviews", 0)), int(inputs.get("reviews", 0)), rules)
        return text if rate is None else f"{text}，好评率 {rate * 100:.1f}%"
    if board in (RankingBoard.DOCTOR_POPULARITY, RankingBoard.DEPARTMENT_POPULARITY):
        thanks = int(inputs.get("appreciations", 0))
        letters = f"，锦旗/感谢信 {thanks:,} 份" if thanks else ""
        return f"近{rules.popularity_days}天问诊 {consults:,} 次{letters}，热度 {float(inputs.get('heat', 0.0)):.1f}"
    if board is RankingBoard.FASTEST_GROWTH:
        before = int(inputs.get("consults_before", 0))
        growth = (consults - before) / max(before, rules.growth_floor)
        change = "持平" if growth == 0 else (f"增长 {growth:.0%}" if growth > 0 else f"下降 {-growth:.0%}")
        return f"本月至今 {consults:,} 次，上月同期 {before:,} 次，{change}"
    reviews = int(inputs.get("reviews", 0))
    average = float(inputs.get("rating_sum", 0)) / reviews if reviews else 0.0
    settled = int(inputs.get("settled", 0))
    completion = int(inputs.get("completed", 0)) / settled if settled else 0.0
    return f"近{rules.team_days}天评分 {average:.1f}（{reviews:,} 条评价），完成率 {completion:.0%}"


def definition(board: RankingBoard, rules: RankingRules) -> str:
    """What the board means, with the parameters it was computed with (shown in the API)."""
    roles = "、".join({"DOCTOR": "医生", "NURSE": "护士", "PHARMACIST": "药师"}[r.value] for r in rules.staff_roles)
    zone = rules.timezone
    if board is RankingBoard.GOLD_DEPARTMENTS:
        return (
            f"金牌科室：上一个完整自然月（{zone} 时间）内完成的互联网问诊次数最多的前{rules.gold_size}个科室；"
            f"次数相同时好评率高者在前（评价满{rules.min_reviews_for_rate}条才计好评率），再按科室编号。"
            f" Departments with the most internet consults completed in the last complete calendar month ({zone}), "
            f"top {rules.gold_size}; ties by positive-review rate (only with {rules.min_reviews_for_rate}+ reviews), "
            "then by id."
        )
    if board is RankingBoard.GOLD_STAFF:
        return (
            f"金牌医生：上一个完整自然月（{zone} 时间）内完成的互联网问诊次数最多的前{rules.gold_size}位在职{roles}；"
            f"次数相同时好评率高者在前（评价满{rules.min_reviews_for_rate}条才计好评率），再按编号。"
            f" Staff ({', '.join(r.value for r in rules.staff_roles)}, still employed) with the most internet consults "
            f"completed in the last complete calendar month ({zone}), top {rules.gold_size}; ties by positive-review "
            f"rate (only with {rules.min_reviews_for_rate}+ reviews), then by id."
        )
    decay = (
        f"每次问诊按 exp(−距今天数/{rules.decay_days:g}) 计权后求和，越近权重越高"
        f" (each paid consult of the last {rules.popularity_days} days weighs exp(−age_days/{rules.decay_days:g}))"
    )
    if board is RankingBoard.DOCTOR_POPULARITY:
        return (
            f"医生热度：近{rules.popularity_days}天已支付（未退款）的问诊，加上同期发布的电子锦旗和感谢信，{decay}"
            f"（每份锦旗或感谢信按发布时间同样计权）；在职{roles}前{rules.board_size}名，热度相同按问诊次数，再按编号。"
            f" Published e-banners and thank-you letters of the window weigh the same way, by their publication "
            f"time. Top {rules.board_size} staff still employed; ties by consult count, then by id."
        )
    if board is RankingBoard.DEPARTMENT_POPULARITY:
        return (
            f"科室热度：近{rules.popularity_days}天科室已支付（未退款）的问诊，{decay}；前{rules.board_size}名，"
            f"热度相同按问诊次数，再按科室编号。 Top {rules.board_size} departments; ties by consult count, then by id."
        )
    if board is RankingBoard.FASTEST_GROWTH:
        return (
            f"最快成长：本月至今（{zone} 时间）已支付问诊数与上月同期（同样天数，不超过上月月底）相比，"
            f"增幅 =（本月 − 上月同期）÷ max(上月同期, {rules.growth_floor})；仅限本月不少于"
            f"{rules.growth_min_consults}次的在职{roles}，前{rules.board_size}名，增幅相同按本月次数，再按编号。"
            f" Paid consults month-to-date against the same stretch of the previous month, "
            f"(now − before) / max(before, {rules.growth_floor}), staff with {rules.growth_min_consults}+ consults "
            f"this month, top {rules.board_size}; ties by this month's count, then by id."
        )
    return (
        f"团队最佳：近{rules.team_days}天已支付的团队问诊，贝叶斯平均评分（先验 {rules.team_prior_mean:g} 分、"
        f"权重 {rules.team_prior_weight:g} 条）× 完成率（完成 ÷ 完成或退款）；评价不少于{rules.team_min_reviews}条的"
        f"团队前{rules.board_size}名，相同按评价数，再按编号。 Team consults paid in the last {rules.team_days} days: "
        f"Bayesian-average rating (prior {rules.team_prior_mean:g}, weight {rules.team_prior_weight:g}) × completion "
        f"rate (completed ÷ completed or refunded), teams with {rules.team_min_reviews}+ reviews, top "
        f"{rules.board_size}; ties by review count, then by id."
    )
