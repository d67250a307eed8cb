"""A small embedded HIS for the 复诊续方 eligibility check in development and tests: the offline
visits of the demo patients (their profiles' `his_patient_id`, P100010 ... P100031), relative to
the app's clock.

It implements the whole `HisPort`; only `record()` has data (encounters, no reports). Tests add
patients with `remember()`, and make it fail with `unavailable = True`. Production without a HIS
uses `datasources.his.port.UnconfiguredHis` instead, so nothing synthetic reaches a real patient.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from datasources.his.model import (
    AttachmentContent,
    HisEncounter,
    HisPatient,
    HisReport,
    HisResult,
    PatientRecord,
    Period,
    VisitProgress,
)
from datasources.his.resilience import Deadline, HisUnavailable
from domain.health_records import VisitKind

# (his_patient_id, kind, department, days ago)
DEMO_VISITS: list[tuple[str, VisitKind, str, int]] = [
    ("P100010", VisitKind.OUTPATIENT, "心血管内科", 20),
    ("P100010", VisitKind.OUTPATIENT, "消化内科", 250),
    ("P100011", VisitKind.OUTPATIENT, "内分泌科", 12),
    ("P100011", VisitKind.INPATIENT, "心血管内科", 60),
    ("P100020", VisitKind.OUTPATIENT, "呼吸与危重症医学科", 30),
    ("P100021", VisitKind.OUTPATIENT, "老年医学科", 40),
    ("P100021", VisitKind.EMERGENCY, "神经内科", 90),
    ("P100030", VisitKind.OUTPATIENT, "妇科", 15),
    ("P100031", VisitKind.OUTPATIENT, "肾内科", 70),
]


def encounter(encounter_id: str, kind: VisitKind, department: str, start: datetime) -> HisEncounter:
    return HisEncounter(
        id=encounter_id,
        class_code={VisitKind.OUTPATIENT: "AMB", VisitKind.EMERGENCY: "EMER", VisitKind.INPATIENT: "IMP"}.get(kind),
        kind=kind,
        status="finished",
        period=Period(start=start, end=start + timedelta(hours=1)),
        department=department,
    )


class EmbeddedHis:
    upstream = "his:embedded"

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._extra: dict[str, list[HisEncounter]] = {}
        self.unavailable = False

    def remember(self, patient_id: str, encounters: Iterable[HisEncounter]) -> None:
        self._extra.setdefault(patient_id, []).extend(encounters)

    def _check(self) -> None:
        if self.unavailable:
            raise HisUnavailable("embedded HIS switched off")

    async def patient(self, patient_id: str, *, deadline: Deadline) -> HisPatient | None:
        self._check()
        known = patient_id in self._extra or any(pid == patient_id for pid, *_ in DEMO_VISITS)
        return HisPatient(id=patient_id) if known else None

    async def record(self, patient_id: str, *, deadline: Deadline) -> PatientRecord:
        self._check()
        now = self._clock()
        found = [
            encounter(f"{pid}-{n}", kind, department, now - timedelta(days=days))
            for n, (pid, kind, department, days) in enumerate(DEMO_VISITS)
            if pid == patient_id
        ] + self._extra.get(patient_id, [])
        found.sort(key=lambda e: e.period.start or now, reverse=True)
        return PatientRecord(encounters=tuple(found))

    async def report(self, patient_id: str, report_id: str, *, deadline: Deadline) -> HisReport | None:
        self._check()
        return None

    async def observations(
        self, patient_id: str, *, system: str | None, code: str, deadline: Deadline
    ) -> tuple[HisResult, ...]:
        self._check()
        return ()

    async def visit_progress(self, patient_id: str, *, day: date, deadline: Deadline) -> VisitProgress | None:
        self._check()
        return None

    async def attachment(
        self, patient_id: str, report_id: str, index: int, *, deadline: Deadline
    ) -> AttachmentContent | None:
        self._check()
        return None
