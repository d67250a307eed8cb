"""The HIS port: what the rest of the application may ask of the hospital information system.

An adapter implements it for one kind of HIS (FHIR R4 in datasources/his/fhir; an HL7 v2 feed, a
SOAP service or SQL views would be others) and returns our own DTOs. Every method is an idempotent
read, honours `deadline`, and raises `HisUnavailable` when the HIS cannot answer in time; a patient
or report that does not exist (or is not this patient's) is None, never an error.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from datasources.his.model import AttachmentContent, HisPatient, HisReport, HisResult, PatientRecord, VisitProgress
from datasources.his.resilience import Deadline, HisUnavailable


class HisPort(Protocol):
    upstream: str  # names the HIS in logs and picks its circuit breaker

    async def patient(self, patient_id: str, *, deadline: Deadline) -> HisPatient | None: ...

    async def record(self, patient_id: str, *, deadline: Deadline) -> PatientRecord:
        """Every visit and report of the patient, newest first, reports with their results."""
        ...

    async def report(self, patient_id: str, report_id: str, *, deadline: Deadline) -> HisReport | None: ...

    async def observations(
        self, patient_id: str, *, system: str | None, code: str, deadline: Deadline
    ) -> tuple[HisResult, ...]:
        """Every result with this code, oldest first (for trends)."""
        ...

    async def visit_progress(self, patient_id: str, *, day: date, deadline: Deadline) -> VisitProgress | None:
        """Where the patient is in the visit of `day` (hospital time), or None without one."""
        ...

    async def attachment(
        self, patient_id: str, report_id: str, index: int, *, deadline: Deadline
    ) -> AttachmentContent | None: ...


class UnconfiguredHis:
    """The HIS when none is configured (prod without HIS_FHIR_BASE_URL): every read is unavailable,
    so synthetic data never reaches real patients."""

    upstream = "his:unconfigured"

    async def patient(self, patient_id: str, *, deadline: Deadline) -> HisPatient | None:
        raise HisUnavailable("no HIS configured")

    async def record(self, patient_id: str, *, deadline: Deadline) -> PatientRecord:
        raise HisUnavailable("no HIS configured")

    async def report(self, patient_id: str, report_id: str, *, deadline: Deadline) -> HisReport | None:
        raise HisUnavailable("no HIS configured")

    async def observations(
        self, patient_id: str, *, system: str | None, code: str, deadline: Deadline
    ) -> tuple[HisResult, ...]:
        raise HisUnavailable("no HIS configured")

    async def visit_progress(self, patient_id: str, *, day: date, deadline: Deadline) -> VisitProgress | None:
        raise HisUnavailable("no HIS configured")

    async def attachment(
        self, patient_id: str, report_id: str, index: int, *, deadline: Deadline
    ) -> AttachmentContent | None:
        raise HisUnavailable("no HIS configured")
