"""The electronic visit companion (电子伴诊): a plain-language guide through the whole visit, and the
personal journey of today's visit, driven by the HIS (so it moves on by itself)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import strawberry

from datasources.db.tables import VisitGuideStep as GuideRow
from datasources.his.model import StepLocation, StepProgress, VisitProgress
from domain.companion import JourneyStepStatus, journey
from domain.enums import VisitStep

strawberry.enum(
    VisitStep,
    description="The steps of a visit, in order: BOOK 预约挂号, CHECK_IN 签到, WAIT 候诊, CONSULT 就诊, PAY 缴费, "
    "TESTS 检查/检验, PHARMACY 取药, REPORTS 查报告.",
)
strawberry.enum(
    JourneyStepStatus,
    description="DONE 已完成, CURRENT 正在进行 (where the patient is now), UPCOMING 还没到, NOT_NEEDED 本次不需要.",
)


@strawberry.type(description="The guide for one step of a visit, in plain language (edited by content editors).")
class VisitGuideStep:
    step: VisitStep = strawberry.field(description="Which step.")
    position: int = strawberry.field(description="1 to 8, the order of the visit.")
    title: str = strawberry.field(description="Name of the step (预约挂号...).")
    summary: str = strawberry.field(description="What to do, in a few plain sentences.")
    large_print_text: str = strawberry.field(description="A few words for the large-print (长辈版) view.")
    read_aloud_text: str = strawberry.field(description="The same, written to be read aloud (text-to-speech).")
    tips: list[str] = strawberry.field(description="Short practical tips.")
    updated_at: datetime = strawberry.field(description="When the text was last edited.")

    @classmethod
    def from_row(cls, row: GuideRow) -> VisitGuideStep:
        return cls(
            step=row.step,
            position=row.position,
            title=row.title,
            summary=row.summary,
            large_print_text=row.large_print_text,
            read_aloud_text=row.read_aloud_text,
            tips=list(row.tips),
            updated_at=row.updated_at,
        )


@strawberry.type(description="Where to go (去哪里).")
class Place:
    building_floor: str | None = strawberry.field(description="Building and floor (门诊楼3层).")
    room: str | None = strawberry.field(description="Room or window (7诊室, 2号取药窗口).")
    directions: str | None = strawberry.field(description="How to find it, in plain words.")
    text: str = strawberry.field(description="All of it in one line, to show or read aloud.")

    @classmethod
    def from_dto(cls, place: StepLocation | None) -> Place | None:
        if place is None:
            return None
        parts = [p for p in (place.building_floor, place.room) if p]
        text = " ".join(parts) + (f"（{place.directions}）" if place.directions else "")
        return cls(building_floor=place.building_floor, room=place.room, directions=place.directions, text=text)


@strawberry.type(description="One step of today's visit, with where it stands.")
class JourneyStep:
    step: VisitStep = strawberry.field(description="Which step.")
    title: str = strawberry.field(description="Name of the step.")
    status: JourneyStepStatus = strawberry.field(description="Done, current, upcoming, or not needed this time.")
    started_at: datetime | None = strawberry.field(description="When it started, if it has.")
    completed_at: datetime | None = strawberry.field(description="When it was done, if it is.")
    place: Place | None = strawberry.field(description="Where it happens.")
    guide: VisitGuideStep = strawberry.field(description="The guide for this step.")


@strawberry.type(
    description="Today's visit of one profile, step by step, as the HIS reports it; it moves on by itself "
    "(ask again after `refreshAfterSeconds`). Every account managing the profile sees the same journey."
)
class VisitJourney:
    profile_id: strawberry.ID = strawberry.field(description="The profile.")
    day: date = strawberry.field(description="Today, in the hospital's time zone.")
    has_visit_today: bool = strawberry.field(description="False when there is no visit today.")
    finished: bool = strawberry.field(description="True once every step of today's visit is done.")
    department: str | None = strawberry.field(description="Department of today's visit.")
    doctor: str | None = strawberry.field(description="The doctor, once known.")
    visit_started_at: datetime | None = strawberry.field(description="When today's visit started.")
    current_step: VisitStep | None = strawberry.field(description="Where the patient is now; null when finished.")
    current_step_title: str | None = strawberry.field(description="Name of the current step.")
    next_action: str = strawberry.field(description="What to do now, in plain language.")
    place: Place | None = strawberry.field(description="Where to go now.")
    queue_number: str | None = strawberry.field(description="Queue number (排队号), while waiting or consulting.")
    waiting_ahead: int | None = strawberry.field(description="Patients still ahead in the queue.")
    large_print_text: str = strawberry.field(description="The current step in a few words, for large print.")
    read_aloud_text: str = strawberry.field(description="The current state as one text to read aloud.")
    steps: list[JourneyStep] = strawberry.field(description="Every step of the visit, in order.")
    refresh_after_seconds: int = strawberry.field(description="When to ask again for the next step.")
    stale: bool = strawberry.field(description="True when the HIS did not answer and this is the last known state.")
    as_of: datetime = strawberry.field(description="When the HIS reported this state.")

    @classmethod
    def build(
        cls,
        *,
        profile_id: int,
        day: date,
        progress: VisitProgress | None,
        guide: Sequence[GuideRow],
        stale: bool,
        as_of: datetime,
        refresh_seconds: int,
    ) -> VisitJourney:
        texts = {row.step: VisitGuideStep.from_row(row) for row in guide}
        tasks: dict[VisitStep, StepProgress] = {s.step: s for s in progress.steps} if progress else {}
        statuses, current = journey({step: t.status for step, t in tasks.items()}, has_visit=progress is not None)
        steps = [
            JourneyStep(
                step=step,
                title=texts[step].title,
                status=statuses[step],
                started_at=tasks[step].started_at if step in tasks else None,
                completed_at=tasks[step].completed_at if step in tasks else None,
                place=Place.from_dto(tasks[step].location) if step in tasks else None,
                guide=texts[step],
            )
            for step in VisitStep
        ]
        now_task = tasks.get(current) if current else None
        queue = next((t.queue_number for t in tasks.values() if t.queue_number), None)
        ahead = now_task.waiting_ahead if now_task else None
        place = Place.from_dto(now_task.location) if now_task else None
        if progress is None:
            guide_step = texts[VisitStep.BOOK]
            action = f"今天没有就诊安排。{guide_step.summary}"
            large = "今天没有就诊"
            aloud = f"今天您没有就诊安排。{guide_step.read_aloud_text}"
        elif current is None:
            action = "本次就诊已全部完成。报告和医嘱都可以在健康档案里查看，祝您早日康复。"
            large = "就诊已完成"
            aloud = action
        else:
            guide_step = texts[current]
            action = guide_step.summary
            where = f"请到{place.text}。" if place else ""
            queued = ""
            if queue and current in (VisitStep.WAIT, VisitStep.CONSULT):
                queued = f"您的排队号是{queue}" + (f"，前面还有{ahead}人。" if ahead is not None else "。")
            action = f"{where}{queued}{action}"
            large = guide_step.large_print_text
            aloud = f"您现在在“{guide_step.title}”这一步。{where}{queued}{guide_step.read_aloud_text}"
        finished = progress is not None and current is None
        return cls(
            profile_id=strawberry.ID(str(profile_id)),
            day=day,
            has_visit_today=progress is not None,
            finished=finished,
            department=progress.encounter.department if progress else None,
            doctor=progress.doctor if progress else None,
            visit_started_at=progress.encounter.period.start if progress else None,
            current_step=current if progress is not None else VisitStep.BOOK,
            current_step_title=texts[current].title if current else None,
            next_action=action,
            place=place,
            queue_number=queue if current in (VisitStep.WAIT, VisitStep.CONSULT) else None,
            waiting_ahead=ahead,
            large_print_text=large,
            read_aloud_text=aloud,
            steps=steps,
            refresh_after_seconds=refresh_seconds if progress is not None and not finished else 600,
            stale=stale,
            as_of=as_of,
        )


@strawberry.input(description="The new text of one step of the visit guide (all fields; plain language please).")
class VisitGuideStepInput:
    title: str = strawberry.field(description="Name of the step, 1 to 32 characters.")
    summary: str = strawberry.field(description="What to do, 1 to 500 characters.")
    large_print_text: str = strawberry.field(description="A few words for large print, 1 to 24 characters.")
    read_aloud_text: str = strawberry.field(description="Text to read aloud, 1 to 1000 characters.")
    tips: list[str] = strawberry.field(description="At most 10 tips of 1 to 100 characters each.")


@strawberry.type(description="The step's guide was saved.")
class UpdateVisitGuideStepSuccess:
    step: VisitGuideStep = strawberry.field(description="The step as now shown to patients.")
