"""The visit companion's guide content."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db.tables import VisitGuideStep
from domain.enums import VisitStep


@dataclass(frozen=True)
class GuideText:
    title: str
    summary: str
    large_print_text: str
    read_aloud_text: str
    tips: list[str]


async def visit_guide(db: AsyncSession) -> Sequence[VisitGuideStep]:
    return (await db.scalars(select(VisitGuideStep).order_by(VisitGuideStep.position))).all()


async def update_guide_step(
    db: AsyncSession, *, step: VisitStep, text: GuideText, staff_account_id: int | None, now: datetime
) -> VisitGuideStep:
    row = await db.scalar(select(VisitGuideStep).where(VisitGuideStep.step == step))
    if row is None:
        raise LookupError(step)  # every step has a row from the migration on
    row.title = text.title
    row.summary = text.summary
    row.large_print_text = text.large_print_text
    row.read_aloud_text = text.read_aloud_text
    row.tips = list(text.tips)
    row.updated_at = now
    row.updated_by = staff_account_id
    await db.flush()
    return row
