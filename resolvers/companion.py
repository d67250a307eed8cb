"""The visit companion: the guide (public), today's journey of a profile, and editing the guide."""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry

from datasources.db.queries import companion as queries
from datasources.db.queries.companion import GuideText
from domain.audit import AuditResult
from domain.enums import VisitStep
from loaders.home import EVERYTHING
from resolvers.auditing import audit_access, write_audit
from resolvers.records import is_same_person, open_health_data, outcome, refuse_other_person
from schema.cache_control import VISIT_GUIDE, invalidate_cache
from schema.companion import UpdateVisitGuideStepSuccess, VisitGuideStep, VisitGuideStepInput, VisitJourney
from schema.context import Info
from schema.identity import ProblemReason, ValidationFailed
from schema.records import his_unavailable, note_stale

UpdateVisitGuideStepResult = Annotated[
    UpdateVisitGuideStepSuccess | ValidationFailed,
    strawberry.union("UpdateVisitGuideStepResult", description="The saved step, or why the input was refused."),
]

_LIMITS = {"title": 32, "summary": 500, "largePrintText": 24, "readAloudText": 1000}
_MAX_TIPS, _TIP_LENGTH = 10, 100


async def visit_guide(info: Info) -> list[VisitGuideStep]:
    rows = await info.context.loaders.visit_guide.load(EVERYTHING)
    return [VisitGuideStep.from_row(row) for row in rows]


async def visit_journey(
    info: Info,
    profile_id: Annotated[strawberry.ID, strawberry.argument(description="One of the account's profiles.")],
) -> VisitJourney | None:
    reader = await open_health_data(info, profile_id, action="visit_journey.read")
    his, deadline = info.context.his, info.context.his_deadline
    _, patient, progress, guide = await asyncio.gather(
        audit_access(info, action="visit_journey.read", profile_id=reader.profile.id),
        outcome(his.patient(reader.patient_id, deadline=deadline)),
        outcome(his.visit_progress(reader.patient_id, day=reader.today, deadline=deadline)),
        info.context.loaders.visit_guide.load(EVERYTHING),
    )
    same = is_same_person(patient, reader)
    if same is False:
        raise await refuse_other_person(info, reader)
    if same is None or progress is None:
        raise his_unavailable()
    if progress.stale:
        note_stale(info, progress)
    return VisitJourney.build(
        profile_id=reader.profile.id,
        day=reader.today,
        progress=progress.value,
        guide=guide,
        stale=progress.stale,
        as_of=progress.as_of,
        refresh_seconds=max(10, info.context.settings.his_visit_soft_ttl_seconds),
    )


def _validated(input: VisitGuideStepInput) -> GuideText | ValidationFailed:
    values = {
        "title": input.title.strip(),
        "summary": input.summary.strip(),
        "largePrintText": input.large_print_text.strip(),
        "readAloudText": input.read_aloud_text.strip(),
    }
    for field, value in values.items():
        if not 1 <= len(value) <= _LIMITS[field]:
            return ValidationFailed(
                message=f"`{field}` must have 1 to {_LIMITS[field]} characters.",
                field=field,
                reason=ProblemReason.INVALID,
                detail=None,
            )
    tips = [tip.strip() for tip in input.tips]
    if len(tips) > _MAX_TIPS or any(not 1 <= len(tip) <= _TIP_LENGTH for tip in tips):
        return ValidationFailed(
            message=f"At most {_MAX_TIPS} tips of 1 to {_TIP_LENGTH} characters each.",
            field="tips",
            reason=ProblemReason.INVALID,
            detail=None,
        )
    return GuideText(
        title=values["title"],
        summary=values["summary"],
        large_print_text=values["largePrintText"],
        read_aloud_text=values["readAloudText"],
        tips=tips,
    )


async def update_visit_guide_step(
    info: Info,
    step: Annotated[VisitStep, strawberry.argument(description="The step to change.")],
    input: Annotated[VisitGuideStepInput, strawberry.argument(description="Its new text.")],
) -> UpdateVisitGuideStepResult:
    text = _validated(input)
    if isinstance(text, ValidationFailed):
        return text
    async with info.context.db() as db, db.begin():
        row = await queries.update_guide_step(
            db, step=step, text=text, staff_account_id=info.context.viewer.account_id, now=info.context.now
        )
        await write_audit(
            info, db, action="visit_guide.update", result=AuditResult.OK, target_type="VisitGuideStep", target_id=step
        )
        success = UpdateVisitGuideStepSuccess(step=VisitGuideStep.from_row(row))
    await invalidate_cache(info, {VISIT_GUIDE})
    return success
