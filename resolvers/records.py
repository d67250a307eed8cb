"""The health record centre: `healthRecord(profileId)` and `indicatorTrend(profileId, code)`.

Only the account that owns the profile reads it (any other id is FORBIDDEN, exactly like a missing
one), only with the profile's health-data consent, and only once the HIS patient is checked to be
the profile's person (same resident ID number). Every read, and every refused attempt, is audited.
The HIS calls of one request run concurrently, within one deadline.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import Annotated, TypeVar

import strawberry

from datasources.his.model import HisPatient
from datasources.his.resilience import HisUnavailable
from datasources.his.service import Fetched
from datasources.identity import profiles as store
from domain.audit import AuditResult
from domain.health_records import LOINC
from resolvers.auditing import audit_access, audit_denial
from schema.common import parse_id
from schema.context import Info
from schema.errors import BadInput, ClientError, ErrorCode
from schema.identity import ConsentStatus
from schema.permissions import forbidden
from schema.records import HealthRecord, IndicatorTrend, Reader, his_unavailable, note_stale

T = TypeVar("T")
_CODE = re.compile(r"[A-Za-z0-9._\-]{1,64}")
_SYSTEM = re.compile(r"(https?://|urn:)[^\s|]{1,200}")


def not_linked() -> ClientError:
    return ClientError(
        "该就诊人还没有关联医院的就诊信息，或信息不一致，请到医院服务台核对 (this profile is not linked to a "
        "patient of the hospital, or the details do not match)",
        ErrorCode.HIS_NOT_LINKED,
    )


async def open_health_data(info: Info, profile_id: strawberry.ID, *, action: str) -> Reader:
    """The reader of a profile's health data, after the owner, consent and link checks."""
    pid = parse_id(profile_id, "profileId")
    account_id = info.context.viewer.account_id
    assert account_id is not None, "guarded by IsPatient"
    try:
        async with info.context.db() as db:
            row, consents = await store.profile_with_consents(db, account_id=account_id, profile_id=pid)
    except store.ProfileNotFound:
        # The same answer whether the profile belongs to someone else or does not exist at all.
        await audit_denial(info, action=action, target_type="PatientProfile", target_id=pid)
        raise forbidden() from None
    if not ConsentStatus.from_rows(consents).granted:
        await audit_access(info, action=action, profile_id=pid, result=AuditResult.DENIED)
        raise ClientError(
            "请先阅读并同意《个人健康信息处理同意书》 (accept the consent to processing of health data first)",
            ErrorCode.CONSENT_REQUIRED,
        )
    if not row.his_patient_id:
        await audit_access(info, action=action, profile_id=pid, result=AuditResult.DENIED)
        raise not_linked()
    today = info.context.now.astimezone(info.context.settings.zone).date()
    return Reader(account_id=account_id, profile=row, patient_id=row.his_patient_id, today=today)


async def outcome(call: Awaitable[Fetched[T]]) -> Fetched[T] | None:
    """The answer, or None when the HIS could not give one (nothing cached either)."""
    try:
        return await call
    except HisUnavailable:
        return None


def is_same_person(patient: Fetched[HisPatient | None] | None, reader: Reader) -> bool | None:
    """True when the HIS patient has the profile's resident ID number; None when it cannot be told."""
    if patient is None:
        return None
    found = patient.value
    return found is not None and found.resident_id_digest == reader.profile.id_number_digest


async def refuse_other_person(info: Info, reader: Reader) -> ClientError:
    await audit_access(
        info, action="health_record.identity_mismatch", profile_id=reader.profile.id, result=AuditResult.DENIED
    )
    return not_linked()


async def health_record(
    info: Info,
    profile_id: Annotated[strawberry.ID, strawberry.argument(description="One of the account's profiles.")],
) -> HealthRecord:
    reader = await open_health_data(info, profile_id, action="health_record.read")
    his, deadline = info.context.his, info.context.his_deadline
    # Both HIS reads and the audit row at once: no waterfall. The HIS requests go first, so that they
    # are on their way while the audit row is written; the record first, as it takes longest.
    record, patient, _ = await asyncio.gather(
        outcome(his.record(reader.patient_id, deadline=deadline)),
        outcome(his.patient(reader.patient_id, deadline=deadline)),
        audit_access(info, action="health_record.read", profile_id=reader.profile.id),
    )
    same = is_same_person(patient, reader)
    if same is False:
        raise await refuse_other_person(info, reader)
    if same is None:
        record = None  # not shown before the person is confirmed
    stale = [part for part in (patient, record) if part is not None and part.stale]
    if stale:
        note_stale(info, min(stale, key=lambda part: part.as_of))
    return HealthRecord(
        profile_id=strawberry.ID(str(reader.profile.id)),
        reader=reader,
        patient=patient,
        record=record,
        verified=bool(same),
    )


async def indicator_trend(
    info: Info,
    profile_id: Annotated[strawberry.ID, strawberry.argument(description="One of the account's profiles.")],
    code: Annotated[str, strawberry.argument(description="The indicator's code (`LabIndicator.code`).")],
    code_system: Annotated[
        str | None, strawberry.argument(description="Its code system; LOINC when not given.")
    ] = LOINC,
    unit: Annotated[
        str | None,
        strawberry.argument(description="Compare values in this unit (UCUM code); by default the latest's."),
    ] = None,
) -> IndicatorTrend | None:
    if not _CODE.fullmatch(code):
        raise BadInput("`code` is not an indicator code.", argument="code")
    if code_system is not None and not _SYSTEM.fullmatch(code_system):
        raise BadInput("`codeSystem` is not a code system URI.", argument="codeSystem")
    reader = await open_health_data(info, profile_id, action="health_record.trend.read")
    his, deadline = info.context.his, info.context.his_deadline
    _, patient, series = await asyncio.gather(
        audit_access(info, action="health_record.trend.read", profile_id=reader.profile.id),
        outcome(his.patient(reader.patient_id, deadline=deadline)),
        outcome(his.observations(reader.patient_id, system=code_system, code=code, deadline=deadline)),
    )
    same = is_same_person(patient, reader)
    if same is False:
        raise await refuse_other_person(info, reader)
    if same is None or series is None:
        raise his_unavailable()
    if series.stale or (patient is not None and patient.stale):
        note_stale(info, series)
    return IndicatorTrend.build(code=code, system=code_system, unit=unit, fetched=series, reader=reader)
