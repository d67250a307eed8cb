"""Withdrawing the health-data consent, removing the profile, or changing it to another person
(which withdraws its consents) erases what is cached of the patient's health data (PIPL art. 47):
the next read, once allowed again, asks the HIS for all of it (more, while the erasure keeps new
answers about the patient out of the cache), where without the erasure the cache would have
answered. Other patients' entries stay."""

from __future__ import annotations

from typing import Any

import pytest
from his_support import ADD_PERSON, GIVE_CONSENT, account_with, person
from identity_support import REMOVE, UPDATE, WITHDRAW, gql

READ = "query($id: ID!) { healthRecord(profileId: $id) { stale reports(first: 1) { totalCount } } }"
TREND = 'query($id: ID!) { indicatorTrend(profileId: $id, code: "718-7") { unit } }'


async def _read_all(h: Any, token: str, profile: str) -> int:
    """Reads the record and a trend; how many HIS requests that took."""
    before = h.simulator.stats.count()
    for query in (READ, TREND):
        body = await gql(h.http, query, {"id": profile}, token)
        assert "errors" not in body, body
    await h.settle()
    return h.simulator.stats.count() - before


async def _consent(h: Any, token: str, profile: str) -> None:
    h.clock.advance(seconds=1)  # a later consent than the one withdrawn (well within the cache's 60 s)
    version = (await gql(h.http, "{ consentDocument { version } }"))["data"]["consentDocument"]["version"]
    body = await gql(h.http, GIVE_CONSENT, {"id": profile, "version": version}, token)
    assert body["data"]["giveHealthDataConsent"]["__typename"] == "ProfileSuccess", body


async def test_a_withdrawn_consent_erases_the_cached_record_and_trends(his_app: Any) -> None:
    async with his_app() as h:
        token, (profile,) = await account_with(h.http, "erase-withdraw", person(2))
        other_token, (other,) = await account_with(h.http, "erase-bystander", person(3))
        cold = await _read_all(h, token, profile)
        assert cold >= 4  # patient, visits, reports, the trend's observations
        assert await _read_all(h, token, profile) == 0  # cached
        assert await _read_all(h, other_token, other) >= 4

        # when
        h.clock.advance(seconds=1)
        withdrawn = await gql(h.http, WITHDRAW, {"id": profile}, token)
        assert withdrawn["data"]["withdrawHealthDataConsent"]["profile"]["healthDataConsent"]["granted"] is False
        await _consent(h, token, profile)

        # then: everything is asked for again; the other patient's entries are still there
        assert await _read_all(h, token, profile) >= cold
        assert await _read_all(h, other_token, other) == 0


async def test_a_removed_profile_erases_the_cached_record_and_trends(his_app: Any) -> None:
    async with his_app() as h:
        token, (profile,) = await account_with(h.http, "erase-remove", person(1))
        cold = await _read_all(h, token, profile)
        assert await _read_all(h, token, profile) == 0

        # when: removed, then added again and consented to
        removed = await gql(h.http, REMOVE, {"id": profile}, token)
        assert removed["data"]["removeProfile"]["__typename"] == "RemoveProfileSuccess", removed
        added = await gql(h.http, ADD_PERSON, {"input": person(1)}, token)
        again = added["data"]["addProfile"]["profile"]["id"]
        await _consent(h, token, again)

        # then
        assert await _read_all(h, token, again) >= cold


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(person(2), person(3), id="another person, whose consents are withdrawn"),
        pytest.param(person(3), person(3, hisPatientId="P999999"), id="the same person, linked to another HIS patient"),
    ],
)
async def test_a_profile_changed_away_from_a_patient_erases_that_patients_cache(
    his_app: Any, before: dict[str, Any], after: dict[str, Any]
) -> None:
    async with his_app() as h:
        token, (profile,) = await account_with(h.http, f"erase-change-{after['hisPatientId']}", before)
        # A relative's account holds the same patient: it reads through the same cache entries.
        relative, (same_patient,) = await account_with(h.http, f"erase-relative-{after['hisPatientId']}", before)
        cold = await _read_all(h, token, profile)
        assert await _read_all(h, relative, same_patient) == 0

        # when: the first account's profile is changed (a correction at the service desk, say)
        h.clock.advance(seconds=1)
        changed = await gql(h.http, UPDATE, {"id": profile, "input": after}, token)
        assert changed["data"]["updateProfile"]["__typename"] == "ProfileSuccess", changed

        # then: the previous patient's entries are gone; the relative's next read asks the HIS again
        assert await _read_all(h, relative, same_patient) >= cold
