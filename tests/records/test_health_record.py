"""The health record centre through GraphQL: a demo patient's own record and their parent's, the
reports classified by kind and visit, results with flags that are more than a colour, indicators
and trends, documents behind signed links; expected values computed from the simulator's raw FHIR."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from his_support import RECORD_FIELDS, account_with, person
from identity_support import codes, gql
from sqlalchemy import select

from datasources.db.tables import AuditEntry
from datasources.his.simulator import HisSimulator

LAB_SECTIONS = {"HM", "CH", "LAB"}
REPORTS = f"""query($id: ID!, $kind: ReportKind, $visit: VisitKind, $first: Int!, $after: String) {{
  healthRecord(profileId: $id) {{ {RECORD_FIELDS}
    reports(kind: $kind, visit: $visit, first: $first, after: $after) {{
      totalCount pageInfo {{ hasNextPage endCursor }}
      nodes {{ id kind kindLabel visit visitLabel title abnormalCount resultCount effectiveAt
               encounter {{ kind startedAs admittedViaEmergency }} }} }} }} }}"""
REPORT = """query($id: ID!, $report: ID!) { healthRecord(profileId: $id) { report(id: $report) {
  id kind title conclusion abnormalCount missingResultCount
  results { code name hisName explanation valueText numericValue unit flag flagSymbol flagLabel flagSource abnormal
            summary referenceRange { low high text } }
  attachments { title contentType sizeBytes downloadUrl expiresAt } } } }"""
TREND = """query($id: ID!, $code: String!) { indicatorTrend(profileId: $id, code: $code) {
  name unit rangeChanges excluded { unit count } stale asOf
  points { at value valueText flag flagSymbol flagLabel abnormal rangeChanged referenceRange { text } } } }"""
INDICATORS = """query($id: ID!) { healthRecord(profileId: $id) { indicators(abnormalOnly: true) {
  code name valueCount trendAvailable latest { flag flagSymbol flagLabel abnormal } } } }"""


def _raw(simulator: HisSimulator, pid: str, now: datetime) -> list[dict[str, Any]]:
    data = simulator.patients[pid]
    return [r for r in data.reports if data.available[r["id"]] <= now]


def _raw_kind(report: dict[str, Any]) -> str:
    return "LAB" if {c["code"] for cat in report["category"] for c in cat["coding"]} & LAB_SECTIONS else "EXAM"


def _raw_visit(simulator: HisSimulator, pid: str, report: dict[str, Any]) -> str:
    reference = report["encounter"]["reference"]
    encounter = next(e for e in simulator.patients[pid].encounters if reference == f"Encounter/{e['id']}")
    when = datetime.fromisoformat(report["effectiveDateTime"])
    for entry in encounter.get("classHistory", []):
        start = datetime.fromisoformat(entry["period"]["start"])
        end = datetime.fromisoformat(entry["period"]["end"])
        if start <= when < end:
            return {"EMER": "EMERGENCY", "IMP": "INPATIENT"}[entry["class"]["code"]]
    return {"AMB": "OUTPATIENT", "EMER": "EMERGENCY", "IMP": "INPATIENT"}[encounter["class"]["code"]]


async def _all_reports(http: httpx.AsyncClient, token: str, profile: str, **filters: str) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        body = await gql(http, REPORTS, {"id": profile, "first": 50, "after": after, **filters}, token)
        assert "errors" not in body, body
        page = body["data"]["healthRecord"]["reports"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


async def test_a_patient_sees_their_own_and_their_parents_reports_classified(his_app: Any, app: Any) -> None:
    async with his_app() as h:
        token, (own, parent) = await account_with(h.http, "records-classified", person(1), person(1, parent=True))
        now = h.clock()
        for profile, pid in ((own, "P100010"), (parent, "P100011")):
            raw = _raw(h.simulator, pid, now)
            reports = await _all_reports(h.http, token, profile)
            # Every report, newest first, none twice across the pages.
            assert sorted(r["id"] for r in reports) == sorted(r["id"] for r in raw)
            assert [r["effectiveAt"] for r in reports] == sorted((r["effectiveAt"] for r in reports), reverse=True)
            for kind in ("LAB", "EXAM"):
                chosen = await _all_reports(h.http, token, profile, kind=kind)
                assert {r["id"] for r in chosen} == {r["id"] for r in raw if _raw_kind(r) == kind}
                assert {r["kindLabel"] for r in chosen} == {"LAB": {"检验"}, "EXAM": {"检查"}}[kind]
            expected_visits = {r["id"]: _raw_visit(h.simulator, pid, r) for r in raw}
            assert {r["id"]: r["visit"] for r in reports} == expected_visits
        # The parent was admitted through the emergency department: tests before the admission are 急诊.
        emergency = await _all_reports(h.http, token, parent, visit="EMERGENCY")
        via_ed = [r for r in emergency if r["encounter"]["kind"] == "INPATIENT"]
        assert via_ed and all(r["encounter"]["admittedViaEmergency"] for r in via_ed)
        inpatient = await _all_reports(h.http, token, parent, visit="INPATIENT")
        assert inpatient and all(r["encounter"]["startedAs"] == "EMERGENCY" for r in inpatient)

        body = await gql(h.http, REPORTS, {"id": parent, "first": 1}, token)
        info = body["data"]["healthRecord"]["basicInfo"]
        assert (info["maskedName"], info["hisPatientId"]) == ("张**", "P100011")
        assert info["medicalRecordNumber"] == "MR100011"
        assert info["idNumber"].count("*") == 8 and info["mobile"] == "139****0001"
        assert info["inpatientStays"] == 1 and info["emergencyVisits"] >= 2
        assert body["data"]["healthRecord"]["stale"] is False

    async with app.state.resources.sessions() as db:
        reads = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "health_record.read"))).all()
    assert {(r.target_type, r.target_id, r.result) for r in reads} >= {
        ("PatientProfile", own, "OK"),
        ("PatientProfile", parent, "OK"),
    }


async def test_results_carry_flags_in_symbols_and_words_with_plain_names(his_app: Any) -> None:
    async with his_app() as h:
        token, (parent,) = await account_with(h.http, "records-flags", person(1, parent=True))
        raw = _raw(h.simulator, "P100011", h.clock())
        observations = h.simulator.patients["P100011"].observations
        # A glucose report with a value the laboratory flagged high.
        flagged = next(
            r
            for r in raw
            if r["code"]["text"] == "血糖"
            and observations[r["result"][0]["reference"].split("/")[1]]["interpretation"][0]["coding"][0]["code"] == "H"
        )
        glucose = observations[flagged["result"][0]["reference"].split("/")[1]]
        body = await gql(h.http, REPORT, {"id": parent, "report": flagged["id"]}, token)
        report = body["data"]["healthRecord"]["report"]
        first = report["results"][0]
        assert (first["code"], first["name"], first["numericValue"]) == (
            "14749-6",
            "空腹血糖",
            glucose["valueQuantity"]["value"],
        )
        assert (first["flag"], first["flagSymbol"], first["flagLabel"], first["flagSource"], first["abnormal"]) == (
            "HIGH",
            "↑",
            "偏高",
            "REPORTED",
            True,
        )
        assert first["referenceRange"] == {"low": 3.9, "high": 6.1, "text": "3.9–6.1 mmol/L"}
        assert "↑ 偏高" in first["summary"] and first["explanation"]
        assert report["abnormalCount"] == sum(1 for r in report["results"] if r["abnormal"])

        # The urinalysis is a panel: its members come through hasMember, the qualitative ones as words.
        urine = next(r for r in raw if r["code"]["text"] == "尿常规")
        body = await gql(h.http, REPORT, {"id": parent, "report": urine["id"]}, token)
        results = {r["name"]: r for r in body["data"]["healthRecord"]["report"]["results"]}
        assert set(results) == {"尿酸碱度", "尿比重", "尿蛋白", "尿糖", "尿潜血"}
        assert results["尿蛋白"]["valueText"] == "阴性(-)" and results["尿酸碱度"]["unit"] is None

        missing = await gql(h.http, REPORT, {"id": parent, "report": "no-such-report"}, token)
        assert missing["data"]["healthRecord"]["report"] is None
        bad = await gql(h.http, REPORT, {"id": parent, "report": "../Patient"}, token)
        assert codes(bad) == ["BAD_USER_INPUT"]


async def test_trends_compare_one_unit_only_and_show_reference_range_changes(his_app: Any) -> None:
    async with his_app() as h:
        token, (parent,) = await account_with(h.http, "records-trends", person(1, parent=True))
        observations = [
            o
            for o in h.simulator.patients["P100011"].observations.values()
            if o["code"]["coding"][0]["code"] == "718-7"
        ]
        in_g_dl = sum(1 for o in observations if o["valueQuantity"]["unit"] == "g/dL")
        body = await gql(h.http, TREND, {"id": parent, "code": "718-7"}, token)
        trend = body["data"]["indicatorTrend"]
        # The old laboratory reported g/dL: those values are counted, never plotted against g/L.
        assert in_g_dl > 0
        assert trend["excluded"] == [{"unit": "g/dL", "count": in_g_dl}]
        assert (trend["name"], trend["unit"]) == ("血红蛋白", "g/L")
        assert len(trend["points"]) == len(observations) - in_g_dl
        assert [p["at"] for p in trend["points"]] == sorted(p["at"] for p in trend["points"])
        for point in trend["points"]:
            assert (point["flagSymbol"] is not None) == point["abnormal"]

        # ALT: the laboratory changed analysers and its reference range; the trend says where.
        alt = (await gql(h.http, TREND, {"id": parent, "code": "1742-6"}, token))["data"]["indicatorTrend"]
        changed = [p for p in alt["points"] if p["rangeChanged"]]
        assert alt["rangeChanges"] == len(changed) == 1
        before = alt["points"][alt["points"].index(changed[0]) - 1]
        assert (before["referenceRange"]["text"], changed[0]["referenceRange"]["text"]) == (
            "9–60 U/L",
            "9–50 U/L",
        )

        unknown = (await gql(h.http, TREND, {"id": parent, "code": "99999-9"}, token))["data"]["indicatorTrend"]
        assert (unknown["points"], unknown["excluded"]) == ([], [])
        assert codes(await gql(h.http, TREND, {"id": parent, "code": "718-7 OR 1=1"}, token)) == ["BAD_USER_INPUT"]


async def test_indicators_list_the_latest_abnormal_values_first(his_app: Any) -> None:
    async with his_app() as h:
        token, (parent,) = await account_with(h.http, "records-indicators", person(1, parent=True))
        body = await gql(h.http, INDICATORS, {"id": parent}, token)
        indicators = body["data"]["healthRecord"]["indicators"]
        assert indicators and all(i["latest"]["abnormal"] and i["latest"]["flagSymbol"] for i in indicators)
        names = {i["name"] for i in indicators}
        assert {"空腹血糖", "糖化血红蛋白"} <= names  # the diabetic parent's glucose stays above range
        assert all(i["trendAvailable"] == (i["valueCount"] >= 2) for i in indicators)
