"""A parsed HIS answer is freed as soon as it is read, by reference counting alone: a record is a
few hundred kilobytes of JSON per request, and one kept until the garbage collector runs made every
collection walk it again (and cost the health record query milliseconds at the median)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from his_support import ZONE, read

from datasources.his.fhir.parse import parse_report
from domain.health_records import ResultFlag


class Index(dict[str, Any]):
    """The search's included resources; a dict that can be watched through a weak reference."""


def _observation(ident: str, **fields: Any) -> Any:
    return read(
        {
            "resourceType": "Observation",
            "id": ident,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": ident}]},
            "effectiveDateTime": "2026-03-02T08:00:00+08:00",
            **fields,
        }
    )


@pytest.fixture
def collector_off() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def test_a_report_with_panels_leaves_nothing_for_the_collector(collector_off: None) -> None:
    index = Index(
        {
            "Observation/panel": _observation("panel", hasMember=[{"reference": "Observation/sub"}]),
            "Observation/sub": _observation("sub", hasMember=[{"reference": "Observation/glucose"}]),
            "Observation/glucose": _observation(
                "glucose",
                valueQuantity={"value": 7.2, "unit": "mmol/L"},
                interpretation=[{"coding": [{"code": "H"}]}],
            ),
        }
    )
    report = read(
        {
            "resourceType": "DiagnosticReport",
            "id": "r1",
            "status": "final",
            "code": {"text": "血糖"},
            "result": [{"reference": "Observation/panel"}],
        }
    )
    watched = weakref.ref(index)
    parsed = parse_report(report, resolve=index.get, zone=ZONE)
    # The panels' member was read through both levels of nesting.
    assert [(r.id, r.reported_flag) for r in parsed.results] == [("glucose", ResultFlag.HIGH)]
    del index
    assert watched() is None, "the HIS answer outlived its parsing: something still refers to it"
