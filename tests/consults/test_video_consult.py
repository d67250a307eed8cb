"""视频问诊 end to end: the versioned informed consent (read, accepted per order, republished by
staff), payment, the third-party entry link (short-lived, signed, no personal data in clear), the
doctor's link, completion, and the refund when nobody takes it on in time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from consults_support import (
    Patient,
    create,
    create_ok,
    doctor_token,
    new_patient,
    ok,
    order_of,
    pay,
    read,
    rows,
    staff_read,
    step,
)
from identity_support import ClockedApp, gql, make_staff, staff_login
from starlette.applications import Starlette

from datasources.consults.video import VideoLinks
from domain.enums import AdminRole
from settings import DEV_VIDEO_LINK_SECRET
from support import ANCHOR

CONSENT = "query { consultConsent(service: VIDEO) { service version title body effectiveAt } }"
PUBLISH = """mutation($v: String!, $t: String!, $b: String!) {
  publishConsultConsent(service: VIDEO, version: $v, title: $t, body: $b) { __typename
    ... on ConsultConsentSuccess { document { version effectiveAt } }
    ... on ValidationFailed { field reason } } }"""


async def _video_doctor(app: Starlette) -> int:
    found = await rows(
        app,
        "SELECT s.id FROM staff s JOIN service_offerings o ON o.staff_id = s.id "
        "WHERE o.service = 'VIDEO' AND o.active AND s.active ORDER BY s.id LIMIT 1",
    )
    return int(found[0]["id"])


async def _current_version(http: httpx.AsyncClient) -> str:
    version: str = (await ok(http, CONSENT, {}, None))["consultConsent"]["version"]
    return version


async def _ordered(app: Starlette, http: httpx.AsyncClient) -> tuple[Patient, int, dict[str, Any]]:
    patient = await new_patient(app, http)
    staff_id = await _video_doctor(app)
    order = await create_ok(http, patient, "VIDEO", staffId=str(staff_id), consentVersion=await _current_version(http))
    return patient, staff_id, order


async def test_the_informed_consent_is_served_before_ordering(http: httpx.AsyncClient) -> None:
    consent = (await ok(http, CONSENT, {}, None))["consultConsent"]
    assert consent["service"] == "VIDEO" and consent["title"] == "视频问诊知情同意书"
    assert "120" in consent["body"] and consent["version"]


@pytest.mark.parametrize("version", [None, "0.9", "9.9"])
async def test_ordering_needs_the_current_consent_accepted(
    app: Starlette, http: httpx.AsyncClient, version: str | None
) -> None:
    patient = await new_patient(app, http)
    fields = {"staffId": str(await _video_doctor(app))} | ({"consentVersion": version} if version else {})
    result = await create(http, patient, "VIDEO", **fields)
    assert (result["__typename"], result["refusal"]) == ("OrderRefused", "CONSENT_NOT_CURRENT")


async def test_the_consent_is_recorded_with_the_order_and_the_entry_link_comes_with_payment(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    patient, staff_id, order = await _ordered(app, http)
    version = await _current_version(http)
    assert order["consent"] == {"version": version, "acceptedAt": ANCHOR.isoformat()}
    assert order["videoEntry"] is None  # not before payment
    paid = await pay(http, patient, order["id"])
    assert paid["timeline"][-1]["title"] == "已支付，可进入视频诊室等待医生"
    entry = paid["videoEntry"]
    assert entry["expiresAt"] == (ANCHOR + timedelta(minutes=30)).isoformat()
    url = urlsplit(entry["url"])
    assert f"{url.scheme}://{url.netloc}" == "https://video-sandbox.hospital.example"
    room = url.path.rsplit("/", 1)[1]
    token = parse_qs(url.query)["token"][0]
    links = VideoLinks(base_url="https://x", secret=DEV_VIDEO_LINK_SECRET, lifetime=timedelta(minutes=30))
    assert links.verify(token, room=room, now=ANCHOR) == "patient"
    # nothing personal in the link: no name, no id or phone number, no profile or order id
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == {"room", "role", "aud", "iat", "nbf", "exp", "jti"}
    for secret in ("王小明", "11010519800523001", "13812345678", str(order["orderNo"])):
        assert secret not in entry["url"]
    assert claims["role"] == "patient" and claims["room"] == room and room not in (patient.profile_id, order["id"])
    # short-lived, bound to its room, and signed
    with pytest.raises(jwt.ExpiredSignatureError):
        links.verify(token, room=room, now=ANCHOR + timedelta(minutes=30))
    with pytest.raises(jwt.InvalidTokenError):
        links.verify(token, room="another-room", now=ANCHOR)
    forged = VideoLinks(
        base_url="https://x", secret="another-secret-of-enough-length-0123", lifetime=timedelta(minutes=30)
    )
    with pytest.raises(jwt.InvalidTokenError):
        forged.verify(token, room=room, now=ANCHOR)
    # the doctor gets a doctor's link to the same room
    doctor = await doctor_token(app, http, staff_id)
    seen = await staff_read(http, doctor, str(order["id"]))
    doctor_url = urlsplit(seen["videoEntry"]["url"])
    assert doctor_url.path.endswith(room)
    assert links.verify(parse_qs(doctor_url.query)["token"][0], room=room, now=ANCHOR) == "doctor"
    # after the consult, no more links
    await step(http, doctor, "acceptConsultOrder", id=order["id"])
    assert (await read(http, patient, str(order["id"])))["videoEntry"] is not None
    done = order_of(await step(http, doctor, "completeConsultOrder", id=order["id"]))
    assert done["videoEntry"] is None


async def test_staff_publish_a_new_consent_version_which_new_orders_need(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    editor = await staff_login(http, await make_staff(app, [AdminRole.CONTENT_EDITOR]))
    old = await _current_version(http)
    version = f"2.{datetime.now().microsecond}"
    published = (await ok(http, PUBLISH, {"v": version, "t": "视频问诊知情同意书", "b": "新版正文"}, editor))[
        "publishConsultConsent"
    ]
    assert published["document"]["version"] == version
    duplicate = (await ok(http, PUBLISH, {"v": version, "t": "t", "b": "b"}, editor))["publishConsultConsent"]
    assert duplicate == {"__typename": "ValidationFailed", "field": "version", "reason": "DUPLICATE"}
    invalid = (await ok(http, PUBLISH, {"v": "有 空格", "t": "t", "b": "b"}, editor))["publishConsultConsent"]
    assert (invalid["field"], invalid["reason"]) == ("version", "INVALID")
    assert await _current_version(http) == version
    patient = await new_patient(app, http)
    staff_id = str(await _video_doctor(app))
    stale = await create(http, patient, "VIDEO", staffId=staff_id, consentVersion=old)
    assert stale["refusal"] == "CONSENT_NOT_CURRENT"
    assert (await create(http, patient, "VIDEO", staffId=staff_id, consentVersion=version))["order"]["consent"][
        "version"
    ] == version
    audit = await rows(app, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'consult_consent.publish'")
    assert audit[0]["n"] >= 1


async def test_a_video_consult_nobody_takes_on_is_refunded_after_the_deadline(clocked: ClockedApp) -> None:
    app, http = clocked.app, clocked.http
    patient, _, order = await _ordered(app, http)
    paid = await pay(http, patient, str(order["id"]))
    assert paid["responseDeadline"] == (ANCHOR + timedelta(hours=24)).isoformat()
    clocked.clock.advance(hours=23, minutes=59)
    await app.state.resources.consults.run_jobs(now=clocked.clock())
    assert (await read(http, patient, str(order["id"])))["serviceState"] == "WAITING"
    clocked.clock.advance(minutes=2)
    report = await app.state.resources.consults.run_jobs(now=clocked.clock())
    assert report.missed_deadlines >= 1
    expired = await read(http, patient, str(order["id"]))
    assert (expired["serviceState"], expired["paymentState"], expired["refundState"]) == (
        "EXPIRED",
        "REFUNDED",
        "SUCCEEDED",
    )
    assert expired["videoEntry"] is None
    assert expired["timeline"][-2]["title"] == "超时未接诊，已为您全额退款"
    # the doctor who comes too late is told so
    staff_id = await _video_doctor(app)
    doctor = await doctor_token(app, http, staff_id, clocked.clock())
    late = await gql(
        http, "mutation($id: ID!) { acceptConsultOrder(id: $id) { __typename } }", {"id": order["id"]}, doctor
    )
    assert late["data"]["acceptConsultOrder"]["__typename"] == "IllegalTransition"
