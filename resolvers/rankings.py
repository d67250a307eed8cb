"""Ranking boards: any board for a chosen period, and the manual refresh (admin)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import strawberry

from datasources import rankings
from datasources.cache import holding_lock
from datasources.rankings import LOCK_NAME, MonthNotComplete
from domain.audit import AuditResult
from domain.rankings import ALL_BOARDS, GOLD_BOARDS, BadPeriod, RankingBoard, check_period, parse_month
from resolvers.auditing import write_audit
from schema.cache_control import RANKING_REFRESH_TAGS, invalidate_cache
from schema.context import Info
from schema.errors import BadInput
from schema.identity import ProblemReason, ValidationFailed
from schema.rankings import Ranking, RefreshInProgress, RefreshRankingsSuccess

RefreshRankingsResult = Annotated[
    RefreshRankingsSuccess | RefreshInProgress | ValidationFailed,
    strawberry.union(
        "RefreshRankingsResult", description="The boards as computed, or why nothing was computed this time."
    ),
]


async def ranking(
    info: Info,
    board: Annotated[RankingBoard, strawberry.argument(description="Which board.")],
    period: Annotated[
        str | None,
        strawberry.argument(
            description="YYYY-MM for the gold boards (a past month), YYYY-MM-DD for the TOP3 boards (the board "
            "as last computed that day); omit it for the newest."
        ),
    ] = None,
) -> Ranking | None:
    try:
        key = None if period is None else check_period(board, period)
    except BadPeriod as problem:
        raise BadInput(str(problem), argument="period") from None
    stored = await info.context.loaders.ranking_by_key.load((board, key))
    return None if stored is None else Ranking.from_stored(stored)


def _refused(message: str, field: str | None) -> ValidationFailed:
    return ValidationFailed(message=message, field=field, reason=ProblemReason.INVALID, detail=None)


async def refresh_rankings(
    info: Info,
    boards: Annotated[
        list[RankingBoard] | None, strawberry.argument(description="The boards to compute; all six when omitted.")
    ] = None,
    month: Annotated[
        str | None,
        strawberry.argument(
            description="YYYY-MM: compute the gold boards of this complete past month instead of the last one "
            "(only the gold boards; the TOP3 boards are always computed as of now)."
        ),
    ] = None,
) -> RefreshRankingsResult:
    context = info.context
    chosen = list(dict.fromkeys(boards)) if boards is not None else list(GOLD_BOARDS if month else ALL_BOARDS)
    wanted_month = None
    if month is not None:
        try:
            wanted_month = parse_month(month)
        except BadPeriod as problem:
            return _refused(str(problem), "month")
        if any(board not in GOLD_BOARDS for board in chosen):
            return _refused("月份只适用于金牌榜单 (a month applies to the gold boards only)", "month")
    if not chosen:
        return _refused("请至少选择一个榜单 (choose at least one board)", "boards")
    ttl = timedelta(seconds=context.settings.ranking_lock_seconds).total_seconds()
    async with holding_lock(context.cache, LOCK_NAME, ttl_seconds=ttl) as held:
        if not held:
            async with context.db() as db, db.begin():
                await write_audit(info, db, action="rankings.refresh", result=AuditResult.FAILED, target_type="Ranking")
            return RefreshInProgress(
                message="榜单正在更新，请稍后再试 (the boards are being refreshed; try again shortly)"
            )
        async with context.db() as db, db.begin():
            try:
                stored = await rankings.refresh_rankings(
                    db, now=context.now, rules=context.settings.ranking_rules, boards=chosen, month=wanted_month
                )
            except MonthNotComplete:
                return _refused("该月尚未结束 (that month has not ended yet)", "month")
            for board in chosen:
                await write_audit(
                    info, db, action="rankings.refresh", result=AuditResult.OK, target_type="Ranking", target_id=board
                )
    await invalidate_cache(info, RANKING_REFRESH_TAGS)
    return RefreshRankingsSuccess(rankings=[Ranking.from_stored(board) for board in stored])
