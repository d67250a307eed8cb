"""The health record centre (健康档案): basic information, classified lab (检验) and exam (检查)
reports of outpatient, emergency and inpatient visits, lab indicators and their trends.

Everything here comes from the HIS through `info.context.his` (cached, see datasources/his/service.py)
and is only built after the owner and consent checks of resolvers/records.py.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

import strawberry

from datasources.db.tables import PatientProfile as ProfileRow
from datasources.his.fhir.parse import is_fhir_id
from datasources.his.model import (
    Assessment,
    HisEncounter,
    HisPatient,
    HisReport,
    HisResult,
    PatientRecord,
)
from datasources.his.model import ReferenceRange as RangeDTO
from datasources.his.resilience import HisUnavailable
from datasources.his.service import Fetched
from domain.enums import ProfileRelation
from domain.health_records import (
    FLAG_TEXT,
    REPORT_KIND_LABELS,
    VISIT_KIND_LABELS,
    FlagSource,
    ReportKind,
    ResultFlag,
    VisitKind,
    describe_range,
    indicator,
    is_abnormal,
    severity,
)
from domain.identity import Gender, age_on, mask_name
from resolvers.auditing import audit_access
from schema.cache_control import PRIVATE
from schema.common import Connection, Edge, PageInfo, check_first
from schema.context import Info, UpstreamNote
from schema.errors import BadInput, ClientError, ErrorCode

strawberry.enum(ReportKind, description="LAB 检验 (blood, urine, chemistry...), EXAM 检查 (imaging, ECG...).")
strawberry.enum(
    VisitKind,
    description="OUTPATIENT 门诊, EMERGENCY 急诊, INPATIENT 住院, OTHER 其他 (home visits, online encounters).",
)
strawberry.enum(
    ResultFlag,
    description="NORMAL 正常, HIGH 偏高 ↑, LOW 偏低 ↓, CRITICAL_HIGH 明显偏高 ↑↑, CRITICAL_LOW 明显偏低 ↓↓, "
    "ABNORMAL 异常 *, CRITICAL 明显异常 **. Always shown with `flagSymbol` and `flagLabel`, never by colour alone.",
)
strawberry.enum(
    FlagSource,
    description="REPORTED: the laboratory's own interpretation; REFERENCE_RANGE: the value compared with its "
    "reference range here, because the laboratory gave none.",
)

_STATUS_LABELS = {
    "registered": "已登记",
    "partial": "部分结果",
    "preliminary": "初步报告",
    "final": "已出报告",
    "amended": "已修改",
    "corrected": "已更正",
    "appended": "已补充",
    "cancelled": "已取消",
    "entered-in-error": "录入错误",
}
_GENDERS = {Gender.MALE: "male", Gender.FEMALE: "female"}
REPORT_CURSOR = "report"


def his_unavailable() -> ClientError:
    return ClientError(
        "医院信息系统暂时无法访问，请稍后再试 (the hospital information system is not answering; try again later)",
        ErrorCode.HIS_UNAVAILABLE,
    )


def note_stale(info: Info, fetched: Fetched[object]) -> None:
    """Served from the cache because the HIS did not answer: an error at this field will say so."""
    info.context.upstream_notes.append(UpstreamNote(info.path.as_list(), fetched.as_of, fetched.problem))


@dataclass(frozen=True)
class Reader:
    """Who reads, about whom: what every conversion below needs to know."""

    account_id: int
    profile: ProfileRow
    patient_id: str
    today: date

    # Worked out once per request: every result of every report is assessed against them.
    @functools.cached_property
    def age_years(self) -> float:
        return float(age_on(self.profile.birth_date, self.today))

    @functools.cached_property
    def gender(self) -> str:
        return _GENDERS[self.profile.gender]

    def assess(self, result: HisResult) -> Assessment:
        return result.assess(age_years=self.age_years, gender=self.gender)


def _number(value: float) -> str:
    return f"{value:.6g}"


@strawberry.type(description="A reference range (参考范围) as the laboratory gave it.")
class ReferenceRange:
    low: float | None = strawberry.field(description="Lowest normal value (inclusive), if any.")
    high: float | None = strawberry.field(description="Highest normal value (inclusive), if any.")
    unit: str | None = strawberry.field(description="Unit of the bounds.")
    text: str | None = strawberry.field(description='For display: "3.9–6.1 mmol/L", "≤ 5.2 mmol/L", or the text given.')

    @classmethod
    def from_dto(cls, dto: RangeDTO | None) -> ReferenceRange | None:
        if dto is None:
            return None
        return cls(low=dto.low, high=dto.high, unit=dto.unit, text=describe_range(dto.bounds))


@strawberry.type(description="One result of a lab report: the value, its range and whether it is abnormal.")
class LabResult:
    code: str | None = strawberry.field(description="The test's code (LOINC where the HIS uses it).")
    code_system: str | None = strawberry.field(description="The code system of `code`.")
    name: str = strawberry.field(description="Plain-language Chinese name of the test.")
    his_name: str | None = strawberry.field(description="The name as the HIS wrote it.")
    explanation: str | None = strawberry.field(description="What the test says, in one plain sentence.")
    value_text: str = strawberry.field(description='The value for display: "6.3", ">60", "阴性(-)"...')
    numeric_value: float | None = strawberry.field(description="The value as a number, when it is one.")
    comparator: str | None = strawberry.field(description="<, <=, >= or > when the value is a bound.")
    unit: str | None = strawberry.field(description="Unit of the value (SI units).")
    reference_range: ReferenceRange | None = strawberry.field(description="The range that applies to this person.")
    flag: ResultFlag | None = strawberry.field(description="Normal or abnormal; null when it cannot be judged.")
    flag_symbol: str | None = strawberry.field(description="↑ ↓ ↑↑ ↓↓ * **, to show next to the value.")
    flag_label: str | None = strawberry.field(description="The flag in plain words (偏高, 偏低...).")
    flag_source: FlagSource | None = strawberry.field(description="Who judged it: the laboratory, or the range.")
    abnormal: bool = strawberry.field(description="True for every flag but NORMAL.")
    effective_at: datetime | None = strawberry.field(description="When the sample was taken.")
    interpretation_text: str | None = strawberry.field(description="The laboratory's comment on the result.")
    note: str | None = strawberry.field(description="A note of the laboratory.")
    summary: str = strawberry.field(
        description="One line for large print and read-aloud: name, value, unit, flag and range."
    )

    @classmethod
    def build(cls, result: HisResult, reader: Reader, assessment: Assessment | None = None) -> LabResult:
        if assessment is None:
            assessment = reader.assess(result)
        plain = indicator(result.code_system, result.code)
        quantity = result.quantity
        if quantity is not None:
            value_text = f"{quantity.comparator or ''}{_number(quantity.value)}"
        else:
            value_text = result.value_text or "无结果"
        flag = assessment.flag
        text = FLAG_TEXT[flag] if flag is not None else None
        name = plain.name if plain else (result.his_name or "未命名项目")
        unit = quantity.unit if quantity else None
        rng = ReferenceRange.from_dto(assessment.range)
        parts = [name, value_text + (f" {unit}" if unit else "")]
        if text is not None and flag is not ResultFlag.NORMAL:
            parts.append(f"{text.symbol} {text.label}")
        summary = " ".join(parts) + (f"（参考 {rng.text}）" if rng is not None and rng.text else "")
        return cls(
            code=result.code,
            code_system=result.code_system,
            name=name,
            his_name=result.his_name,
            explanation=plain.explanation if plain else None,
            value_text=value_text,
            numeric_value=quantity.value if quantity else None,
            comparator=quantity.comparator if quantity else None,
            unit=unit,
            reference_range=rng,
            flag=flag,
            flag_symbol=(text.symbol or None) if text else None,
            flag_label=text.label if text else None,
            flag_source=assessment.source,
            abnormal=is_abnormal(flag),
            effective_at=result.effective_at,
            interpretation_text=result.interpretation_text,
            note=result.note,
            summary=summary,
        )


@strawberry.type(description="A visit (就诊): outpatient, emergency or inpatient.")
class Visit:
    id: strawberry.ID = strawberry.field(description="The HIS's id of the visit.")
    kind: VisitKind = strawberry.field(description="The kind of visit now (an admission via the ED is INPATIENT).")
    kind_label: str = strawberry.field(description="门诊, 急诊, 住院 or 其他.")
    started_as: VisitKind = strawberry.field(description="The kind of visit it started as.")
    admitted_via_emergency: bool = strawberry.field(description="An emergency visit that became an admission.")
    department: str | None = strawberry.field(description="Department (科室).")
    reason: str | None = strawberry.field(description="Reason for the visit.")
    start: datetime | None = strawberry.field(description="Start of the visit.")
    end: datetime | None = strawberry.field(description="End of the visit; null while it goes on.")

    @classmethod
    def from_dto(cls, visit: HisEncounter) -> Visit:
        return cls(
            id=strawberry.ID(visit.id),
            kind=visit.kind,
            kind_label=VISIT_KIND_LABELS[visit.kind],
            started_as=visit.started_as,
            admitted_via_emergency=visit.kind is VisitKind.INPATIENT and visit.started_as is VisitKind.EMERGENCY,
            department=visit.department,
            reason=visit.reason,
            start=visit.period.start,
            end=visit.period.end,
        )


@strawberry.type(description="A document of a report (a PDF): downloaded through a short-lived signed link.")
class ReportAttachment:
    title: str | None = strawberry.field(description="Title of the document.")
    content_type: str | None = strawberry.field(description="MIME type, e.g. application/pdf.")
    size_bytes: int | None = strawberry.field(description="Size, when known.")
    download_url: str | None = strawberry.field(
        description="Where to download it (wx.downloadFile), until `expiresAt`; never cached. Null for types "
        "that are not offered."
    )
    expires_at: datetime | None = strawberry.field(description="When `downloadUrl` stops working.")


@strawberry.type(description="A lab (检验) or exam (检查) report of one visit.")
class Report:
    id: strawberry.ID = strawberry.field(description="The HIS's id of the report.")
    kind: ReportKind = strawberry.field(description="LAB 检验 or EXAM 检查.")
    kind_label: str = strawberry.field(description="检验 or 检查.")
    section: str | None = strawberry.field(description="HL7 v2-0074 section (HM, CH, RAD, CT...), when given.")
    section_label: str | None = strawberry.field(description="The section in Chinese (血液学检验, CT检查...).")
    title: str = strawberry.field(description="Plain-language title (血常规, 胸部CT...).")
    his_title: str | None = strawberry.field(description="The title as the HIS wrote it.")
    status: str | None = strawberry.field(description="FHIR status: final, preliminary, amended...")
    status_label: str | None = strawberry.field(description="The status in plain words (已出报告...).")
    visit: VisitKind | None = strawberry.field(
        description="Outpatient, emergency or inpatient, at the time of the report (tests in the ED before an "
        "admission are EMERGENCY); null when the report belongs to no known visit."
    )
    visit_label: str | None = strawberry.field(description="门诊, 急诊, 住院 or 其他.")
    encounter: Visit | None = strawberry.field(description="The visit the report belongs to.")
    effective_at: datetime | None = strawberry.field(description="When the sample or images were taken.")
    issued_at: datetime | None = strawberry.field(description="When the report was issued.")
    conclusion: str | None = strawberry.field(description="Conclusion (结论/印象) of the report.")
    performer: str | None = strawberry.field(description="Department or person that made the report.")
    result_count: int = strawberry.field(description="Number of results.")
    abnormal_count: int = strawberry.field(description="Number of abnormal results.")
    missing_result_count: int = strawberry.field(
        description="Results the report refers to that the HIS did not return (shown as such, not hidden)."
    )
    dto: strawberry.Private[HisReport]
    reader: strawberry.Private[Reader]

    @strawberry.field(description="The results, abnormal ones flagged, in the order of the report.")
    def results(self) -> list[LabResult]:
        return [LabResult.build(result, self.reader) for result in self.dto.results]

    @strawberry.field(description="Documents of the report (PDF), each with a short-lived download link.")
    def attachments(self, info: Info) -> list[ReportAttachment]:
        found = []
        base = str(info.context.request.base_url).rstrip("/")
        for item in self.dto.attachments:
            url = expires = None
            if (item.content_type or "").lower() in ("application/pdf", "image/png", "image/jpeg"):
                token, expires = info.context.attachment_links.issue(
                    account_id=self.reader.account_id,
                    profile_id=self.reader.profile.id,
                    patient_id=self.reader.patient_id,
                    report_id=self.dto.id,
                    index=item.index,
                    now=info.context.now,
                )
                url = f"{base}/health-record/attachments/{token}"
            found.append(
                ReportAttachment(
                    title=item.title,
                    content_type=item.content_type,
                    size_bytes=item.size,
                    download_url=url,
                    expires_at=expires,
                )
            )
        return found

    @classmethod
    def build(cls, report: HisReport, reader: Reader, visits: dict[str, HisEncounter]) -> Report:
        plain = indicator(report.code_system, report.code)
        encounter = visits.get(report.encounter_id or "")
        visit = encounter.kind_at(report.when) if encounter else None
        return cls(
            id=strawberry.ID(report.id),
            kind=report.kind,
            kind_label=REPORT_KIND_LABELS[report.kind],
            section=report.section,
            section_label=report.section_label,
            title=plain.name if plain else (report.his_title or REPORT_KIND_LABELS[report.kind] + "报告"),
            his_title=report.his_title,
            status=report.status,
            status_label=_STATUS_LABELS.get(report.status or ""),
            visit=visit,
            visit_label=VISIT_KIND_LABELS[visit] if visit else None,
            encounter=Visit.from_dto(encounter) if encounter else None,
            effective_at=report.effective_at,
            issued_at=report.issued_at,
            conclusion=report.conclusion,
            performer=report.performer,
            result_count=len(report.results),
            abnormal_count=sum(1 for r in report.results if is_abnormal(reader.assess(r).flag)),
            missing_result_count=report.missing_results,
            dto=report,
            reader=reader,
        )


@strawberry.type(description="A lab indicator (检验指标): its latest value, and whether a trend can be drawn.")
class LabIndicator:
    code: str = strawberry.field(description="Code to ask `indicatorTrend` for.")
    code_system: str | None = strawberry.field(description="Code system of `code`.")
    name: str = strawberry.field(description="Plain-language name.")
    explanation: str | None = strawberry.field(description="What it says, in one plain sentence.")
    unit: str | None = strawberry.field(description="Unit of the values counted in `valueCount`.")
    latest: LabResult = strawberry.field(description="The most recent value.")
    value_count: int = strawberry.field(description="Values with this code and unit in the record.")
    trend_available: bool = strawberry.field(description="True when there are at least two values to compare.")


@strawberry.type(description="Basic information (基本信息) of the profile, masked as everywhere.")
class BasicInfo:
    masked_name: str = strawberry.field(description="Name, masked (张*).")
    gender: Gender = strawberry.field(description="From the resident ID number.")
    birth_date: date = strawberry.field(description="From the resident ID number.")
    age: int = strawberry.field(description="Age in completed years today.")
    relation: ProfileRelation = strawberry.field(description="Relation to the account holder.")
    id_number: str = strawberry.field(description="Resident ID number, masked.")
    mobile: str = strawberry.field(description="Mobile number, masked.")
    his_patient_id: str = strawberry.field(description="The patient's id in the HIS (就诊卡号/患者ID).")
    medical_record_number: str | None = strawberry.field(description="Medical record number (病案号) in the HIS.")
    outpatient_visits: int | None = strawberry.field(description="Outpatient visits on record; null if unknown.")
    emergency_visits: int | None = strawberry.field(description="Emergency visits on record; null if unknown.")
    inpatient_stays: int | None = strawberry.field(description="Hospital stays on record; null if unknown.")
    last_visit_at: datetime | None = strawberry.field(description="Start of the most recent visit.")


def _encode_cursor(report_id: str) -> str:
    return base64.urlsafe_b64encode(f"{REPORT_CURSOR}:{report_id}".encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        prefix, _, report_id = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii").partition(":")
    except (binascii.Error, UnicodeError, ValueError):
        prefix, report_id = "", ""
    if prefix != REPORT_CURSOR or not report_id or _encode_cursor(report_id) != cursor:
        raise BadInput("`after` is not a cursor of this list; pass an `endCursor` you received.", argument="after")
    return report_id


@strawberry.type(
    description="The health record (健康档案) of one profile, from the HIS. `stale` is true when the HIS did not "
    "answer and the last known data is shown (as of `asOf`); an error with code HIS_UNAVAILABLE then says so.",
    directives=[PRIVATE],
)
class HealthRecord:
    profile_id: strawberry.ID = strawberry.field(description="The profile this record belongs to.")
    reader: strawberry.Private[Reader]
    patient: strawberry.Private[Fetched[HisPatient | None] | None]
    record: strawberry.Private[Fetched[PatientRecord] | None]
    verified: strawberry.Private[bool]  # the HIS patient was checked to be this profile's person

    @strawberry.field(description="True when what is shown is the last known data, the HIS not answering.")
    def stale(self) -> bool:
        return any(part is not None and part.stale for part in (self.patient, self.record))

    @strawberry.field(description="When the HIS gave the data shown (the oldest part); null without data.")
    def as_of(self) -> datetime | None:
        moments = [part.as_of for part in (self.patient, self.record) if part is not None]
        return min(moments) if moments else None

    @strawberry.field(description="Basic information: from the profile, with what the HIS adds when it answers.")
    def basic_info(self, info: Info) -> BasicInfo:
        row = self.reader.profile
        patient = self.patient.value if self.patient else None
        encounters = self.record.value.encounters if self.record else None
        kinds = [e.kind for e in encounters] if encounters is not None else None
        return BasicInfo(
            masked_name=mask_name(row.name),
            gender=row.gender,
            birth_date=row.birth_date,
            age=age_on(row.birth_date, self.reader.today),
            relation=row.relation,
            id_number=row.id_number_masked,
            mobile=row.mobile_masked,
            his_patient_id=self.reader.patient_id,
            medical_record_number=patient.medical_record_number if patient else None,
            outpatient_visits=kinds.count(VisitKind.OUTPATIENT) if kinds is not None else None,
            emergency_visits=sum(1 for e in encounters or () if e.started_as is VisitKind.EMERGENCY)
            if kinds is not None
            else None,
            inpatient_stays=kinds.count(VisitKind.INPATIENT) if kinds is not None else None,
            last_visit_at=max((e.period.start for e in encounters or () if e.period.start), default=None),
        )

    def _record(self) -> PatientRecord:
        if self.record is None:
            raise his_unavailable()
        return self.record.value

    def _visits(self) -> dict[str, HisEncounter]:
        return {e.id: e for e in self._record().encounters}

    @strawberry.field(description="Reports, newest first, filtered by kind and visit; `first` is at most 50.")
    def reports(
        self,
        info: Info,
        kind: Annotated[ReportKind | None, strawberry.argument(description="Only LAB or only EXAM.")] = None,
        visit: Annotated[
            VisitKind | None, strawberry.argument(description="Only reports of this kind of visit.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 50.")] = 20,
        after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
    ) -> Connection[Report] | None:
        check_first(first, info.context.settings.page_size_max)
        record = self._record()
        visits = self._visits()
        chosen = [
            r
            for r in record.reports
            if (kind is None or r.kind is kind)
            and (visit is None or (r.encounter_id in visits and visits[r.encounter_id].kind_at(r.when) is visit))
        ]
        start = 0
        if after is not None:
            wanted = _decode_cursor(after)
            positions = [n for n, r in enumerate(chosen) if r.id == wanted]
            if not positions:
                raise BadInput("`after` points at a report no longer in this list; start again.", argument="after")
            start = positions[0] + 1
        page = chosen[start : start + first]
        edges = [Edge(cursor=_encode_cursor(r.id), node=Report.build(r, self.reader, visits)) for r in page]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=start + first < len(chosen),
                end_cursor=edges[-1].cursor if edges else None,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
            ),
            total_count=len(chosen),
        )

    @strawberry.field(description="Lab indicators: the latest value of each, abnormal ones first.")
    def indicators(
        self,
        abnormal_only: Annotated[
            bool, strawberry.argument(description="Only indicators whose latest value is abnormal.")
        ] = False,
        first: Annotated[
            int, strawberry.argument(description="At most this many, 1 to 50 (the cap of every list).")
        ] = 50,
    ) -> list[LabIndicator] | None:
        # The query limits refuse a `first` over the list cap before execution; this guards the rest.
        if not 1 <= first <= 50:
            raise BadInput("`first` must be between 1 and 50.", argument="first")
        latest: dict[tuple[str | None, str, str | None], tuple[HisResult, int]] = {}
        for report in self._record().reports:  # newest first
            if report.kind is not ReportKind.LAB:
                continue
            for result in report.results:
                if result.code is None or result.quantity is None:
                    continue
                key = (result.code_system, result.code, result.quantity.unit_key)
                seen = latest.get(key)
                latest[key] = (seen[0], seen[1] + 1) if seen else (result, 1)
        items = []
        for (system, code, _unit), (result, count) in latest.items():
            assessment = self.reader.assess(result)
            if abnormal_only and not is_abnormal(assessment.flag):
                continue  # decided before the whole result is built: most values are normal
            built = LabResult.build(result, self.reader, assessment)
            items.append(
                LabIndicator(
                    code=code,
                    code_system=system,
                    name=built.name,
                    explanation=built.explanation,
                    unit=built.unit,
                    latest=built,
                    value_count=count,
                    trend_available=count >= 2,
                )
            )
        items.sort(key=lambda i: (-severity(i.latest.flag), i.name))
        return items[:first]

    @strawberry.field(
        description="One report with its results and documents; null when the patient has no report with this id."
    )
    async def report(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The report's id.")]
    ) -> Report | None:
        report_id = str(id)
        if not is_fhir_id(report_id):
            raise BadInput("`id` is not a report id.", argument="id")
        await audit_access(info, action="health_record.report.read", profile_id=self.reader.profile.id)
        if not self.verified:
            raise his_unavailable()
        found = None
        if self.record is not None:
            found = next((r for r in self.record.value.reports if r.id == report_id), None)
        if found is None:
            # Newer than the cached record, perhaps: asked for on its own.
            try:
                fetched = await info.context.his.report(
                    self.reader.patient_id, report_id, deadline=info.context.his_deadline
                )
            except HisUnavailable:
                raise his_unavailable() from None
            if fetched.stale:
                note_stale(info, fetched)
            found = fetched.value
        if found is None:
            return None
        return Report.build(found, self.reader, self._visits() if self.record else {})


@strawberry.type(description="One value of a trend.")
class TrendPoint:
    at: datetime | None = strawberry.field(description="When the sample was taken.")
    value: float = strawberry.field(description="The value.")
    value_text: str = strawberry.field(description="The value for display.")
    flag: ResultFlag | None = strawberry.field(description="Normal or abnormal, as for a result.")
    flag_symbol: str | None = strawberry.field(description="↑ ↓ ↑↑ ↓↓ * **.")
    flag_label: str | None = strawberry.field(description="The flag in plain words.")
    abnormal: bool = strawberry.field(description="True for every flag but NORMAL.")
    reference_range: ReferenceRange | None = strawberry.field(description="The range at that time.")
    range_changed: bool = strawberry.field(
        description="True when the reference range differs from the previous point's (e.g. a new analyser)."
    )


@strawberry.type(description="Values of other units, left out of the trend: they are not comparable.")
class ExcludedValues:
    unit: str | None = strawberry.field(description="Their unit.")
    count: int = strawberry.field(description="How many.")


@strawberry.type(description="How one indicator moved over time (趋势): only values with the same code and unit.")
class IndicatorTrend:
    code: str = strawberry.field(description="The indicator's code.")
    code_system: str | None = strawberry.field(description="Its code system.")
    name: str = strawberry.field(description="Plain-language name.")
    explanation: str | None = strawberry.field(description="What it says, in one plain sentence.")
    unit: str | None = strawberry.field(description="The one unit of every point.")
    points: list[TrendPoint] = strawberry.field(description="The values, oldest first.")
    excluded: list[ExcludedValues] = strawberry.field(
        description="Values with this code in other units: not compared, only counted."
    )
    range_changes: int = strawberry.field(description="How often the reference range changed over the points.")
    stale: bool = strawberry.field(description="True when the HIS did not answer and this is the last known data.")
    as_of: datetime = strawberry.field(description="When the HIS gave this data.")

    @classmethod
    def build(
        cls, *, code: str, system: str | None, unit: str | None, fetched: Fetched[Sequence[HisResult]], reader: Reader
    ) -> IndicatorTrend:
        values = [r for r in fetched.value if r.quantity is not None]
        by_unit: dict[str | None, list[HisResult]] = {}
        for result in values:
            assert result.quantity is not None
            by_unit.setdefault(result.quantity.unit_key, []).append(result)
        chosen_unit = unit if unit is not None else (values[-1].quantity.unit_key if values else None)  # type: ignore[union-attr]
        chosen = by_unit.get(chosen_unit, [])
        points = []
        previous: tuple[float | None, float | None, str | None] | None = None
        changes = 0
        for result in chosen:
            built = LabResult.build(result, reader)
            rng = built.reference_range
            signature = (rng.low, rng.high, rng.text) if rng else (None, None, None)
            changed = previous is not None and signature != previous
            changes += changed
            previous = signature
            assert built.numeric_value is not None
            points.append(
                TrendPoint(
                    at=result.effective_at,
                    value=built.numeric_value,
                    value_text=built.value_text,
                    flag=built.flag,
                    flag_symbol=built.flag_symbol,
                    flag_label=built.flag_label,
                    abnormal=built.abnormal,
                    reference_range=rng,
                    range_changed=changed,
                )
            )
        plain = indicator(system, code)
        sample = chosen[-1] if chosen else (values[-1] if values else None)
        return cls(
            code=code,
            code_system=system,
            name=plain.name if plain else ((sample.his_name if sample else None) or code),
            explanation=plain.explanation if plain else None,
            unit=(chosen[-1].quantity.unit if chosen and chosen[-1].quantity else chosen_unit),
            points=points,
            excluded=[
                ExcludedValues(unit=items[0].quantity.unit if items[0].quantity else key, count=len(items))
                for key, items in by_unit.items()
                if key != chosen_unit
            ],
            range_changes=changes,
            stale=fetched.stale,
            as_of=fetched.as_of,
        )
