"""Pure rules: 检验 or 检查, the kind of visit, abnormal flags, ranges, units."""

from __future__ import annotations

import pytest

from domain.health_records import (
    FLAG_TEXT,
    RangeBounds,
    ReportKind,
    ResultFlag,
    VisitKind,
    classify_report,
    clean_text,
    describe_range,
    flag_from_interpretation,
    flag_from_range,
    unit_key,
    visit_kind,
)


@pytest.mark.parametrize(
    ("codes", "has_results", "kind", "section"),
    [
        (["LAB"], True, ReportKind.LAB, "LAB"),
        (["HM"], True, ReportKind.LAB, "HM"),
        (["ch"], True, ReportKind.LAB, "CH"),
        (["MB"], False, ReportKind.LAB, "MB"),
        (["RAD", "CT"], False, ReportKind.EXAM, "RAD"),
        (["RUS"], False, ReportKind.EXAM, "RUS"),
        (["EC"], True, ReportKind.EXAM, "EC"),  # an ECG with measured intervals is still 检查
        (["OTH", "HM"], True, ReportKind.LAB, "HM"),
        (["PAT"], False, ReportKind.EXAM, "PAT"),
        ([], True, ReportKind.LAB, None),
        (["XYZ"], False, ReportKind.EXAM, None),
    ],
)
def test_report_classification(codes: list[str], has_results: bool, kind: ReportKind, section: str | None) -> None:
    result = classify_report(codes, has_results=has_results)
    assert (result.kind, result.section) == (kind, section)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("AMB", VisitKind.OUTPATIENT),
        ("EMER", VisitKind.EMERGENCY),
        ("IMP", VisitKind.INPATIENT),
        ("ACUTE", VisitKind.INPATIENT),
        ("HH", VisitKind.OTHER),
        ("VR", VisitKind.OTHER),
        (None, VisitKind.OTHER),
    ],
)
def test_visit_kinds(code: str | None, kind: VisitKind) -> None:
    assert visit_kind(code) is kind


def test_flags() -> None:
    assert flag_from_interpretation(["H"]) is ResultFlag.HIGH
    assert flag_from_interpretation(["N", "HH"]) is ResultFlag.CRITICAL_HIGH  # the most serious wins
    assert flag_from_interpretation(["POS"]) is None
    assert flag_from_range(5.0, 1.0, 5.0) is ResultFlag.NORMAL  # bounds are inclusive
    assert flag_from_range(5.1, 1.0, 5.0) is ResultFlag.HIGH
    assert flag_from_range(0.9, 1.0, None) is ResultFlag.LOW
    assert flag_from_range(0.9, None, None) is None
    # Every abnormal flag has a symbol and words: never colour alone.
    assert all(text.symbol and text.label for flag, text in FLAG_TEXT.items() if flag is not ResultFlag.NORMAL)


def test_ranges_units_and_text() -> None:
    assert describe_range(RangeBounds(3.9, 6.1, "mmol/L", None)) == "3.9–6.1 mmol/L"
    assert describe_range(RangeBounds(None, None, None, "  阴性  ")) == "阴性"
    assert describe_range(RangeBounds(None, None, None, None)) is None
    assert unit_key("mmol/l", system="http://unitsofmeasure.org", code="mmol/L") == "mmol/L"
    assert unit_key("umol/L", system="http://snomed.info/sct", code="258814008") == "umol/L"
    assert clean_text("Cholesterol [Moles/\u200bvolume]") == "Cholesterol [Moles/volume]"
