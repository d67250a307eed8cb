"""The visit companion's (电子伴诊) rules: where a patient is in today's visit, from the HIS's tasks."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from domain.enums import VisitStep


class JourneyStepStatus(StrEnum):
    DONE = "DONE"  # 已完成
    CURRENT = "CURRENT"  # 正在进行: where the patient is now
    UPCOMING = "UPCOMING"  # 还没到
    NOT_NEEDED = "NOT_NEEDED"  # 本次不需要 (no tests ordered, cancelled...)


_DONE = {"completed"}
_CURRENT = {"in-progress", "ready", "accepted", "received", "on-hold"}
_UPCOMING = {"requested", "draft"}


def journey(
    task_status: Mapping[VisitStep, str], *, has_visit: bool
) -> tuple[dict[VisitStep, JourneyStepStatus], VisitStep | None]:
    """The status of every step, and the current one (None once the visit is over).

    A step the HIS has no task for is not needed when the visit has already gone past it, and still
    to come otherwise; booking is done whenever there is a visit at all. Without a visit today, the
    first thing to do is to book one.
    """
    if not has_visit:
        return {step: JourneyStepStatus.UPCOMING for step in VisitStep}, VisitStep.BOOK
    statuses: dict[VisitStep, JourneyStepStatus] = {}
    for step in VisitStep:
        status = task_status.get(step)
        if status in _DONE:
            statuses[step] = JourneyStepStatus.DONE
        elif status in _CURRENT:
            statuses[step] = JourneyStepStatus.CURRENT
        elif status in _UPCOMING:
            statuses[step] = JourneyStepStatus.UPCOMING
        elif status is not None:
            statuses[step] = JourneyStepStatus.NOT_NEEDED  # cancelled, rejected, failed, entered-in-error
    order = list(VisitStep)
    reached = [
        n for n, step in enumerate(order) if statuses.get(step) in (JourneyStepStatus.DONE, JourneyStepStatus.CURRENT)
    ]
    furthest = max(reached, default=-1)
    for n, step in enumerate(order):
        if step in statuses:
            continue
        if step is VisitStep.BOOK:
            statuses[step] = JourneyStepStatus.DONE
        elif n < furthest:
            statuses[step] = JourneyStepStatus.NOT_NEEDED
        else:
            statuses[step] = JourneyStepStatus.UPCOMING
    current = next((s for s in order if statuses[s] is JourneyStepStatus.CURRENT), None)
    if current is None:
        current = next((s for s in order if statuses[s] is JourneyStepStatus.UPCOMING), None)
    return statuses, current
