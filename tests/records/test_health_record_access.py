"""Who may read a health record: the owning account, with the profile's consent, for a profile that
is verifiably the HIS patient's person; every read and every refusal in the audit log. PDFs only
through short-lived signed links that are never cached."""

from __future__ import annotations

from typing import Any

from his_support import account_with, person
from identity_support import ADULT, codes, gql
from sqlalchemy import select

from datasources.db.tables import AuditEntry

READ = "query($id: ID!) { healthRecord(profileId: $id) { profileId reports(first: 1) { totalCount } } }"
TREND = 'query($id: ID!) { indicatorTrend(profileId: $id, code: "718-7") { unit } }'
JOURNEY = "query($id: ID!) { visitJourney(profileId: $id) { currentStep } }"
WITHDRAW = "mutation($id: ID!) { withdrawHealthDataConsent(profileId: $id) { __typename } }"
ATTACHMENTS = """query($id: ID!, $report: ID!) { healthRecord(profileId: $id) { report(id: $report) {
  attachments { title contentType sizeBytes downloadUrl expiresAt } } } }"""


async def _audit(app: Any, profile: str) -> list[tuple[str, str]]:
    async with app.state.resources.sessions() as db:
        rows = await db.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_type == "PatientProfile", AuditEntry.target_id == profile)
            .order_by(AuditEntry.id)
        )
        return [(row.action, row.result) for row in rows]


async def test_someone_elses_profile_is_forbidden_exactly_like_a_missing_one(his_app: Any) -> None:
    async with his_app() as h:
        _, (theirs,) = await account_with(h.http, "access-owner", person(2))
        mine, _ = await account_with(h.http, "access-intruder", person(3))
        for query in (READ, TREND, JOURNEY):
            answers = []
            for target in (theirs, "987654"):
                body = await gql(h.http, query, {"id": target}, mine)
                answers.append((body["data"], [(e["message"], e["extensions"]) for e in body["errors"]]))
            assert answers[0] == answers[1]
            assert answers[0][1] == [("无权访问 (not allowed)", {"code": "FORBIDDEN"})]
            assert not any((answers[0][0] or {}).values())
        assert set(await _audit(h.app, theirs)) >= {
            ("health_record.read", "DENIED"),
            ("health_record.trend.read", "DENIED"),
            ("visit_journey.read", "DENIED"),
        }


async def test_without_consent_nothing_is_read_and_withdrawing_stops_reading(his_app: Any) -> None:
    async with his_app() as h:
        token, (profile,) = await account_with(h.http, "access-consent", person(2), consent=False)
        before = h.simulator.stats.count()
        for query in (READ, TREND, JOURNEY):
            assert codes(await gql(h.http, query, {"id": profile}, token)) == ["CONSENT_REQUIRED"]
        assert h.simulator.stats.count() == before, "the HIS is not even asked"

        token, (profile,) = await account_with(h.http, "access-withdraw", person(2))
        assert "errors" not in await gql(h.http, READ, {"id": profile}, token)
        await gql(h.http, WITHDRAW, {"id": profile}, token)
        assert codes(await gql(h.http, READ, {"id": profile}, token)) == ["CONSENT_REQUIRED"]
        assert await _audit(h.app, profile) == [
            ("profile.add", "OK"),
            ("consent.give", "OK"),
            ("health_record.read", "OK"),
            ("consent.withdraw", "OK"),
            ("health_record.read", "DENIED"),
        ]


async def test_a_profile_must_be_the_his_patients_person(his_app: Any) -> None:
    async with his_app() as h:
        # Not linked at all.
        token, (unlinked,) = await account_with(h.http, "access-unlinked", person(2, hisPatientId=None))
        assert codes(await gql(h.http, READ, {"id": unlinked}, token)) == ["HIS_NOT_LINKED"]
        # Someone typing another patient's HIS id into their own profile sees nothing of it.
        token, (claimed,) = await account_with(
            h.http, "access-claims", {**person(2), "name": "王小明", "idNumber": ADULT, "hisPatientId": "P100011"}
        )
        for query in (READ, TREND, JOURNEY):
            body = await gql(h.http, query, {"id": claimed}, token)
            assert codes(body) == ["HIS_NOT_LINKED"] and not any((body.get("data") or {}).values())
        assert ("health_record.identity_mismatch", "DENIED") in await _audit(h.app, claimed)


async def test_pdf_documents_come_through_short_lived_signed_links_never_cached(his_app: Any) -> None:
    async with his_app(attachment_link_ttl_seconds=300) as h:
        token, (parent,) = await account_with(h.http, "access-pdf", person(1, parent=True))
        data = h.simulator.patients["P100011"]
        ct = next(r for r in data.reports if "presentedForm" in r and "url" in r["presentedForm"][0])
        ecg = next(r for r in data.reports if "presentedForm" in r and "data" in r["presentedForm"][0])
        for report, served in ((ct, data.binaries[ct["presentedForm"][0]["url"].split("/")[1]][1]), (ecg, None)):
            body = await gql(h.http, ATTACHMENTS, {"id": parent, "report": report["id"]}, token)
            (pdf,) = body["data"]["healthRecord"]["report"]["attachments"]
            assert pdf["contentType"] == "application/pdf" and pdf["title"].endswith("报告")
            assert pdf["downloadUrl"].startswith("http://testserver/health-record/attachments/v1.")
            response = await h.http.get(pdf["downloadUrl"])
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/pdf"
            assert "no-store" in response.headers["cache-control"]
            assert response.content.startswith(b"%PDF-")
            if served is not None:
                assert response.content == served
            assert pdf["sizeBytes"] == len(response.content)

        link = pdf["downloadUrl"]
        # Tampered with: refused, and the refusal audited.
        forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
        refused = await h.http.get(forged)
        assert refused.status_code == 404 and "no-store" in refused.headers["cache-control"]
        # Expired.
        h.clock.advance(seconds=301)
        assert (await h.http.get(link)).status_code == 410
        h.clock.advance(seconds=-301)
        # Consent withdrawn: the link no longer opens.
        await gql(h.http, WITHDRAW, {"id": parent}, token)
        assert (await h.http.get(link)).status_code == 403
        actions = await _audit(h.app, parent)
        assert actions.count(("health_record.attachment.download", "OK")) == 2
        assert ("health_record.attachment.download", "DENIED") in actions


async def test_a_pdf_link_when_the_his_is_down_says_so_without_a_crash(his_app: Any) -> None:
    async with his_app(his_retries=0) as h:
        token, (parent,) = await account_with(h.http, "access-pdf-down", person(1, parent=True))
        ct = next(r for r in h.simulator.patients["P100011"].reports if "presentedForm" in r)
        body = await gql(h.http, ATTACHMENTS, {"id": parent, "report": ct["id"]}, token)
        link = body["data"]["healthRecord"]["report"]["attachments"][0]["downloadUrl"]
        h.simulator.faults.update({"status": 503})
        response = await h.http.get(link)
        assert response.status_code == 503 and response.json()["code"] == "HIS_UNAVAILABLE"
        assert response.headers["retry-after"] == "30"
