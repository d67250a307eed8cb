"""Profiles (就诊人): validation, masking, encryption at rest, ownership, consents."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from identity_support import (
    ADD,
    ADULT,
    CHILD,
    CONSENT,
    READ,
    REMOVE,
    SET_DEFAULT,
    UPDATE,
    WITHDRAW,
    codes,
    gql,
    patient_login,
    profile_input,
    resident_id,
)
from sqlalchemy import func, select, text

from datasources.db.tables import AuditEntry, PatientProfile


@pytest.fixture
async def patient(http: httpx.AsyncClient, request: pytest.FixtureRequest) -> str:
    return await patient_login(http, f"profiles-{request.node.name[:40]}")


async def _add(http: httpx.AsyncClient, token: str, **changes: Any) -> dict[str, Any]:
    body = await gql(http, ADD, {"input": profile_input(**changes)}, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["addProfile"]
    return result


async def test_a_profile_is_returned_masked_and_stored_encrypted(
    http: httpx.AsyncClient, patient: str, app: Any
) -> None:
    result = await _add(http, patient)
    assert result["__typename"] == "ProfileSuccess"
    profile = result["profile"]
    assert profile["idNumber"] == ADULT[:6] + "********" + ADULT[-4:]
    assert profile["mobile"] == "138****5678"
    assert (profile["gender"], profile["birthDate"], profile["age"]) == ("MALE", "1980-05-23", 46)
    assert profile["maskedName"] == "王**"
    assert profile["isDefault"] is True
    assert result["account"]["defaultProfileId"] == profile["id"]
    # nothing in the database row holds the numbers in clear
    async with app.state.resources.engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT * FROM patient_profiles WHERE id = :id"), {"id": int(profile["id"])})
        ).one()
    stored = " ".join(str(value) for value in row)
    assert ADULT not in stored and "13812345678" not in stored


@pytest.mark.parametrize(
    ("changes", "field", "detail"),
    [
        ({"idNumber": ADULT[:-1] + ("0" if ADULT[-1] != "0" else "1")}, "idNumber", "BAD_CHECKSUM"),
        ({"idNumber": resident_id("11010519800230001")}, "idNumber", "BAD_BIRTH_DATE"),
        ({"idNumber": "110105800523001"}, "idNumber", "LEGACY_15_DIGIT"),
        ({"idNumber": resident_id("11010520991231001")}, "idNumber", "FUTURE_BIRTH_DATE"),
        ({"birthDate": "1980-05-24"}, "birthDate", "INCONSISTENT_BIRTH_DATE"),
        ({"gender": "FEMALE"}, "gender", "INCONSISTENT_GENDER"),
        ({"mobile": "12812345678"}, "mobile", None),
        ({"name": "  "}, "name", None),
    ],
)
async def test_bad_input_is_refused_and_writes_nothing(
    http: httpx.AsyncClient, patient: str, app: Any, changes: dict[str, Any], field: str, detail: str | None
) -> None:
    async with app.state.resources.sessions() as db:
        before = await db.scalar(select(func.count()).select_from(PatientProfile))
    result = await _add(http, patient, **changes)
    assert result["__typename"] == "ValidationFailed"
    assert (result["code"], result["field"], result["reason"], result["detail"]) == (
        "BAD_USER_INPUT",
        field,
        "INVALID",
        detail,
    )
    assert ADULT not in result["message"]
    async with app.state.resources.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(PatientProfile)) == before


async def test_duplicates_and_the_limit_of_ten(http: httpx.AsyncClient, patient: str) -> None:
    await _add(http, patient)
    assert (await _add(http, patient))["reason"] == "DUPLICATE"
    for i in range(9):
        added = await _add(http, patient, idNumber=resident_id(f"110105199001{i + 1:02d}00{i}"), relation="CHILD")
        assert added["__typename"] == "ProfileSuccess", added
    limited = await _add(http, patient, idNumber=resident_id("11010519910101009"))
    assert limited["reason"] == "LIMIT_REACHED"


async def test_update_remove_and_default(http: httpx.AsyncClient, patient: str) -> None:
    first = (await _add(http, patient))["profile"]
    second = (await _add(http, patient, idNumber=CHILD, name="王小红", relation="CHILD"))["profile"]
    assert second["isDefault"] is False and (second["gender"], second["age"]) == ("FEMALE", 11)

    updated = await gql(
        http, UPDATE, {"id": second["id"], "input": profile_input(CHILD, name="王小丽", relation="CHILD")}, patient
    )
    assert updated["data"]["updateProfile"]["profile"]["name"] == "王小丽"
    clash = await gql(http, UPDATE, {"id": second["id"], "input": profile_input(ADULT)}, patient)
    assert clash["data"]["updateProfile"] == {
        "__typename": "ValidationFailed",
        "field": "idNumber",
        "reason": "DUPLICATE",
    }

    made_default = await gql(http, SET_DEFAULT, {"id": second["id"]}, patient)
    assert made_default["data"]["setDefaultProfile"]["profile"]["isDefault"] is True
    removed = (await gql(http, REMOVE, {"id": second["id"]}, patient))["data"]["removeProfile"]
    assert removed["removedProfileId"] == second["id"]
    assert removed["account"]["defaultProfileId"] == first["id"], "the default moves to a remaining profile"
    assert [p["id"] for p in removed["account"]["profiles"]] == [first["id"]]


async def test_another_patients_profile_is_forbidden_exactly_like_a_missing_one(
    http: httpx.AsyncClient, patient: str, app: Any
) -> None:
    owner = await patient_login(http, "profiles-owner")
    theirs = (await _add(http, owner))["profile"]["id"]
    missing = "987654"
    answers = []
    for target in (theirs, missing):
        for query, variables in (
            (READ, {"id": target}),
            (UPDATE, {"id": target, "input": profile_input()}),
            (REMOVE, {"id": target}),
            (SET_DEFAULT, {"id": target}),
            (CONSENT, {"id": target, "version": "1.0"}),
            (WITHDRAW, {"id": target}),
        ):
            body = await gql(http, query, variables, token=patient)
            answers.append((body["data"], [(e["message"], e["extensions"]) for e in body["errors"]]))
    assert all(a == answers[0] for a in answers), answers
    assert answers[0][1][0][1] == {"code": "FORBIDDEN"}
    # the owner's profile is untouched, and the attempts are in the audit log
    assert (await gql(http, READ, {"id": theirs}, token=owner))["data"]["profile"]["name"] == "王小明"
    async with app.state.resources.sessions() as db:
        denied = (
            await db.scalars(
                select(AuditEntry.action).where(AuditEntry.result == "DENIED", AuditEntry.target_id == theirs)
            )
        ).all()
    assert set(denied) >= {"profile.read", "profile.update", "profile.remove", "consent.give"}


async def test_health_data_consent(http: httpx.AsyncClient, patient: str) -> None:
    document = (await gql(http, "{ consentDocument { kind version title body } }"))["data"]["consentDocument"]
    assert document["kind"] == "HEALTH_DATA" and document["body"]
    adult = (await _add(http, patient))["profile"]
    child = (await _add(http, patient, idNumber=CHILD, name="王小红", relation="CHILD"))["profile"]
    assert adult["healthDataConsent"]["granted"] is False

    outdated = await gql(http, CONSENT, {"id": adult["id"], "version": "0.9"}, patient)
    assert outdated["data"]["giveHealthDataConsent"] == {
        "__typename": "ValidationFailed",
        "field": "version",
        "reason": "NOT_CURRENT",
    }
    given = await gql(http, CONSENT, {"id": adult["id"], "version": document["version"]}, patient)
    assert given["data"]["giveHealthDataConsent"]["profile"]["healthDataConsent"] == {
        "granted": True,
        "version": document["version"],
        "givenBy": "SELF",
        "guardianName": None,
    }

    unguarded = await gql(http, CONSENT, {"id": child["id"], "version": document["version"]}, patient)
    assert unguarded["data"]["giveHealthDataConsent"]["reason"] == "GUARDIAN_REQUIRED"
    guarded = await gql(
        http, CONSENT, {"id": child["id"], "version": document["version"], "guardian": "王大明"}, patient
    )
    consent = guarded["data"]["giveHealthDataConsent"]["profile"]["healthDataConsent"]
    assert (consent["givenBy"], consent["guardianName"]) == ("GUARDIAN", "王**")

    withdrawn = await gql(http, WITHDRAW, {"id": adult["id"]}, patient)
    state = withdrawn["data"]["withdrawHealthDataConsent"]["profile"]["healthDataConsent"]
    assert state["granted"] is False and state["withdrawnAt"]


async def test_profiles_need_a_patient_session(http: httpx.AsyncClient) -> None:
    assert codes(await gql(http, ADD, {"input": profile_input()})) == ["UNAUTHENTICATED"]
    assert codes(await gql(http, READ, {"id": "1"})) == ["UNAUTHENTICATED"]
