"""What the HIS tells us, in our own terms (DTOs). Every adapter (FHIR R4 today; HL7 v2, SOAP or SQL
views later) returns these; nothing above the port ever sees a FHIR resource.

The models are immutable msgspec structs and serialise to JSON, which is how they are cached. The
adapter checks every field as it reads the HIS's answer, so building them validates nothing twice: a
record of a few hundred results is built, cached and read back in well under a millisecond each.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

from domain.enums import VisitStep
from domain.health_records import (
    FlagSource,
    RangeBounds,
    ReportKind,
    ResultFlag,
    VisitKind,
    flag_from_range,
)


class HisModel(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """Immutable and keyword-only (stated on each subclass too: mypy and msgspec read them per class);
    unknown fields in a cached entry are refused. Not tracked by the garbage collector: a tree of these
    holds no reference cycle (each is built from finished parts)."""


class Period(HisModel, frozen=True, kw_only=True):
    start: datetime | None = None
    end: datetime | None = None

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or self.start <= moment) and (self.end is None or moment < self.end)


class HisPatient(HisModel, frozen=True, kw_only=True):
    """The HIS's registration of a person. The resident ID number is kept only as a keyed digest
    (to check that a profile really is this person) and masked."""

    id: str
    name: str | None = None
    gender: Literal["male", "female", "other", "unknown"] | None = None
    birth_date: date | None = None
    resident_id_digest: str | None = None
    resident_id_masked: str | None = None
    mobile_masked: str | None = None
    medical_record_number: str | None = None


class ClassPeriod(HisModel, frozen=True, kw_only=True):
    """One entry of Encounter.classHistory: the visit was of this kind during this period."""

    class_code: str
    kind: VisitKind
    period: Period


class HisEncounter(HisModel, frozen=True, kw_only=True):
    id: str
    class_code: str | None = None
    kind: VisitKind
    status: str | None = None
    period: Period = Period()
    department: str | None = None
    reason: str | None = None
    history: tuple[ClassPeriod, ...] = ()

    def kind_at(self, moment: datetime | None) -> VisitKind:
        """The kind of visit in force at `moment`: an emergency visit that became an admission is
        急诊 for what happened before the admission and 住院 after it."""
        if moment is not None:
            for entry in self.history:
                if entry.period.contains(moment):
                    return entry.kind
        return self.kind

    @property
    def started_as(self) -> VisitKind:
        dated = [entry for entry in self.history if entry.period.start is not None]
        if not dated:
            return self.kind
        return min(dated, key=lambda entry: entry.period.start or datetime.max).kind


class Quantity(HisModel, frozen=True, kw_only=True):
    value: float
    comparator: Literal["<", "<=", ">=", ">"] | None = None
    unit: str | None = None
    unit_key: str | None = None  # the UCUM code, or the unit as written: what makes values comparable


class ReferenceRange(HisModel, frozen=True, kw_only=True):
    low: float | None = None
    high: float | None = None
    unit: str | None = None
    unit_key: str | None = None
    text: str | None = None
    meaning: str | None = None  # referencerange-meaning code: normal, recommended, treatment...
    age_low: float | None = None  # years
    age_high: float | None = None
    applies_to: tuple[str, ...] = ()  # "male" / "female" when the range is for one sex only

    @property
    def bounds(self) -> RangeBounds:
        return RangeBounds(self.low, self.high, self.unit, self.text)

    def applies(self, *, age_years: float | None, gender: str | None) -> bool:
        if age_years is not None:
            if self.age_low is not None and age_years < self.age_low:
                return False
            if self.age_high is not None and age_years > self.age_high:
                return False
        return not (gender and self.applies_to and gender not in self.applies_to)

    @property
    def conditions(self) -> int:
        return (self.age_low is not None or self.age_high is not None) + bool(self.applies_to)


class Assessment(HisModel, frozen=True, kw_only=True):
    range: ReferenceRange | None
    flag: ResultFlag | None
    source: FlagSource | None


class HisResult(HisModel, frozen=True, kw_only=True):
    """One result (Observation, or one component of it)."""

    id: str | None = None
    code: str | None = None
    code_system: str | None = None
    his_name: str | None = None
    quantity: Quantity | None = None
    value_text: str | None = None  # valueString, valueCodeableConcept, valueBoolean... as text
    ranges: tuple[ReferenceRange, ...] = ()
    reported_flag: ResultFlag | None = None
    interpretation_text: str | None = None
    status: str | None = None
    effective_at: datetime | None = None
    note: str | None = None

    def assess(self, *, age_years: float | None, gender: str | None) -> Assessment:
        """The range that applies to this person, and the flag: the laboratory's own when it gave one,
        else the value compared with that range (only when both are in the same unit)."""
        chosen = self.applicable_range(age_years=age_years, gender=gender)
        if self.reported_flag is not None:
            return Assessment(range=chosen, flag=self.reported_flag, source=FlagSource.REPORTED)
        quantity = self.quantity
        if quantity is None or chosen is None or quantity.comparator is not None:
            return Assessment(range=chosen, flag=None, source=None)
        if chosen.unit_key and quantity.unit_key and chosen.unit_key != quantity.unit_key:
            return Assessment(range=chosen, flag=None, source=None)
        flag = flag_from_range(quantity.value, chosen.low, chosen.high)
        return Assessment(range=chosen, flag=flag, source=FlagSource.REFERENCE_RANGE if flag else None)

    def applicable_range(self, *, age_years: float | None, gender: str | None) -> ReferenceRange | None:
        # Normal ranges only: a "treatment" or "therapeutic" range is not what 偏高/偏低 means.
        candidates = [r for r in self.ranges if r.meaning in (None, "normal", "recommended")]
        fitting = [r for r in candidates if r.applies(age_years=age_years, gender=gender)]
        if not fitting:
            return candidates[0] if len(candidates) == 1 else None
        return max(fitting, key=lambda r: r.conditions)


class Attachment(HisModel, frozen=True, kw_only=True):
    """A document attached to a report (DiagnosticReport.presentedForm); the content is not kept."""

    index: int
    content_type: str | None = None
    title: str | None = None
    size: int | None = None
    language: str | None = None
    url: str | None = None  # where the HIS serves it, when not inline
    inline: bool = False


class AttachmentContent(HisModel, frozen=True, kw_only=True):
    content_type: str
    title: str | None
    data: bytes


class HisReport(HisModel, frozen=True, kw_only=True):
    id: str
    kind: ReportKind
    section: str | None = None
    section_label: str | None = None
    code: str | None = None
    code_system: str | None = None
    his_title: str | None = None
    status: str | None = None
    encounter_id: str | None = None
    effective_at: datetime | None = None
    issued_at: datetime | None = None
    conclusion: str | None = None
    performer: str | None = None
    results: tuple[HisResult, ...] = ()
    missing_results: int = 0  # referenced results the HIS did not return
    attachments: tuple[Attachment, ...] = ()

    @property
    def when(self) -> datetime | None:
        return self.effective_at or self.issued_at


class PatientRecord(HisModel, frozen=True, kw_only=True):
    """A patient's visits and reports, newest first: what the health record centre shows."""

    encounters: tuple[HisEncounter, ...] = ()
    reports: tuple[HisReport, ...] = ()


class StepLocation(HisModel, frozen=True, kw_only=True):
    building_floor: str | None = None  # 门诊楼3层
    room: str | None = None  # 7诊室
    directions: str | None = None  # 出电梯右转


class StepProgress(HisModel, frozen=True, kw_only=True):
    step: VisitStep
    status: str  # FHIR Task.status: requested, ready, in-progress, completed, cancelled...
    started_at: datetime | None = None
    completed_at: datetime | None = None
    location: StepLocation | None = None
    queue_number: str | None = None
    waiting_ahead: int | None = None
    note: str | None = None


class VisitProgress(HisModel, frozen=True, kw_only=True):
    """Where a patient is in today's visit, as the HIS's workflow tasks say."""

    encounter: HisEncounter
    doctor: str | None = None
    steps: tuple[StepProgress, ...] = ()
