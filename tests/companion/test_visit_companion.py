"""The visit companion (电子伴诊): the guide, today's journey driven by the HIS (it moves on by
itself as the clock moves), followed by every account that manages the profile, and editing the guide."""

from __future__ import annotations

from typing import Any

from his_support import account_with, person
from identity_support import codes, gql, make_staff, staff_login
from sqlalchemy import select

from datasources.db.tables import AuditEntry
from domain.companion import JourneyStepStatus, journey
from domain.enums import AdminRole, VisitStep

GUIDE = "{ visitGuide { step position title summary largePrintText readAloudText tips } }"
JOURNEY = """query($id: ID!) { visitJourney(profileId: $id) {
  day hasVisitToday finished department doctor currentStep currentStepTitle nextAction queueNumber waitingAhead
  largePrintText readAloudText refreshAfterSeconds stale asOf place { buildingFloor room text }
  steps { step status title place { text } guide { step } } } }"""
UPDATE = """mutation($step: VisitStep!, $input: VisitGuideStepInput!) {
  updateVisitGuideStep(step: $step, input: $input) {
    __typename ... on UpdateVisitGuideStepSuccess { step { step title summary tips } }
    ... on ValidationFailed { field reason code } } }"""


def test_journey_rules() -> None:
    statuses, current = journey({}, has_visit=False)
    assert current is VisitStep.BOOK and set(statuses.values()) == {JourneyStepStatus.UPCOMING}
    tasks = {VisitStep.CHECK_IN: "completed", VisitStep.CONSULT: "completed", VisitStep.PHARMACY: "in-progress"}
    statuses, current = journey(tasks, has_visit=True)
    assert current is VisitStep.PHARMACY
    assert statuses[VisitStep.BOOK] is JourneyStepStatus.DONE
    # Past steps without a task were not needed this time; later ones are still to come.
    assert statuses[VisitStep.TESTS] is JourneyStepStatus.NOT_NEEDED
    assert statuses[VisitStep.REPORTS] is JourneyStepStatus.UPCOMING
    done = {step: "completed" for step in VisitStep}
    assert journey(done, has_visit=True)[1] is None
    assert journey({VisitStep.TESTS: "cancelled"}, has_visit=True)[0][VisitStep.TESTS] is JourneyStepStatus.NOT_NEEDED


async def test_the_guide_covers_the_whole_visit_in_plain_language(client: Any) -> None:
    guide = (await client.query(GUIDE))["visitGuide"]
    assert [g["step"] for g in guide] == [s.value for s in VisitStep]
    assert [g["title"] for g in guide][:3] == ["预约挂号", "签到", "候诊"]
    assert all(g["summary"] and g["largePrintText"] and g["readAloudText"] for g in guide)


async def test_todays_journey_moves_on_by_itself_and_a_relative_follows_it(his_app: Any) -> None:
    async with his_app(his_visit_soft_ttl_seconds=10) as h:
        child, (parent,) = await account_with(h.http, "journey-child", person(1, parent=True))
        sibling, (same_parent,) = await account_with(h.http, "journey-sibling", person(1, parent=True))
        body = await gql(h.http, JOURNEY, {"id": parent}, child)
        now = body["data"]["visitJourney"]
        visit = h.simulator.patients["P100011"].visit_today
        assert visit is not None
        assert (now["hasVisitToday"], now["currentStep"], now["currentStepTitle"]) == (True, "WAIT", "候诊")
        assert (now["department"], now["queueNumber"]) == ("内分泌科", visit.queue_number)
        assert now["waitingAhead"] is not None and f"前面还有{now['waitingAhead']}人" in now["nextAction"]
        assert now["place"]["buildingFloor"] == "门诊楼3层 内分泌科诊区"
        assert now["place"]["text"] in now["nextAction"] and now["place"]["text"] in now["readAloudText"]
        assert [s["status"] for s in now["steps"]][:4] == ["DONE", "DONE", "CURRENT", "UPCOMING"]
        assert now["refreshAfterSeconds"] == 10 and now["stale"] is False

        # Another account managing the same person sees the same journey.
        theirs = (await gql(h.http, JOURNEY, {"id": same_parent}, sibling))["data"]["visitJourney"]
        assert {k: v for k, v in theirs.items()} == now

        count = "query($id: ID!) { healthRecord(profileId: $id) { reports(first: 1) { totalCount } } }"
        before = (await gql(h.http, count, {"id": parent}, child))["data"]["healthRecord"]["reports"]["totalCount"]

        # The HIS moves on: so does the journey, without anyone doing anything here.
        seen = []
        for minutes in (3, 10, 9, 10, 25, 10, 45):  # started 20 minutes ago; see the simulator's plan
            h.clock.advance(minutes=minutes)
            step = (await gql(h.http, JOURNEY, {"id": parent}, child))["data"]["visitJourney"]
            seen.append(step["currentStep"])
        assert seen == ["WAIT", "CONSULT", "PAY", "TESTS", "PHARMACY", "REPORTS", None]
        assert step["finished"] is True and step["largePrintText"] == "就诊已完成"
        assert step["doctor"] == visit.doctor
        # And today's lab report is in the record, now that it is ready (查报告).
        after = (await gql(h.http, count, {"id": parent}, child))["data"]["healthRecord"]["reports"]["totalCount"]
        assert after == before + 1


async def test_no_visit_today_means_the_first_thing_is_to_book(his_app: Any) -> None:
    async with his_app() as h:
        token, (own,) = await account_with(h.http, "journey-none", person(1))
        body = await gql(h.http, JOURNEY, {"id": own}, token)
        journey_now = body["data"]["visitJourney"]
        assert (journey_now["hasVisitToday"], journey_now["currentStep"], journey_now["queueNumber"]) == (
            False,
            "BOOK",
            None,
        )
        assert "今天没有就诊安排" in journey_now["nextAction"] and "预约" in journey_now["nextAction"]


async def test_content_editors_edit_the_guide_in_one_audited_transaction(client: Any, http: Any, app: Any) -> None:
    editor = await staff_login(http, await make_staff(app, [AdminRole.CONTENT_EDITOR]))
    original = next(g for g in (await client.query(GUIDE))["visitGuide"] if g["step"] == "PAY")
    text = {
        "title": "缴费",
        "summary": "在手机上点“门诊缴费”付款，或到一楼收费处。",
        "largePrintText": "先付钱",
        "readAloudText": "请先缴费，可以在手机上付，也可以到一楼收费处。",
        "tips": ["  医保卡结算请到窗口  "],
    }
    body = await gql(http, UPDATE, {"step": "PAY", "input": text}, editor)
    saved = body["data"]["updateVisitGuideStep"]
    assert saved["__typename"] == "UpdateVisitGuideStepSuccess"
    assert saved["step"]["tips"] == ["医保卡结算请到窗口"]
    shown = next(g for g in (await client.query(GUIDE))["visitGuide"] if g["step"] == "PAY")
    assert shown["summary"] == text["summary"] and shown["position"] == original["position"]

    refused = await gql(http, UPDATE, {"step": "PAY", "input": {**text, "title": " ", "summary": "x"}}, editor)
    assert refused["data"]["updateVisitGuideStep"] == {
        "__typename": "ValidationFailed",
        "field": "title",
        "reason": "INVALID",
        "code": "BAD_USER_INPUT",
    }
    too_many = await gql(http, UPDATE, {"step": "PAY", "input": {**text, "tips": ["a"] * 11}}, editor)
    assert too_many["data"]["updateVisitGuideStep"]["field"] == "tips"
    after = next(g for g in (await client.query(GUIDE))["visitGuide"] if g["step"] == "PAY")
    assert after["summary"] == text["summary"], "refused input changes nothing"

    assert codes(await gql(http, UPDATE, {"step": "PAY", "input": text})) == ["UNAUTHENTICATED"]
    async with app.state.resources.sessions() as db:
        rows = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "visit_guide.update"))).all()
    assert [(r.target_type, r.target_id, r.result) for r in rows][-1:] == [("VisitGuideStep", "PAY", "OK")]
    # Put the original text back for the other tests.
    restore = {k: original[k] for k in ("title", "summary", "largePrintText", "readAloudText", "tips")}
    assert "errors" not in await gql(http, UPDATE, {"step": "PAY", "input": restore}, editor)
