"""The periods, keys and explanations of the boards (domain/rankings.py), without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from domain.enums import StaffRole
from domain.rankings import (
    ALL_BOARDS,
    BadPeriod,
    RankingBoard,
    RankingRules,
    check_period,
    current_window,
    definition,
    period_label,
    reason,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
RULES = RankingRules()


def test_gold_boards_cover_the_last_complete_month_in_shanghai() -> None:
    # 00:30 on 1 November in Shanghai is still 31 October in UTC, but October is over
    now = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
    window = current_window(RankingBoard.GOLD_STAFF, now, RULES)
    assert window.key == "2026-10"
    assert window.starts_at == datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
    assert window.ends_at == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert period_label(window, SHANGHAI) == "2026年10月"
    # January's complete month is the previous December
    assert current_window(RankingBoard.GOLD_DEPARTMENTS, datetime(2027, 1, 5, tzinfo=UTC), RULES).key == "2026-12"


def test_trending_boards_are_keyed_by_the_local_day_and_cover_trailing_windows() -> None:
    now = datetime(2026, 11, 14, 17, 0, tzinfo=UTC)  # 01:00 on 15 November in Shanghai
    popularity = current_window(RankingBoard.DOCTOR_POPULARITY, now, RULES)
    assert popularity.key == "2026-11-15"
    assert (popularity.starts_at, popularity.ends_at) == (datetime(2026, 11, 7, 17, tzinfo=UTC), now)
    assert period_label(popularity, SHANGHAI) == "近7天（截至11月15日 01:00）"
    team = current_window(RankingBoard.BEST_TEAM, now, RULES)
    assert team.starts_at == datetime(2026, 8, 16, 17, tzinfo=UTC)
    growth = current_window(RankingBoard.FASTEST_GROWTH, now, RULES)
    assert growth.starts_at == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert growth.compare_starts_at == datetime(2026, 9, 30, 16, tzinfo=UTC)
    assert growth.compare_ends_at == datetime(2026, 10, 14, 17, tzinfo=UTC)
    assert period_label(growth, SHANGHAI) == (
        "本月至今（11月1日 00:00–11月15日 01:00），对比上月同期（10月1日 00:00–10月15日 01:00）"
    )


@pytest.mark.parametrize(
    ("board", "text", "key"),
    [
        (RankingBoard.GOLD_STAFF, "2026-10", "2026-10"),
        (RankingBoard.GOLD_DEPARTMENTS, "2026-01", "2026-01"),
        (RankingBoard.BEST_TEAM, "2026-11-14", "2026-11-14"),
    ],
)
def test_period_keys_are_checked_per_board(board: RankingBoard, text: str, key: str) -> None:
    assert check_period(board, text) == key


@pytest.mark.parametrize(
    ("board", "text"),
    [
        (RankingBoard.GOLD_STAFF, "2026-13"),
        (RankingBoard.GOLD_STAFF, "2026-10-01"),
        (RankingBoard.GOLD_STAFF, "26-10"),
        (RankingBoard.DOCTOR_POPULARITY, "2026-10"),
        (RankingBoard.DOCTOR_POPULARITY, "2026-02-30"),
        (RankingBoard.DOCTOR_POPULARITY, "２０２６-10-01"),
    ],
)
def test_wrong_period_keys_are_refused(board: RankingBoard, text: str) -> None:
    with pytest.raises(BadPeriod):
        check_period(board, text)


def test_reasons_explain_the_score_in_plain_words() -> None:
    now = datetime(2026, 11, 15, 4, tzinfo=UTC)

    def why(board: RankingBoard, **inputs: float) -> str:
        return reason(board, inputs, current_window(board, now, RULES), RULES)

    assert why(RankingBoard.GOLD_DEPARTMENTS, consults=1203, reviews=4, positive_reviews=4) == "10月接诊 1,203 次"
    assert why(RankingBoard.GOLD_STAFF, consults=88, reviews=40, positive_reviews=39) == "10月接诊 88 次，好评率 97.5%"
    assert why(RankingBoard.DOCTOR_POPULARITY, consults=52, heat=31.44) == "近7天问诊 52 次，热度 31.4"
    assert (
        why(RankingBoard.FASTEST_GROWTH, consults=45, consults_before=20) == "本月至今 45 次，上月同期 20 次，增长 125%"
    )
    assert (
        why(RankingBoard.FASTEST_GROWTH, consults=20, consults_before=25) == "本月至今 20 次，上月同期 25 次，下降 20%"
    )
    assert why(RankingBoard.FASTEST_GROWTH, consults=30, consults_before=30) == "本月至今 30 次，上月同期 30 次，持平"
    assert (
        why(RankingBoard.BEST_TEAM, reviews=86, rating_sum=413, completed=39, settled=40)
        == "近90天评分 4.8（86 条评价），完成率 98%"
    )


def test_every_board_has_a_definition_with_its_parameters() -> None:
    rules = RankingRules(gold_size=10, staff_roles=(StaffRole.DOCTOR, StaffRole.NURSE), team_min_reviews=15)
    for board in ALL_BOARDS:
        text = definition(board, rules)
        assert text and "Asia/Shanghai" in definition(RankingBoard.GOLD_STAFF, rules)
    assert "前10位在职医生、护士" in definition(RankingBoard.GOLD_STAFF, rules)
    assert "15条" in definition(RankingBoard.BEST_TEAM, rules)


def test_rules_survive_their_json_form() -> None:
    rules = RankingRules(staff_roles=(StaffRole.NURSE,), decay_days=1.5)
    assert RankingRules.from_json(rules.to_json()) == rules
    assert RankingRules.from_json({**rules.to_json(), "a_parameter_of_the_future": 1}) == rules
