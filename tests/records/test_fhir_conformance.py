"""The official HL7 FHIR R4 examples (../shared/fhir-r4-examples) come out right: classification,
values, units, reference ranges and flags, visits, patients, attachments, and search paging."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from his_support import (
    ZONE,
    ScriptedFhir,
    adapter,
    example,
    fake_digest,
    fhir_response,
    read,
    resources_of,
    searchset,
)

from datasources.his.fhir.parse import parse_encounter, parse_observation, parse_patient, parse_report
from datasources.his.model import HisReport, HisResult
from datasources.his.resilience import Deadline
from domain.health_records import FlagSource, ReportKind, ResultFlag, VisitKind, describe_range, indicator


def _report(bundle_name: str, extra: dict[str, dict[str, Any]] | None = None) -> HisReport:
    resources = {
        key: read(resource) for key, resource in {**resources_of(example(bundle_name)), **(extra or {})}.items()
    }
    report = next(r for key, r in resources.items() if key.startswith("DiagnosticReport/"))
    return parse_report(report, resolve=resources.get, zone=ZONE)


def _by_code(report: HisReport) -> dict[str, HisResult]:
    return {r.code or "": r for r in report.results}


def _flag(result: HisResult) -> tuple[ResultFlag | None, FlagSource | None]:
    assessment = result.assess(age_years=40.0, gender="male")
    return assessment.flag, assessment.source


def test_lipid_panel_values_ranges_and_flags_derived_from_the_ranges() -> None:
    report = _report("diagnosticreport-example-lipids.json")
    assert (report.kind, report.section, report.his_title, report.missing_results) == (
        ReportKind.LAB,
        "HM",
        "Lipid Panel",
        0,
    )
    assert report.effective_at == datetime(2011, 3, 3, 21, 30, tzinfo=UTC)  # 08:30 at +11:00
    results = _by_code(report)
    cholesterol = results["35200-5"]
    # The example's display carries a zero-width space; it is not shown.
    assert cholesterol.his_name == "Cholesterol"
    assert cholesterol.quantity is not None
    assert (cholesterol.quantity.value, cholesterol.quantity.unit, cholesterol.quantity.unit_key) == (
        6.3,
        "mmol/L",
        "mmol/L",
    )
    assert describe_range(cholesterol.ranges[0].bounds) == "≤ 4.5 mmol/L"
    # No interpretation in the example: the value is compared with its range.
    assert _flag(cholesterol) == (ResultFlag.HIGH, FlagSource.REFERENCE_RANGE)
    assert _flag(results["35217-9"]) == (ResultFlag.NORMAL, FlagSource.REFERENCE_RANGE)
    assert _flag(results["2085-9"]) == (ResultFlag.LOW, FlagSource.REFERENCE_RANGE)
    assert describe_range(results["2085-9"].ranges[0].bounds) == "≥ 1.5 mmol/L"
    assert _flag(results["13457-7"]) == (ResultFlag.HIGH, FlagSource.REFERENCE_RANGE)
    plain = indicator(cholesterol.code_system, cholesterol.code)
    assert plain is not None and plain.name == "总胆固醇"


def test_blood_count_reported_interpretations_win_and_critical_flags_survive() -> None:
    report = _report("diagnosticreport-example.json")
    assert (report.kind, report.section, report.encounter_id, len(report.results)) == (
        ReportKind.LAB,
        "HM",
        "example",
        17,
    )
    results = {r.id: r for r in report.results}
    expected = {
        "r1": (ResultFlag.NORMAL, FlagSource.REFERENCE_RANGE),  # 176 within 135–180
        "r3": (ResultFlag.HIGH, FlagSource.REPORTED),
        "r4": (ResultFlag.HIGH, FlagSource.REPORTED),
        "r5": (ResultFlag.HIGH, FlagSource.REPORTED),
        "r6": (ResultFlag.NORMAL, FlagSource.REFERENCE_RANGE),  # 444 within 150–450
        "r8": (None, None),  # a percentage without range: nothing to compare with
        "r9": (ResultFlag.CRITICAL_LOW, FlagSource.REPORTED),  # LL
        "r11": (ResultFlag.LOW, FlagSource.REPORTED),
        "r13": (ResultFlag.NORMAL, FlagSource.REFERENCE_RANGE),  # 0.9 within 0.2–1.0, bounds inclusive
        "r15": (ResultFlag.CRITICAL_HIGH, FlagSource.REPORTED),  # HH
        "r17": (ResultFlag.HIGH, FlagSource.REFERENCE_RANGE),  # 0.92 above 0.21, not flagged by the lab
    }
    assert {key: _flag(results[key]) for key in expected} == expected
    hematocrit = results["r3"]
    assert hematocrit.quantity is not None
    assert (hematocrit.quantity.value, hematocrit.quantity.unit, hematocrit.quantity.unit_key) == (55, "%", "%")
    assert describe_range(hematocrit.ranges[0].bounds) == "38–52 %"
    platelets = results["r6"]
    assert platelets.quantity is not None and platelets.quantity.unit_key == "10*9/L"
    assert platelets.quantity.unit == "x10*9/L"


def test_report_without_category_and_with_panels_is_a_lab_report_with_every_member() -> None:
    report = _report("diagnosticreport-example-ghp.json")
    # No category at all: values make it 检验. Its results are three panels grouping 48 results.
    assert (report.kind, report.section, report.missing_results) == (ReportKind.LAB, None, 0)
    assert len(report.results) == 22 + 17 + 9
    results = _by_code(report)
    assert _flag(results["14933-6"]) == (ResultFlag.HIGH, FlagSource.REPORTED)  # o9 urate 0.39, H
    assert _flag(results["1742-6"]) == (ResultFlag.HIGH, FlagSource.REPORTED)  # o14 ALT 54 U/L
    assert _flag(results["14879-1"]) == (ResultFlag.NORMAL, FlagSource.REFERENCE_RANGE)  # 1.5 ≤ 1.5
    protein = results["2887-8"]  # urine protein: a coded value
    assert (protein.quantity, protein.value_text, _flag(protein)) == (None, "Negative", (None, None))
    gravity = results["2965-2"]
    assert gravity.quantity is not None and (gravity.quantity.value, gravity.quantity.unit) == (1.009, None)


def test_blood_exam_results_not_in_the_bundle_are_counted_missing_and_found_ones_read() -> None:
    alone = _report("diagnosticreport-example-f001-bloodexam.json")
    assert (alone.kind, alone.section, len(alone.results), alone.missing_results) == (ReportKind.LAB, "HM", 0, 5)
    extra = {
        "Observation/f001": example("observation-example-f001-glucose.json"),
        "Observation/f004": example("observation-example-f004-erythrocyte.json"),
        "Observation/f005": example("observation-example-f005-hemoglobin.json"),
    }
    report = _report("diagnosticreport-example-f001-bloodexam.json", extra)
    assert (len(report.results), report.missing_results) == (3, 2)
    results = _by_code(report)
    glucose = results["15074-8"]
    assert glucose.quantity is not None
    # Written "mmol/l", coded "mmol/L" in UCUM: the code is what makes values comparable.
    assert (glucose.quantity.unit, glucose.quantity.unit_key) == ("mmol/l", "mmol/L")
    assert glucose.effective_at == datetime(2013, 4, 2, 8, 30, 10, tzinfo=UTC)
    assert _flag(glucose) == (ResultFlag.HIGH, FlagSource.REPORTED)
    assert describe_range(glucose.ranges[0].bounds) == "3.1–6.2 mmol/l"
    erythrocytes = results["789-8"]
    # A range given only as text (by age and sex) is shown as the text.
    text = describe_range(erythrocytes.ranges[0].bounds)
    assert text is not None and text.startswith("12-14 y Male: 4.4 - 5.2 x 10^12/L ;")
    assert _flag(erythrocytes) == (ResultFlag.LOW, FlagSource.REPORTED)
    hemoglobin = results["718-7"]
    assert hemoglobin.quantity is not None and hemoglobin.quantity.unit_key == "g/dL"


def test_single_observations_local_codes_several_interpretation_systems_and_components() -> None:
    (creatinine,), members = parse_observation(read(example("observation-example-f204-creatinine.json")), zone=ZONE)
    assert members == []
    assert (creatinine.code, creatinine.code_system, creatinine.his_name) == (
        "20005",
        "https://intranet.aumc.nl/labtestcodes",
        "Creatinine(Serum)",
    )
    # The unit is coded in SNOMED, not UCUM: compared as written.
    assert creatinine.quantity is not None and creatinine.quantity.unit_key == "umol/L"
    # Interpretation in SNOMED and in v3: the v3 code counts.
    assert _flag(creatinine) == (ResultFlag.HIGH, FlagSource.REPORTED)
    assert describe_range(creatinine.ranges[0].bounds) == "64–104"
    assert indicator(creatinine.code_system, creatinine.code) is None  # a local code has no LOINC name

    egfr, members = parse_observation(read(example("observation-example-f205-egfr.json")), zone=ZONE)
    # No value of its own: two components, one of them ">60".
    assert [(r.code, r.quantity.comparator if r.quantity else None) for r in egfr] == [
        ("48643-1", ">"),
        ("48642-3", None),
    ]
    # A value "> 60" against "≥ 60" cannot be judged by comparison: no flag is made up.
    assert _flag(egfr[0]) == (None, None)
    assert (egfr[0].interpretation_text or "").startswith("interpretation of results should be assigned")


def test_imaging_and_pathology_are_examinations_with_conclusions_and_pdf() -> None:
    brain = parse_report(read(example("diagnosticreport-example-f201-brainct.json")), resolve=lambda _: None, zone=ZONE)
    assert (brain.kind, brain.section, brain.conclusion, brain.his_title) == (
        ReportKind.EXAM,
        "RAD",
        "CT brains: large tumor sphenoid/clivus.",
        "CT of head-neck",
    )
    ultrasound = parse_report(
        read(example("diagnosticreport-example-ultrasound.json")), resolve=lambda _: None, zone=ZONE
    )
    assert (ultrasound.kind, ultrasound.conclusion) == (ReportKind.EXAM, "Unremarkable study")
    resource = example("diagnosticreport-example-gingival-mass.json")
    biopsy = parse_report(read(resource), resolve=lambda _: None, zone=ZONE)
    assert (biopsy.kind, biopsy.section, biopsy.section_label) == (ReportKind.EXAM, "PAT", "病理检查")
    # effectiveDateTime is a date only: midnight in the hospital's zone.
    assert biopsy.effective_at == datetime(2017, 3, 1, 16, 0, tzinfo=UTC)
    (pdf,) = biopsy.attachments
    data = base64.b64decode(resource["presentedForm"][0]["data"])
    assert (pdf.content_type, pdf.inline, pdf.url, pdf.size) == ("application/pdf", True, None, len(data))
    assert data.startswith(b"%PDF-")


def test_encounter_classes_and_an_emergency_visit_that_became_an_admission() -> None:
    kinds = {
        name: parse_encounter(read(example(name)), zone=ZONE).kind
        for name in ("encounter-example-f001-heart.json", "encounter-example.json", "encounter-example-home.json")
    }
    assert kinds == {
        "encounter-example-f001-heart.json": VisitKind.OUTPATIENT,
        "encounter-example.json": VisitKind.INPATIENT,
        "encounter-example-home.json": VisitKind.OTHER,
    }
    # The inpatient example with the history of a visit that started in the emergency department.
    admitted = dict(example("encounter-example.json"))
    admitted["period"] = {"start": "2026-03-01T22:10:00+08:00"}
    admitted["classHistory"] = [
        {
            "class": {"code": "EMER"},
            "period": {"start": "2026-03-01T22:10:00+08:00", "end": "2026-03-02T03:00:00+08:00"},
        },
        {"class": {"code": "IMP"}, "period": {"start": "2026-03-02T03:00:00+08:00"}},
    ]
    visit = parse_encounter(read(admitted), zone=ZONE)
    assert (visit.kind, visit.started_as) == (VisitKind.INPATIENT, VisitKind.EMERGENCY)
    assert visit.kind_at(datetime(2026, 3, 1, 15, 0, tzinfo=UTC)) is VisitKind.EMERGENCY  # 23:00 local
    assert visit.kind_at(datetime(2026, 3, 2, 2, 0, tzinfo=UTC)) is VisitKind.INPATIENT  # 10:00 local


def test_patients() -> None:
    peter = parse_patient(read(example("patient-example.json")), digest=fake_digest, resident_id_systems=frozenset())
    assert (peter.id, peter.name, peter.gender, peter.birth_date, peter.medical_record_number) == (
        "example",
        "Peter James Chalmers",
        "male",
        date(1974, 12, 25),
        "12345",
    )
    # No national identifier: nothing to match a profile against.
    assert (peter.resident_id_digest, peter.resident_id_masked) == (None, None)
    assert peter.mobile_masked is not None and "3410" not in peter.mobile_masked
    pieter = parse_patient(
        read(example("patient-example-f001-pieter.json")), digest=fake_digest, resident_id_systems=frozenset()
    )
    assert (pieter.name, pieter.birth_date) == ("Pieter van de Heuvel", date(1944, 11, 17))


async def test_search_follows_the_next_link_as_given() -> None:
    first, second = example("bundle-example.json"), example("bundle-example-page2.json")
    next_url = first["link"][1]["url"]

    def answer(request: httpx.Request) -> httpx.Response:
        return fhir_response(second if str(request.url) == next_url else first)

    server = ScriptedFhir(answer)
    his, http = adapter(server, base_url="https://example.com/base")
    async with http:
        found = await his._search("MedicationRequest", [("patient", "347")], Deadline.after(10))
    assert [str(r.url) for r in server.requests][1] == next_url
    assert len(server.requests) == 2
    assert [m.id for m in found.matches] == ["3123", "9999"]
    assert "Medication/example" in found.included


def _lab_server(
    *, include: bool, strict_sort: bool = False, broken: bool = False, sloppy: bool = False
) -> ScriptedFhir:
    """A FHIR server holding the lipid and blood-count examples for patient pat2."""
    base = "https://his.example/fhir"
    lipids = resources_of(example("diagnosticreport-example-lipids.json"))
    cbc = resources_of(example("diagnosticreport-example.json"))
    reports = [lipids["DiagnosticReport/lipids"], cbc["DiagnosticReport/101"]]
    observations = {k: v for k, v in {**lipids, **cbc}.items() if k.startswith("Observation/")}
    if broken:
        bad = dict(observations["Observation/cholesterol"])
        bad["valueQuantity"] = {"value": "six point three", "unit": "mmol/L"}
        observations["Observation/cholesterol"] = bad
        reports = [*reports, {"resourceType": "DiagnosticReport", "status": "final"}]  # no id
    if sloppy:
        # What some servers write: nulls for absent elements, one category object instead of a list,
        # and a resource of a type this adapter does not read among the included ones.
        cbc_report = dict(reports[1])
        cbc_report.update(category=cbc_report["category"][0], performer=None, conclusion=None)
        cholesterol = dict(observations["Observation/cholesterol"])
        cholesterol.update(interpretation=None, note=[None], referenceRange=[*cholesterol["referenceRange"], None])
        reports = [reports[0], cbc_report]
        observations = {**observations, "Observation/cholesterol": cholesterol}
        observations["Specimen/s1"] = {"resourceType": "Specimen", "id": "s1", "status": "available"}

    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if strict_sort and "_sort" in params:
            return fhir_response(
                {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-supported"}]}, 400
            )
        if request.url.path.endswith("/DiagnosticReport"):
            included = list(observations.values()) if include and "_include" in params else []
            return fhir_response(searchset(reports, included, base=base))
        if request.url.path.endswith("/Observation"):
            wanted = params["_id"].split(",")
            return fhir_response(searchset([observations[f"Observation/{i}"] for i in wanted], base=base))
        return fhir_response(searchset([], base=base))

    return ScriptedFhir(answer)


@pytest.mark.parametrize("include", [True, False], ids=["server includes", "server ignores _include"])
async def test_reports_search_reads_every_result_with_or_without_include(include: bool) -> None:
    server = _lab_server(include=include)
    his, http = adapter(server)
    async with http:
        record = await his.record("pat2", deadline=Deadline.after(10))
    # Taken the same day: the one issued last comes first (sorted here, whatever the server did).
    assert [r.id for r in record.reports] == ["lipids", "101"]
    assert [len(r.results) for r in record.reports] == [4, 17]
    observation_reads = [r for r in server.requests if r.url.path.endswith("/Observation")]
    assert len(observation_reads) == (0 if include else 1)  # the missing ones read by _id, in one go


async def test_a_server_refusing_sort_is_asked_again_without_it_and_never_again() -> None:
    server = _lab_server(include=True, strict_sort=True)
    his, http = adapter(server)
    async with http:
        record = await his.record("pat2", deadline=Deadline.after(10))
        assert [r.id for r in record.reports] == ["lipids", "101"]
        assert not his.supports_sort
        before = len(server.requests)
        await his.record("pat2", deadline=Deadline.after(10))
    assert all("_sort" not in r.url.params for r in server.requests[before:])


async def test_one_malformed_entry_is_skipped_and_logged_never_failing_the_page(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = _lab_server(include=True, broken=True)
    his, http = adapter(server)
    async with http:
        record = await his.record("pat2", deadline=Deadline.after(10))
    assert [r.id for r in record.reports] == ["lipids", "101"]
    lipids = record.reports[0]
    assert (len(lipids.results), lipids.missing_results) == (3, 1)
    messages = [r.getMessage() for r in caplog.records if r.name == "hospital_bff.his"]
    assert any("skipped malformed Observation/cholesterol" in m and "valueQuantity.value" in m for m in messages)
    assert any("skipped malformed DiagnosticReport/?" in m for m in messages)
    assert not any("six point three" in m for m in messages), "values never reach the log"


async def test_nulls_a_single_category_and_unread_resource_types_are_read_as_servers_send_them() -> None:
    clean, sloppy = _lab_server(include=True), _lab_server(include=True, sloppy=True)
    his, http = adapter(clean)
    async with http:
        expected = await his.record("pat2", deadline=Deadline.after(10))
    his, http = adapter(sloppy)
    async with http:
        record = await his.record("pat2", deadline=Deadline.after(10))
    assert [(r.id, len(r.results), r.missing_results) for r in record.reports] == [("lipids", 4, 0), ("101", 17, 0)]
    cbc = record.reports[1]
    assert (cbc.kind, cbc.section) == (ReportKind.LAB, "HM")  # from the one category object
    # Nulls mean "absent": the same record as from the clean server, but for the elements nulled.
    assert record.reports[0] == expected.reports[0]
    assert cbc.performer is None and expected.reports[1].performer is not None
