"""The operations dashboard (OPERATIONS): series ready to chart, computed by aggregate SQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Annotated

import strawberry

from datasources.db.queries import dashboard as queries
from datasources.db.queries.dashboard import Cell, Period
from domain.enums import ConsultGrouping, ConsultService, SeriesInterval
from schema.common import check_first
from schema.content import ManagedArticle
from schema.context import Info
from schema.enums import ROLE_LABELS

strawberry.enum(SeriesInterval, description="DAY, or WEEK (Monday to Sunday; a point is dated by its Monday).")
strawberry.enum(
    ConsultGrouping,
    description="Split consults by SERVICE (the five services), DEPARTMENT, or ROLE (医 / 护 / 药; TEAM for team "
    "consults and MDT).",
)

SERVICE_LABELS = {
    ConsultService.FOLLOW_UP: "复诊续方",
    ConsultService.VIDEO: "视频问诊",
    ConsultService.RAPID: "极速咨询",
    ConsultService.TEAM: "团队咨询",
    ConsultService.MDT: "MDT多学科诊疗",
}
KEY_LABELS = {
    "ALL": "全部",
    "BANNER": "电子锦旗",
    "LETTER": "感谢信",
    "AVERAGE": "平均接单时间（分钟）",
    "REFUND_RATE": "退款率",
}
GROUP_LABELS: dict[ConsultGrouping | None, dict[str, str]] = {
    None: KEY_LABELS,
    ConsultGrouping.SERVICE: {s.value: label for s, label in SERVICE_LABELS.items()},
    ConsultGrouping.ROLE: {"TEAM": "团队", **{r.value: label for r, label in ROLE_LABELS.items()}},
    ConsultGrouping.DEPARTMENT: {},  # the department's name comes with the rows
}
MAX_TOP_ARTICLES = 50
INTERVAL = strawberry.argument(description="One point per DAY or per WEEK.")


@strawberry.type(description="One point of a series: a local day (or the Monday of a week) and its value.")
class SeriesPoint:
    date: date = strawberry.field(description="The day, or the Monday of the week, in Asia/Shanghai.")
    value: float | None = strawberry.field(
        description="The value; counts are whole numbers (0 when nothing happened); averages and rates are null "
        "when there was nothing to average."
    )


@strawberry.type(description="A series ready to chart: every day (or week) of the period, in order.")
class Series:
    key: str = strawberry.field(description="Machine-readable key, e.g. FOLLOW_UP, a department id, DOCTOR, ALL.")
    label: str = strawberry.field(description="What to print in the legend, e.g. 复诊续方, 心血管内科, 医.")
    points: list[SeriesPoint] = strawberry.field(description="One point per day or week of the period.")


def _series(
    cells: list[Cell], buckets: list[date], *, fill: float | None, labels: dict[str, str] = KEY_LABELS
) -> list[Series]:
    grouped: dict[str, dict[date, float | None]] = defaultdict(dict)
    shown: dict[str, str] = {}
    for cell in cells:
        grouped[cell.key][cell.bucket] = cell.value
        shown[cell.key] = labels.get(cell.label, cell.label)
    totals = {key: sum(v for v in values.values() if v is not None) for key, values in grouped.items()}
    return [
        Series(
            key=key,
            label=shown[key],
            points=[SeriesPoint(date=day, value=grouped[key].get(day, fill)) for day in buckets],
        )
        for key in sorted(grouped, key=lambda k: (-totals[k], k))
    ]


def _one(cells: list[Cell], buckets: list[date], key: str) -> Series:
    found = _series(cells, buckets, fill=None)
    return found[0] if found else _empty(key, buckets, None)


def _empty(key: str, buckets: list[date], fill: float | None) -> Series:
    return Series(key=key, label=KEY_LABELS[key], points=[SeriesPoint(date=d, value=fill) for d in buckets])


@strawberry.type(description="One stage of the order funnel.")
class FunnelStage:
    stage: str = strawberry.field(description="CREATED, PAID, COMPLETED or REVIEWED.")
    label: str = strawberry.field(description="下单, 支付, 完成 or 评价.")
    count: int = strawberry.field(description="Consults of the period that reached this stage.")
    share_of_previous: float | None = strawberry.field(
        description="count ÷ the previous stage's count (null for the first stage, or when that is 0)."
    )


@strawberry.type(description="Of the consults created in the period, how many were paid, completed and reviewed.")
class OrderFunnel:
    stages: list[FunnelStage] = strawberry.field(description="CREATED → PAID → COMPLETED → REVIEWED.")


@strawberry.type(description="An article and how often it was read in the period.")
class ArticleViews:
    article: ManagedArticle = strawberry.field(description="The article (in whatever status it is now).")
    views: int = strawberry.field(description="Views in the period.")


@strawberry.type(
    description="Platform use over a period of local (Asia/Shanghai) days, both ends included. Every figure is "
    "computed by aggregate SQL when asked for; ask only for the charts you show."
)
class OperationsDashboard:
    first_day: date = strawberry.field(description="First day of the period.")
    last_day: date = strawberry.field(description="Last day of the period (included).")
    time_zone: str = strawberry.field(description="The time zone of the days, e.g. Asia/Shanghai.")
    period: strawberry.Private[Period]

    @strawberry.field(description="Consults created per day or week: one series in all, or one per group.")
    async def consults(
        self,
        info: Info,
        interval: Annotated[SeriesInterval, INTERVAL] = SeriesInterval.DAY,
        group_by: Annotated[
            ConsultGrouping | None, strawberry.argument(description="Split by service, department or role.")
        ] = None,
    ) -> list[Series]:
        async with info.context.db() as db:
            cells = await queries.consults_per_bucket(db, period=self.period, interval=interval, group_by=group_by)
        buckets = self.period.buckets(interval)
        return _series(cells, buckets, fill=0.0, labels=GROUP_LABELS[group_by]) or [_empty("ALL", buckets, 0.0)]

    @strawberry.field(description="The order funnel: created → paid → completed → reviewed.")
    async def funnel(self, info: Info) -> OrderFunnel:
        async with info.context.db() as db:
            found = await queries.funnel(db, period=self.period)
        counts = [
            ("CREATED", "下单", found.created),
            ("PAID", "支付", found.paid),
            ("COMPLETED", "完成", found.completed),
            ("REVIEWED", "评价", found.reviewed),
        ]
        stages = []
        for i, (stage, label, count) in enumerate(counts):
            previous = counts[i - 1][2] if i else 0
            share = count / previous if i and previous else None
            stages.append(FunnelStage(stage=stage, label=label, count=count, share_of_previous=share))
        return OrderFunnel(stages=stages)

    @strawberry.field(
        description="平均接单时间: mean minutes from payment to first response, by the day (week) of the response."
    )
    async def average_response_minutes(
        self, info: Info, interval: Annotated[SeriesInterval, INTERVAL] = SeriesInterval.DAY
    ) -> Series:
        async with info.context.db() as db:
            cells = await queries.response_minutes_per_bucket(db, period=self.period, interval=interval)
        return _one(cells, self.period.buckets(interval), "AVERAGE")

    @strawberry.field(description="Refund rate: of the consults paid in a day (week), the share refunded (0 to 1).")
    async def refund_rate(
        self, info: Info, interval: Annotated[SeriesInterval, INTERVAL] = SeriesInterval.DAY
    ) -> Series:
        async with info.context.db() as db:
            cells = await queries.refund_rate_per_bucket(db, period=self.period, interval=interval)
        return _one(cells, self.period.buckets(interval), "REFUND_RATE")

    @strawberry.field(description="E-banners and thank-you letters sent per day (week), one series per kind.")
    async def appreciations(
        self, info: Info, interval: Annotated[SeriesInterval, INTERVAL] = SeriesInterval.DAY
    ) -> list[Series]:
        async with info.context.db() as db:
            cells = await queries.appreciations_per_bucket(db, period=self.period, interval=interval)
        buckets = self.period.buckets(interval)
        found = {s.key: s for s in _series(cells, buckets, fill=0.0)}
        return [found.get(kind) or _empty(kind, buckets, 0.0) for kind in ("BANNER", "LETTER")]

    @strawberry.field(description="The most-read articles of the period, most views first.")
    async def top_articles(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=f"How many, 1 to {MAX_TOP_ARTICLES}.")] = 10,
    ) -> list[ArticleViews]:
        check_first(first, MAX_TOP_ARTICLES)
        async with info.context.db() as db:
            rows = await queries.top_articles(db, period=self.period, limit=first)
        now = info.context.now
        return [ArticleViews(article=ManagedArticle.from_row(a, now=now), views=n) for a, n in rows]
