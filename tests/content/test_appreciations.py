"""E-banners and thank-you letters: written for a completed consult of one's own, filtered, moderated,
then shown on the staff member's page with counts; refusals write nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from content_support import audit_actions, count, mutate, snapshot, staff_token
from identity_support import ADD, codes, gql, patient_login, profile_input
from sqlalchemy import insert, select, text

from datasources.content.appreciations import AppreciationCounts, published_appreciation_counts
from datasources.db.tables import Consult, Staff
from domain.enums import AdminRole, ConsultService, ConsultStatus
from support import ANCHOR

MODERATED = "id kind design text signature status rejectReason consultId staffMemberId teamId publishedAt"
CREATE = f"""mutation($input: AppreciationInput!) {{ createAppreciation(input: $input) {{
  __typename ... on AppreciationSuccess {{ appreciation {{ {MODERATED} }} }}
  ... on ValidationFailed {{ code field reason detail }} }} }}"""
APPROVE = f"""mutation($id: ID!) {{ approveAppreciation(id: $id) {{
  __typename ... on AppreciationSuccess {{ appreciation {{ {MODERATED} }} }}
  ... on ValidationFailed {{ field reason }} ... on NotFound {{ typeName id }} }} }}"""
REJECT = f"""mutation($id: ID!, $reason: String!) {{ rejectAppreciation(id: $id, reason: $reason) {{
  __typename ... on AppreciationSuccess {{ appreciation {{ {MODERATED} }} }}
  ... on ValidationFailed {{ field reason }} ... on NotFound {{ typeName id }} }} }}"""
STAFF_PAGE = """query($id: ID!) {
  staffMember(id: $id) { appreciationCounts { banners letters } }
  appreciations(staffId: $id, first: 50) { totalCount nodes { id kind design text signature } } }"""
MINE = f"{{ myAppreciations(first: 50) {{ nodes {{ {MODERATED} }} }} }}"
QUEUE = "{ moderationQueue(first: 50) { nodes { id status } } }"


class Patient:
    def __init__(self, token: str, account_id: int) -> None:
        self.token = token
        self.account_id = account_id


async def _patient(http: httpx.AsyncClient, *, with_profile: bool = True) -> Patient:
    token = await patient_login(http, f"thanks-{uuid.uuid4().hex[:8]}")
    if with_profile:
        body = await gql(http, ADD, {"input": profile_input(name="王小明")}, token)
        assert body["data"]["addProfile"]["__typename"] == "ProfileSuccess", body
    me = await gql(http, "{ me { id } }", token=token)
    return Patient(token, int(me["data"]["me"]["id"]))


async def _consult(app: Any, patient: Patient, *, status: ConsultStatus = ConsultStatus.COMPLETED, **kw: Any) -> int:
    """A consult of the patient's account, written directly (ordering consults is another issue)."""
    async with app.state.resources.sessions() as db, db.begin():
        staff = await db.scalar(select(Staff).where(Staff.active.is_(True)).order_by(Staff.id).limit(1))
        assert staff is not None
        values = {
            "service": ConsultService.FOLLOW_UP,
            "patient_id": 999_999,
            "account_id": patient.account_id,
            "staff_id": staff.id,
            "team_id": None,
            "department_id": staff.department_id,
            "status": status,
            "price_cents": 2000,
            "created_at": ANCHOR - timedelta(days=2),
            "paid_at": ANCHOR - timedelta(days=2),
            "first_response_at": ANCHOR - timedelta(days=2),
            "completed_at": ANCHOR - timedelta(days=1) if status is ConsultStatus.COMPLETED else None,
            **kw,
        }
        return int((await db.execute(insert(Consult).values(values).returning(Consult.id))).scalar_one())


async def _staff_of(app: Any, consult_id: int) -> int:
    async with app.state.resources.sessions() as db:
        consult = await db.get(Consult, consult_id)
        assert consult is not None and consult.staff_id is not None
        return consult.staff_id


def banner(consult_id: int, **changes: Any) -> dict[str, Any]:
    return {"consultId": str(consult_id), "kind": "BANNER", "design": "CLASSIC_RED", "text": "妙手回春", **changes}


def letter(consult_id: int, **changes: Any) -> dict[str, Any]:
    text = "感谢医生耐心细致的解答，让我们全家都放心了。"
    return {"consultId": str(consult_id), "kind": "LETTER", "text": text, **changes}


@pytest.fixture
async def editor(app: Any, http: httpx.AsyncClient) -> str:
    return await staff_token(app, http, AdminRole.CONTENT_EDITOR)


async def test_a_banner_appears_on_the_doctors_page_after_approval(
    http: httpx.AsyncClient, app: Any, editor: str
) -> None:
    # given
    patient = await _patient(http)
    consult = await _consult(app, patient)
    staff_id = str(await _staff_of(app, consult))
    before = (await gql(http, STAFF_PAGE, {"id": staff_id}))["data"]
    # when: the patient sends a banner
    sent = await mutate(http, CREATE, {"input": banner(consult)}, patient.token)
    # then: it waits, unseen
    item = sent["appreciation"]
    assert (item["status"], item["signature"], item["staffMemberId"], item["design"]) == (
        "PENDING",
        "王**",
        staff_id,
        "CLASSIC_RED",
    )
    assert (await gql(http, STAFF_PAGE, {"id": staff_id}))["data"] == before
    assert item["id"] in {n["id"] for n in (await gql(http, QUEUE, token=editor))["data"]["moderationQueue"]["nodes"]}
    # when: an editor approves it
    approved = await mutate(http, APPROVE, {"id": item["id"]}, editor)
    assert approved["appreciation"]["status"] == "PUBLISHED"
    # then: it is on the doctor's page, anonymised, and counted
    after = (await gql(http, STAFF_PAGE, {"id": staff_id}))["data"]
    assert after["staffMember"]["appreciationCounts"] == {
        "banners": before["staffMember"]["appreciationCounts"]["banners"] + 1,
        "letters": before["staffMember"]["appreciationCounts"]["letters"],
    }
    assert after["appreciations"]["nodes"][-1] == {
        "id": item["id"],
        "kind": "BANNER",
        "design": "CLASSIC_RED",
        "text": "妙手回春",
        "signature": "王**",
    }
    assert await audit_actions(app, "Appreciation", item["id"]) == ["banner.create", "appreciation.approve"]


async def test_a_rejected_letter_stays_hidden_and_its_author_sees_why(
    http: httpx.AsyncClient, app: Any, editor: str
) -> None:
    patient = await _patient(http)
    consult = await _consult(app, patient)
    staff_id = str(await _staff_of(app, consult))
    sent = (await mutate(http, CREATE, {"input": letter(consult, showName=True)}, patient.token))["appreciation"]
    assert sent["signature"] == "王小明", "the patient chose to sign with the full name"
    rejected = await mutate(http, REJECT, {"id": sent["id"], "reason": "含有其他患者的个人信息"}, editor)
    assert (rejected["appreciation"]["status"], rejected["appreciation"]["rejectReason"]) == (
        "REJECTED",
        "含有其他患者的个人信息",
    )
    page = (await gql(http, STAFF_PAGE, {"id": staff_id}))["data"]["appreciations"]["nodes"]
    assert sent["id"] not in {n["id"] for n in page}
    mine = (await gql(http, MINE, token=patient.token))["data"]["myAppreciations"]["nodes"]
    assert [(m["id"], m["status"], m["rejectReason"]) for m in mine] == [
        (sent["id"], "REJECTED", "含有其他患者的个人信息")
    ]


async def test_a_published_one_can_be_taken_down(http: httpx.AsyncClient, app: Any, editor: str) -> None:
    patient = await _patient(http, with_profile=False)
    consult = await _consult(app, patient)
    sent = (await mutate(http, CREATE, {"input": banner(consult)}, patient.token))["appreciation"]
    assert sent["signature"] == "患者", "without a profile there is no name to show"
    await mutate(http, APPROVE, {"id": sent["id"]}, editor)
    taken_down = await mutate(http, REJECT, {"id": sent["id"], "reason": "患者要求撤下"}, editor)
    assert (taken_down["appreciation"]["status"], taken_down["appreciation"]["publishedAt"]) == ("REJECTED", None)


async def _unchanged(app: Any) -> Any:
    return await snapshot(app, "appreciations", "id"), await count(app, "audit_log", "action LIKE '%.create'")


@pytest.mark.parametrize(
    ("make", "field", "reason", "detail"),
    [
        (lambda c: banner(c, design=None), "design", "INVALID", None),
        (lambda c: banner(c, text="好"), "text", "INVALID", None),
        (lambda c: banner(c, text="医术高明\n仁心仁术"), "text", "INVALID", None),
        (lambda c: banner(c, text="一二三四五六七八九十一二三"), "text", "INVALID", None),
        (lambda c: letter(c, design="JADE"), "design", "INVALID", None),
        (lambda c: letter(c, text="谢谢"), "text", "INVALID", None),
        (lambda c: letter(c, text="谢谢医生，给您发个红 包表示感谢，请收下"), "text", "BLOCKED_WORDS", "红包"),
        (lambda c: banner(c, text="加-微-信 详聊"), "text", "BLOCKED_WORDS", "加微信"),
    ],
)
async def test_bad_or_blocked_texts_are_refused_and_write_nothing(
    http: httpx.AsyncClient, app: Any, make: Any, field: str, reason: str, detail: str | None
) -> None:
    patient = await _patient(http)
    consult = await _consult(app, patient)
    before = await _unchanged(app)
    result = await mutate(http, CREATE, {"input": make(consult)}, patient.token)
    assert (result["__typename"], result["code"], result["field"], result["reason"], result["detail"]) == (
        "ValidationFailed",
        "BAD_USER_INPUT",
        field,
        reason,
        detail,
    )
    assert await _unchanged(app) == before


async def test_one_of_each_per_completed_consult(http: httpx.AsyncClient, app: Any) -> None:
    patient = await _patient(http)
    consult = await _consult(app, patient)
    assert (await mutate(http, CREATE, {"input": banner(consult)}, patient.token))[
        "__typename"
    ] == "AppreciationSuccess"
    assert (await mutate(http, CREATE, {"input": letter(consult)}, patient.token))[
        "__typename"
    ] == "AppreciationSuccess"
    before = await _unchanged(app)
    again = await mutate(http, CREATE, {"input": banner(consult, design="JADE")}, patient.token)
    assert (again["__typename"], again["field"], again["reason"]) == ("ValidationFailed", "consultId", "DUPLICATE")
    # and only for a completed one
    for status in (ConsultStatus.PAID, ConsultStatus.IN_PROGRESS, ConsultStatus.REFUNDED):
        open_consult = await _consult(app, patient, status=status)
        before = await _unchanged(app)
        early = await mutate(http, CREATE, {"input": banner(open_consult)}, patient.token)
        assert (early["field"], early["reason"]) == ("consultId", "NOT_COMPLETED")
        assert await _unchanged(app) == before


async def test_another_patients_or_an_unknown_consult_is_forbidden(http: httpx.AsyncClient, app: Any) -> None:
    owner, other = await _patient(http), await _patient(http)
    consult = await _consult(app, owner)
    before = await snapshot(app, "appreciations", "id")
    for consult_id in (consult, 99_999_999):
        body = await gql(http, CREATE, {"input": banner(consult_id)}, other.token)
        assert codes(body) == ["FORBIDDEN"]
    assert await snapshot(app, "appreciations", "id") == before
    assert await audit_actions(app, "Consult", consult) == ["appreciation.create"]  # the refusal, as DENIED
    # staff and anonymous callers cannot send any
    editor = await staff_token(app, http, AdminRole.CONTENT_EDITOR)
    assert codes(await gql(http, CREATE, {"input": banner(consult)}, editor)) == ["FORBIDDEN"]
    assert codes(await gql(http, CREATE, {"input": banner(consult)})) == ["UNAUTHENTICATED"]
    assert await snapshot(app, "appreciations", "id") == before


async def test_moderation_errors_change_nothing(http: httpx.AsyncClient, app: Any, editor: str) -> None:
    patient = await _patient(http)
    sent = (await mutate(http, CREATE, {"input": banner(await _consult(app, patient))}, patient.token))["appreciation"]
    before = await snapshot(app, "appreciations", "id")
    assert await mutate(http, APPROVE, {"id": "99999999"}, editor) == {
        "__typename": "NotFound",
        "typeName": "Appreciation",
        "id": "99999999",
    }
    assert (await mutate(http, REJECT, {"id": "99999999", "reason": "x"}, editor))["__typename"] == "NotFound"
    for reason in ("", "  ", "长" * 201):
        refused = await mutate(http, REJECT, {"id": sent["id"], "reason": reason}, editor)
        assert (refused["field"], refused["reason"]) == ("reason", "INVALID")
    operations = await staff_token(app, http, AdminRole.OPERATIONS)
    assert codes(await gql(http, APPROVE, {"id": sent["id"]}, operations)) == ["FORBIDDEN"]
    assert codes(await gql(http, APPROVE, {"id": sent["id"]}, patient.token)) == ["FORBIDDEN"]
    assert await snapshot(app, "appreciations", "id") == before
    # state rules
    await mutate(http, APPROVE, {"id": sent["id"]}, editor)
    twice = await mutate(http, APPROVE, {"id": sent["id"]}, editor)
    assert (twice["__typename"], twice["reason"]) == ("ValidationFailed", "WRONG_STATE")
    await mutate(http, REJECT, {"id": sent["id"], "reason": "撤下"}, editor)
    assert (await mutate(http, REJECT, {"id": sent["id"], "reason": "再次"}, editor))["reason"] == "WRONG_STATE"
    assert (await mutate(http, APPROVE, {"id": sent["id"]}, editor))["reason"] == "WRONG_STATE"


async def test_the_public_list_needs_one_recipient(http: httpx.AsyncClient) -> None:
    for arguments in ("", 'staffId: "1", teamId: "1", '):
        body = await gql(http, f"{{ appreciations({arguments}first: 5) {{ totalCount }} }}")
        assert codes(body) == ["BAD_USER_INPUT"]


async def test_published_counts_for_the_popularity_board(http: httpx.AsyncClient, app: Any, editor: str) -> None:
    # given: a published banner and letter, and a pending banner, for the same staff member
    first_patient, second_patient = await _patient(http), await _patient(http)
    consult = await _consult(app, first_patient)
    staff_id = await _staff_of(app, consult)
    banner_id = (await mutate(http, CREATE, {"input": banner(consult)}, first_patient.token))["appreciation"]["id"]
    letter_id = (await mutate(http, CREATE, {"input": letter(consult)}, first_patient.token))["appreciation"]["id"]
    await mutate(http, CREATE, {"input": banner(await _consult(app, second_patient))}, second_patient.token)
    for item in (banner_id, letter_id):
        await mutate(http, APPROVE, {"id": item}, editor)
    async with app.state.resources.sessions() as db:
        everything = await published_appreciation_counts(db, staff_ids=[staff_id, 999_999])
        recent = await published_appreciation_counts(db, staff_ids=[staff_id], since=ANCHOR)
        later = await published_appreciation_counts(db, staff_ids=[staff_id], since=ANCHOR + timedelta(seconds=1))
    raw = await _raw_counts(app, staff_id)
    assert everything[staff_id] == raw and everything[999_999] == AppreciationCounts(0, 0)
    assert recent[staff_id] == raw, "published at the test clock's now"
    assert later[staff_id] == AppreciationCounts(0, 0)


async def _raw_counts(app: Any, staff_id: int) -> AppreciationCounts:
    async with app.state.resources.engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT kind FROM appreciations WHERE staff_id = :s AND status = 'PUBLISHED'"), {"s": staff_id}
            )
        ).all()
    kinds = [k for (k,) in rows]
    return AppreciationCounts(kinds.count("BANNER"), kinds.count("LETTER"))


async def test_staff_pages_load_counts_in_one_statement(client: Any, assert_num_queries: Any) -> None:
    query = "query($n: Int!) { staff(first: $n) { nodes { id appreciationCounts { banners letters } } } }"
    # count + page + counts
    with assert_num_queries(3):
        await client.query(query, {"n": 3})
    with assert_num_queries(3):
        await client.query(query, {"n": 30})
