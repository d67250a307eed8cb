"""Every root query and mutation × every kind of caller: allowed or denied, as declared here.

The list of fields comes from the schema itself, so a new field without a rule fails this test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

import httpx
from graphql import GraphQLObjectType
from identity_support import (
    ADD,
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

from domain.enums import AdminRole
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
    for role in AdminRole:
        tokens[role.value] = await staff_login(http, await make_staff(app, [role]))
    callers = Callers(http, tokens, app)
    failures = []
    for field, case in CASES.items():
        # the allowed callers last, so a denied attempt can never be mistaken for a prior success
        order = sorted(tokens, key=lambda caller: _expected(case.rule, caller) is None)
        for caller in order:
            variables = await case.variables(callers) if case.variables else {}
            body = await gql(http, case.document, variables, tokens[caller])
            got = [c for c in codes(body) if c in ("UNAUTHENTICATED", "FORBIDDEN")]
            want = _expected(case.rule, caller)
            if field in EXPECTED_REFUSAL and want is None:
                continue
            if (want is None and got) or (want is not None and got != [want]):
                failures.append(f"{field} as {caller}: expected {want or 'allowed'}, got {got or body}")
    assert not failures, "\n".join(failures)
