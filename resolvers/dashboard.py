"""The operations dashboard query."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from datasources.db.queries.dashboard import Period
from schema.context import Info
from schema.dashboard import OperationsDashboard
from schema.errors import BadInput

MAX_DAYS = 366


async def operations_dashboard(
    info: Info,
    first_day: Annotated[date, strawberry.argument(description="First day of the period (Asia/Shanghai).")],
    last_day: Annotated[
        date, strawberry.argument(description=f"Last day, included; at most {MAX_DAYS} days after the first.")
    ],
) -> OperationsDashboard:
    if last_day < first_day:
        raise BadInput("`lastDay` must not be before `firstDay`.", argument="lastDay")
    if (last_day - first_day).days >= MAX_DAYS:
        raise BadInput(f"A period has at most {MAX_DAYS} days.", argument="lastDay")
    zone = info.context.settings.zone
    return OperationsDashboard(
        first_day=first_day,
        last_day=last_day,
        time_zone=zone.key,
        period=Period(first=first_day, last=last_day, zone=zone),
    )
