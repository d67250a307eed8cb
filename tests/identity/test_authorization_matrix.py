"""Every root query and mutation × every kind of caller: allowed or denied, as declared here.

The list of fields comes from the schema itself, so a new field without a rule fails this test.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Any

import httpx
from consults_support import CREATE, department_of, doctors_in, ok, pay, rapid_doctors, step
from consults_support import Patient as ConsultPatient
from graphql import GraphQLObjectType
from identity_support import (
    ADD,
    CONSENT,
    codes,
    gql,
    make_staff,
    patient_login,
    profile_input,
    resident_id,
    sandbox_code,
    staff_login,
)
from sqlalchemy import text

from datasources.consults import store
from datasources.his.embedded import encounter
from domain.enums import AdminRole
from domain.health_records import VisitKind
from schema import dev_schema
from support import ANCHOR


class Rule(Enum):
    PUBLIC = "anyone"
    SIGNED_IN = "any session"
    PATIENT = "a patient"
    OWNER = "the patient who owns the target profile"


StaffOnly = frozenset[AdminRole]
ALL_STAFF: StaffOnly = frozenset(AdminRole)
EDITORS: StaffOnly = frozenset({AdminRole.SUPER_ADMIN, AdminRole.CONTENT_EDITOR})
OPERATIONS: StaffOnly = frozenset({AdminRole.SUPER_ADMIN, AdminRole.OPERATIONS})

Variables = Callable[["Callers"], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Case:
    rule: Rule | StaffOnly
    document: str
    variables: Variables | None = None


@dataclass
class Callers:
    http: httpx.AsyncClient
    tokens: dict[str, str | None]
    app: Any = None
    doctor_staff_id: int = 0
    cache: dict[str, Any] = field(default_factory=dict)

    async def completed_consult_of_a(self) -> int:
        me = await gql(self.http, "{ me { id } }", token=self.tokens["patient A"])
        async with self.app.state.resources.engine.begin() as conn:
            staff_id, department_id = (
                await conn.execute(text("SELECT id, department_id FROM staff ORDER BY id LIMIT 1"))
            ).one()
            created = ANCHOR - timedelta(days=1)
            if conn.dialect.name == "sqlite":
                created = created.replace(tzinfo=None)  # stored as naive UTC text there
            return int(
                (
                    await conn.execute(
                        text(
                            "INSERT INTO consults (service, patient_id, staff_id, department_id, status, price_cents, "
                            "created_at, account_id) VALUES ('FOLLOW_UP', 1, :s, :d, 'COMPLETED', 0, :t, :a) "
                            "RETURNING id"
                        ),
                        {"s": staff_id, "d": department_id, "t": created, "a": int(me["data"]["me"]["id"])},
                    )
                ).scalar_one()
            )

    async def fresh_profile_of_a(self) -> str:
        body = await gql(
            self.http, ADD, {"input": profile_input(resident_id("11010519700101001"))}, self.tokens["patient A"]
        )
        result = body["data"]["addProfile"]
        if result["__typename"] == "ProfileSuccess":
            return str(result["profile"]["id"])
        me = await gql(self.http, "{ me { profiles { id } } }", token=self.tokens["patient A"])
        return str(me["data"]["me"]["profiles"][0]["id"])


async def _profile(c: Callers) -> dict[str, Any]:
    return {"id": await c.fresh_profile_of_a()}


async def _profile_with_input(c: Callers) -> dict[str, Any]:
    return {"id": await c.fresh_profile_of_a(), "input": profile_input(resident_id("11010519700101001"))}


async def _consent(c: Callers) -> dict[str, Any]:
    return {"id": await c.fresh_profile_of_a(), "version": "1.0"}


async def _new_profile(_: Callers) -> dict[str, Any]:
    return {"input": profile_input(resident_id("11010519750101001"))}


async def _guide_input(_: Callers) -> dict[str, Any]:
    return {
        "input": {
            "title": "候诊",
            "summary": "到候诊区坐下等候，叫到您的号再进诊室。",
            "largePrintText": "坐下等叫号",
            "readAloudText": "请到候诊区坐下等候，听到叫号再进诊室。",
            "tips": ["过号了请告诉护士站"],
        }
    }


ARTICLE_INPUT = {"category": "NEWS", "title": "权限测试", "summary": "", "body": "<p>正文</p>"}


async def _article_input(_: Callers) -> dict[str, Any]:
    return {"input": ARTICLE_INPUT}


async def _appreciation(c: Callers) -> dict[str, Any]:
    consult = await c.completed_consult_of_a()
    return {"input": {"consultId": str(consult), "kind": "BANNER", "design": "JADE", "text": "仁心仁术"}}


async def _code(_: Callers) -> dict[str, Any]:
    return {"code": sandbox_code("matrix-login")}


# ---- consult orders of patient A, in the states the cases need --------------------------------


async def _consult_patient(c: Callers) -> ConsultPatient:
    """Patient A's profile for consults: consented, with a recent visit in the matrix doctor's department."""
    if "patient" not in c.cache:
        token = c.tokens["patient A"]
        assert token is not None
        his_id = f"MATRIX-{uuid.uuid4().hex[:8]}"
        added = await ok(
            c.http, ADD, {"input": profile_input(resident_id("11010519650101001"), hisPatientId=his_id)}, token
        )
        profile_id = str(added["addProfile"]["profile"]["id"])
        await ok(c.http, CONSENT, {"id": profile_id, "version": "1.0"}, token)
        name = await _department_name(c, await department_of(c.app, c.doctor_staff_id))
        c.app.state.resources.visit_history.remember(
            his_id, [encounter(f"{his_id}-1", VisitKind.OUTPATIENT, name, ANCHOR - timedelta(days=10))]
        )
        c.cache["patient"] = ConsultPatient(token, profile_id, his_id)
    patient: ConsultPatient = c.cache["patient"]
    return patient


async def _department_name(c: Callers, department_id: int) -> str:
    from consults_support import rows

    return str((await rows(c.app, "SELECT name FROM departments WHERE id = :d", d=department_id))[0]["name"])


async def _order(c: Callers, service: str, **fields: Any) -> str:
    patient = await _consult_patient(c)
    data = await ok(
        c.http,
        CREATE,
        {"input": {"idempotencyKey": uuid.uuid4().hex, "service": service, "profileId": patient.profile_id, **fields}},
        patient.token,
    )
    result = data["createConsultOrder"]
    assert result["__typename"] == "CreateConsultOrderSuccess", result
    return str(result["order"]["id"])


async def _unpaid(c: Callers) -> dict[str, Any]:
    return {"id": await _order(c, "RAPID", complaint="咳嗽")}


async def _rapid_paid(c: Callers) -> dict[str, Any]:
    order_id = await _order(c, "RAPID", complaint="咳嗽")
    await pay(c.http, await _consult_patient(c), order_id)
    async with c.app.state.resources.sessions() as db, db.begin():
        await store.set_duty(db, staff_id=c.doctor_staff_id, on=True, now=ANCHOR)
    return {"id": order_id}


async def _follow_up_paid(c: Callers) -> dict[str, Any]:
    order_id = await _order(c, "FOLLOW_UP", staffId=str(c.doctor_staff_id))
    await pay(c.http, await _consult_patient(c), order_id)
    return {"id": order_id}


async def _mdt_paid(c: Callers) -> dict[str, Any]:
    own = await department_of(c.app, c.doctor_staff_id)
    other = 1 if own != 1 else 2
    order_id = await _order(
        c,
        "MDT",
        complaint="多学科会诊",
        departmentIds=[str(own), str(other)],
        preferredTimes=[(ANCHOR + timedelta(days=3)).isoformat()],
    )
    await pay(c.http, await _consult_patient(c), order_id)
    return {"id": order_id, "other": other}


async def _mdt_with_experts(c: Callers) -> dict[str, Any]:
    paid = await _mdt_paid(c)
    coordinator = c.tokens["COORDINATOR"]
    assert coordinator is not None
    experts = [str(c.doctor_staff_id), str((await doctors_in(c.app, paid["other"]))[0])]
    for name, extra in (
        ("acceptConsultCoordination", {}),
        ("markConsultPatientContacted", {}),
        ("assignConsultExperts", {"staffIds": experts}),
    ):
        result = await step(c.http, coordinator, name, id=paid["id"], **extra)
        assert result["__typename"] == "ConsultOrderSuccess", result
    return {"id": paid["id"]}


def _with(make: Variables, **extra: Any) -> Variables:
    async def variables(c: Callers) -> dict[str, Any]:
        found = await make(c)
        return {"id": found["id"], **extra}

    return variables


async def _new_order_input(c: Callers) -> dict[str, Any]:
    patient = await _consult_patient(c)
    return {
        "input": {
            "idempotencyKey": uuid.uuid4().hex,
            "service": "RAPID",
            "profileId": patient.profile_id,
            "complaint": "发热",
        }
    }


async def _consent_version(c: Callers) -> dict[str, Any]:
    """The current video consult consent again, as a new version: the app is shared by the session's
    tests, and later ones read the consent's text."""
    current = (await gql(c.http, "{ consultConsent(service: VIDEO) { title body } }"))["data"]["consultConsent"]
    return {"version": f"m-{uuid.uuid4().hex[:8]}", "t": current["title"], "b": current["body"]}


DOCTOR: StaffOnly = frozenset({AdminRole.DOCTOR})
COORDINATORS: StaffOnly = frozenset({AdminRole.COORDINATOR, AdminRole.SUPER_ADMIN})
ORDER_RESULT = "{ __typename }"


CASES: dict[str, Case] = {
    # queries
    "homepage": Case(Rule.PUBLIC, "{ homepage { variant } }"),
    "staff": Case(Rule.PUBLIC, "{ staff(first: 1) { totalCount } }"),
    "staffMember": Case(Rule.PUBLIC, '{ staffMember(id: "1") { id } }'),
    "department": Case(Rule.PUBLIC, '{ department(id: "1") { id } }'),
    "departments": Case(Rule.PUBLIC, "{ departments(first: 1) { totalCount } }"),
    "ranking": Case(Rule.PUBLIC, "{ ranking(board: GOLD_STAFF) { title } }"),
    "consentDocument": Case(Rule.PUBLIC, "{ consentDocument { version } }"),
    "me": Case(Rule.PATIENT, "{ me { id } }"),
    "profile": Case(Rule.OWNER, "query($id: ID!) { profile(id: $id) { id } }", _profile),
    "staffMe": Case(ALL_STAFF, "{ staffMe { username } }"),
    "auditLog": Case(frozenset({AdminRole.SUPER_ADMIN}), "{ auditLog(first: 1) { totalCount } }"),
    "healthRecord": Case(Rule.OWNER, "query($id: ID!) { healthRecord(profileId: $id) { profileId } }", _profile),
    "indicatorTrend": Case(
        Rule.OWNER, 'query($id: ID!) { indicatorTrend(profileId: $id, code: "718-7") { code } }', _profile
    ),
    "visitGuide": Case(Rule.PUBLIC, "{ visitGuide { step } }"),
    "visitJourney": Case(Rule.OWNER, "query($id: ID!) { visitJourney(profileId: $id) { day } }", _profile),
    "articles": Case(Rule.PUBLIC, "{ articles(first: 1) { totalCount } }"),
    "article": Case(Rule.PUBLIC, '{ article(id: "1") { id } }'),
    "searchArticles": Case(Rule.PUBLIC, '{ searchArticles(query: "血压", first: 1) { totalCount } }'),
    "managedArticles": Case(EDITORS, "{ managedArticles(first: 1) { totalCount } }"),
    "managedArticle": Case(EDITORS, '{ managedArticle(id: "1") { id } }'),
    "operationsDashboard": Case(
        OPERATIONS,
        '{ operationsDashboard(firstDay: "2026-11-01", lastDay: "2026-11-15") { funnel { stages { count } } } }',
    ),
    "appreciations": Case(Rule.PUBLIC, '{ appreciations(staffId: "1", first: 1) { totalCount } }'),
    "myAppreciations": Case(Rule.PATIENT, "{ myAppreciations(first: 1) { totalCount } }"),
    "moderationQueue": Case(EDITORS, "{ moderationQueue(first: 1) { totalCount } }"),
    # mutations
    "login": Case(Rule.PUBLIC, "mutation($code: String!) { login(code: $code) { expiresAt } }", _code),
    "devLogin": Case(Rule.PUBLIC, "mutation { devLogin(demoPatient: 1) { expiresAt } }"),
    "staffLogin": Case(
        Rule.PUBLIC, 'mutation { staffLogin(username: "nobody", password: "x", totpCode: "1") { token } }'
    ),
    "addProfile": Case(Rule.PATIENT, ADD, _new_profile),
    "updateProfile": Case(
        Rule.OWNER,
        "mutation($id: ID!, $input: ProfileInput!) { updateProfile(id: $id, input: $input) { __typename } }",
        _profile_with_input,
    ),
    "removeProfile": Case(Rule.OWNER, "mutation($id: ID!) { removeProfile(id: $id) { __typename } }", _profile),
    "setDefaultProfile": Case(Rule.OWNER, "mutation($id: ID!) { setDefaultProfile(id: $id) { __typename } }", _profile),
    "giveHealthDataConsent": Case(
        Rule.OWNER,
        "mutation($id: ID!, $version: String!) {"
        " giveHealthDataConsent(profileId: $id, version: $version) { __typename } }",
        _consent,
    ),
    "refreshRankings": Case(
        frozenset({AdminRole.OPERATIONS, AdminRole.SUPER_ADMIN}),
        "mutation { refreshRankings(boards: [BEST_TEAM]) { __typename } }",
    ),
    "withdrawHealthDataConsent": Case(
        Rule.OWNER, "mutation($id: ID!) { withdrawHealthDataConsent(profileId: $id) { __typename } }", _profile
    ),
    "updateVisitGuideStep": Case(
        frozenset({AdminRole.CONTENT_EDITOR, AdminRole.SUPER_ADMIN}),
        "mutation($input: VisitGuideStepInput!) { updateVisitGuideStep(step: WAIT, input: $input) { __typename } }",
        _guide_input,
    ),
    "recordArticleView": Case(Rule.PUBLIC, 'mutation { recordArticleView(id: "999999") { __typename } }'),
    "createArticle": Case(
        EDITORS, "mutation($input: ArticleInput!) { createArticle(input: $input) { __typename } }", _article_input
    ),
    "updateArticle": Case(
        EDITORS,
        'mutation($input: ArticleInput!) { updateArticle(id: "999999", input: $input) { __typename } }',
        _article_input,
    ),
    "publishArticle": Case(EDITORS, 'mutation { publishArticle(id: "999999") { __typename } }'),
    "archiveArticle": Case(EDITORS, 'mutation { archiveArticle(id: "999999") { __typename } }'),
    "pinArticle": Case(EDITORS, 'mutation { pinArticle(id: "999999", pinned: true) { __typename } }'),
    "createAppreciation": Case(
        Rule.OWNER,
        "mutation($input: AppreciationInput!) { createAppreciation(input: $input) { __typename } }",
        _appreciation,
    ),
    "approveAppreciation": Case(EDITORS, 'mutation { approveAppreciation(id: "999999") { __typename } }'),
    "rejectAppreciation": Case(EDITORS, 'mutation { rejectAppreciation(id: "999999", reason: "x") { __typename } }'),
    "setFeaturedDepartments": Case(
        EDITORS,
        'mutation { setFeaturedDepartments(variant: ELDER, items: [{departmentId: "999999", '
        'imageUrl: "https://i.example/a.jpg", blurb: "x"}]) { __typename } }',
    ),
    "setHomepageEntries": Case(
        EDITORS,
        'mutation { setHomepageEntries(variant: ELDER, items: [{kind: POINTS_MALL, title: "", '
        'link: {kind: MINI_PROGRAM_PAGE, target: "/p"}}]) { __typename } }',
    ),
    "setTheme": Case(
        EDITORS, 'mutation { setTheme(variant: ELDER, tokens: [{name: "text", value: "#FFFFFF"}]) { __typename } }'
    ),
    "setLayout": Case(
        EDITORS,
        "mutation { setLayout(variant: ELDER, layout: {compact: true, fontScale: 1.0, modules: []}) { __typename } }",
    ),
    "setConsultZone": Case(EDITORS, "mutation { setConsultZone(services: []) { __typename } }"),
    # consult orders: public entry facts
    "consultConsent": Case(Rule.PUBLIC, "{ consultConsent { version } }"),
    "rapidConsultStatus": Case(Rule.PUBLIC, "{ rapidConsultStatus { queueLength } }"),
    "followUpStaff": Case(Rule.PUBLIC, "{ followUpStaff(firstPerRole: 1) { label } }"),
    # consult orders: patients (their own orders only)
    "consultOrders": Case(Rule.PATIENT, "{ consultOrders(first: 1) { totalCount } }"),
    "consultOrder": Case(Rule.OWNER, "query($id: ID!) { consultOrder(id: $id) { id } }", _unpaid),
    "createConsultOrder": Case(
        Rule.OWNER,
        "mutation($input: CreateConsultOrderInput!) { createConsultOrder(input: $input) { __typename } }",
        _new_order_input,
    ),
    "requestConsultPayment": Case(
        Rule.OWNER, "mutation($id: ID!) { requestConsultPayment(id: $id) { __typename } }", _unpaid
    ),
    "syncConsultPayment": Case(
        Rule.OWNER, f"mutation($id: ID!) {{ syncConsultPayment(id: $id) {ORDER_RESULT} }}", _unpaid
    ),
    "cancelConsultOrder": Case(
        Rule.OWNER, f"mutation($id: ID!) {{ cancelConsultOrder(id: $id) {ORDER_RESULT} }}", _unpaid
    ),
    "rateConsultOrder": Case(
        Rule.OWNER, f"mutation($id: ID!) {{ rateConsultOrder(id: $id, rating: 5) {ORDER_RESULT} }}", _unpaid
    ),
    "devPayConsultOrder": Case(
        Rule.OWNER, f"mutation($id: ID!) {{ devPayConsultOrder(id: $id) {ORDER_RESULT} }}", _unpaid
    ),
    # consult orders: doctors (only orders assigned to them)
    "doctorConsultOrders": Case(DOCTOR, "{ doctorConsultOrders(first: 1) { totalCount } }"),
    "rapidConsultQueue": Case(DOCTOR, "{ rapidConsultQueue(first: 1) { totalCount } }"),
    "acceptConsultOrder": Case(
        DOCTOR, f"mutation($id: ID!) {{ acceptConsultOrder(id: $id) {ORDER_RESULT} }}", _follow_up_paid
    ),
    "declineConsultOrder": Case(
        DOCTOR,
        f"mutation($id: ID!, $reason: String!) {{ declineConsultOrder(id: $id, reason: $reason) {ORDER_RESULT} }}",
        _with(_follow_up_paid, reason="今日停诊"),
    ),
    "completeConsultOrder": Case(
        DOCTOR, f"mutation($id: ID!) {{ completeConsultOrder(id: $id) {ORDER_RESULT} }}", _follow_up_paid
    ),
    "acceptRapidConsult": Case(
        DOCTOR, f"mutation($id: ID!) {{ acceptRapidConsult(id: $id) {ORDER_RESULT} }}", _rapid_paid
    ),
    "setRapidConsultDuty": Case(DOCTOR, "mutation { setRapidConsultDuty(onDuty: true) }"),
    "writeConsultOpinion": Case(
        DOCTOR,
        f"mutation($id: ID!, $body: String!) {{ writeConsultOpinion(id: $id, body: $body) {ORDER_RESULT} }}",
        _with(_mdt_with_experts, body="意见"),
    ),
    "publishConsultOpinion": Case(
        DOCTOR, f"mutation($id: ID!) {{ publishConsultOpinion(id: $id) {ORDER_RESULT} }}", _mdt_with_experts
    ),
    # consult orders: coordinators (team and MDT orders)
    "coordinationConsultOrders": Case(COORDINATORS, "{ coordinationConsultOrders(first: 1) { totalCount } }"),
    "staffConsultOrder": Case(
        frozenset({AdminRole.DOCTOR, AdminRole.COORDINATOR, AdminRole.SUPER_ADMIN}),
        "query($id: ID!) { staffConsultOrder(id: $id) { id } }",
        _mdt_with_experts,
    ),
    "acceptConsultCoordination": Case(
        COORDINATORS, f"mutation($id: ID!) {{ acceptConsultCoordination(id: $id) {ORDER_RESULT} }}", _with(_mdt_paid)
    ),
    "rejectConsultOrder": Case(
        COORDINATORS,
        f"mutation($id: ID!, $reason: String!) {{ rejectConsultOrder(id: $id, reason: $reason) {ORDER_RESULT} }}",
        _with(_mdt_paid, reason="专家无法安排"),
    ),
    "markConsultPatientContacted": Case(
        COORDINATORS, f"mutation($id: ID!) {{ markConsultPatientContacted(id: $id) {ORDER_RESULT} }}", _with(_mdt_paid)
    ),
    "assignConsultExperts": Case(
        COORDINATORS,
        f"mutation($id: ID!, $s: [ID!]!) {{ assignConsultExperts(id: $id, staffIds: $s) {ORDER_RESULT} }}",
        _with(_mdt_paid, s=["1", "2"]),
    ),
    "scheduleConsultMeeting": Case(
        COORDINATORS,
        f"mutation($id: ID!, $t: DateTime!) {{ scheduleConsultMeeting(id: $id, startsAt: $t) {ORDER_RESULT} }}",
        _with(_mdt_paid, t=(ANCHOR + timedelta(days=2)).isoformat()),
    ),
    "markConsultHeld": Case(
        COORDINATORS, f"mutation($id: ID!) {{ markConsultHeld(id: $id) {ORDER_RESULT} }}", _with(_mdt_paid)
    ),
    "refundConsultOrder": Case(
        COORDINATORS,
        f"mutation($id: ID!, $r: String!) {{ refundConsultOrder(id: $id, reason: $r) {ORDER_RESULT} }}",
        _with(_rapid_paid, r="重复下单"),
    ),
    # consult orders: content editors
    "publishConsultConsent": Case(
        frozenset({AdminRole.CONTENT_EDITOR, AdminRole.SUPER_ADMIN}),
        "mutation($version: String!, $t: String!, $b: String!) {"
        " publishConsultConsent(service: VIDEO, version: $version, title: $t, body: $b) { __typename } }",
        _consent_version,
    ),
    # last: it ends the caller's session
    "logout": Case(Rule.SIGNED_IN, "mutation { logout }"),
}

# staffLogin with wrong credentials answers UNAUTHENTICATED by design; that is not an access denial.
EXPECTED_REFUSAL = {"staffLogin"}


def _expected(rule: Rule | StaffOnly, caller: str) -> str | None:
    """None when allowed, else the error code the caller must get."""
    anonymous = caller == "anonymous"
    patient = caller.startswith("patient")
    if isinstance(rule, frozenset):
        if anonymous:
            return "UNAUTHENTICATED"
        return None if (not patient and AdminRole(caller) in rule) else "FORBIDDEN"
    if rule is Rule.PUBLIC:
        return None
    if anonymous:
        return "UNAUTHENTICATED"
    if rule is Rule.SIGNED_IN:
        return None
    if rule is Rule.PATIENT:
        return None if patient else "FORBIDDEN"
    return None if caller == "patient A" else "FORBIDDEN"


def test_every_root_field_has_a_rule() -> None:
    fields = set()
    for root in (dev_schema._schema.query_type, dev_schema._schema.mutation_type):
        assert isinstance(root, GraphQLObjectType)
        fields |= set(root.fields)
    missing = fields - set(CASES)
    assert not missing, f"declare who may use these fields in CASES: {sorted(missing)}"
    assert not set(CASES) - fields, f"rules for fields that no longer exist: {sorted(set(CASES) - fields)}"


async def test_authorization_matrix(http: httpx.AsyncClient, app: Any) -> None:
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "patient A": await patient_login(http, "matrix-a"),
        "patient B": await patient_login(http, "matrix-b"),
    }
    # The DOCTOR account belongs to a doctor of the 极速咨询 GP team, as the consult fields need.
    doctor = (await rapid_doctors(app))[0]
    for role in AdminRole:
        staff_id = doctor if role is AdminRole.DOCTOR else None
        tokens[role.value] = await staff_login(http, await make_staff(app, [role], staff_id=staff_id))
    callers = Callers(http, tokens, app=app, doctor_staff_id=doctor)
    failures = []
    for name, case in CASES.items():
        # the allowed callers last, so a denied attempt can never be mistaken for a prior success
        order = sorted(tokens, key=lambda caller: _expected(case.rule, caller) is None)
        refused_target: dict[str, Any] | None = None
        for caller in order:
            want = _expected(case.rule, caller)
            if case.variables is None:
                variables: dict[str, Any] = {}
            elif want is not None:
                # denied attempts change nothing, so they may share one target; allowed ones get their own
                refused_target = refused_target or await case.variables(callers)
                variables = refused_target
            else:
                variables = await case.variables(callers)
            body = await gql(http, case.document, variables, tokens[caller])
            got = [c for c in codes(body) if c in ("UNAUTHENTICATED", "FORBIDDEN")]
            if name in EXPECTED_REFUSAL and want is None:
                continue
            if (want is None and got) or (want is not None and got != [want]):
                failures.append(f"{name} as {caller}: expected {want or 'allowed'}, got {got or body}")
    assert not failures, "\n".join(failures)
