"""Paying for consults with WeChat Pay (the sandbox), end to end through GraphQL and the notification
endpoints: wx.requestPayment parameters, notifications delivered many times at once, every kind of
notification that must be refused, the order query fallback, idempotent ordering, expiry, refunds."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from consults_support import (
    CREATE,
    Patient,
    consult_row,
    create,
    key,
    new_patient,
    ok,
    order_of,
    pay,
    rapid_doctors,
    read,
    rows,
    step,
    transitions,
)
from identity_support import ClockedApp, gql, make_staff, staff_login
from starlette.applications import Starlette

from datasources.payments import crypto
from datasources.payments.sandbox import WeChatPaySandbox, sandbox_merchant_key
from domain.enums import AdminRole

NOTIFY = "/payments/wechat/notify"
REFUND_NOTIFY = "/payments/wechat/refund-notify"


def _sandbox(app: Starlette) -> WeChatPaySandbox:
    sandbox: WeChatPaySandbox = app.state.resources.pay_sandbox
    return sandbox


async def _unpaid_rapid(app: Starlette, http: httpx.AsyncClient) -> tuple[Patient, dict[str, Any], dict[str, Any]]:
    patient = await new_patient(app, http)
    result = await create(http, patient, "RAPID", complaint="咳嗽三天")
    assert result["__typename"] == "CreateConsultOrderSuccess", result
    return patient, result["order"], result["payment"]


def _success_notification(app: Starlette, order_no: str, **changes: Any) -> tuple[dict[str, str], bytes]:
    """The TRANSACTION.SUCCESS notification WeChat Pay sends for a paid order, with `changes` to its resource."""
    sandbox = _sandbox(app)
    resource = sandbox.transaction(sandbox.orders[order_no]) | changes
    return sandbox.notification("TRANSACTION.SUCCESS", "transaction", "支付成功", resource)


async def _paid_silently(app: Starlette, order_no: str) -> None:
    """The payer pays, but WeChat Pay's notification has not arrived (yet)."""
    sandbox = _sandbox(app)
    sandbox.auto_notify = False
    try:
        assert await sandbox.pay(order_no) is None
    finally:
        sandbox.auto_notify = True


async def _state(app: Starlette, order_id: str) -> tuple[str, str, str]:
    row = (
        await rows(
            app,
            "SELECT payment_state, service_state, refund_state FROM consult_orders WHERE id = :id",
            id=int(order_id),
        )
    )[0]
    return row["payment_state"], row["service_state"], row["refund_state"]


# ---- paying ----------------------------------------------------------------------------------


async def test_the_payment_parameters_are_signed_for_wx_request_payment(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    _, order, payment = await _unpaid_rapid(app, http)
    assert set(payment) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert payment["signType"] == "RSA"
    assert payment["package"] == f"prepay_id={_sandbox(app).orders[order['orderNo']].prepay_id}"
    message = f"{payment['appId']}\n{payment['timeStamp']}\n{payment['nonceStr']}\n{payment['package']}\n"
    assert crypto.verify(sandbox_merchant_key().public_key(), message, payment["paySign"])
    # the prepay order at WeChat Pay is the order: amount, payer window
    prepaid = _sandbox(app).orders[order["orderNo"]]
    assert prepaid.total == order["price"]["cents"] == 1000
    assert prepaid.time_expire == datetime.fromisoformat(order["payBefore"])
    assert prepaid.description == "互联网医院-极速咨询"


async def test_a_payment_is_recorded_from_the_notification(app: Starlette, http: httpx.AsyncClient) -> None:
    patient, order, _ = await _unpaid_rapid(app, http)
    paid = await pay(http, patient, order["id"])
    assert (paid["paymentState"], paid["serviceState"]) == ("PAID", "QUEUED")
    assert paid["paidAt"] and paid["responseDeadline"]
    assert [e["title"] for e in paid["timeline"]] == ["订单已提交，待支付", "已支付，正在排队等待值班医生"]
    sent = _sandbox(app).sent[-1]
    assert (sent.url.endswith(NOTIFY), sent.answered) == (True, 204)
    consult = await consult_row(app, order["id"])
    assert consult["status"] == "PAID" and consult["paid_at"] is not None


async def test_requesting_payment_again_gives_fresh_parameters_for_the_same_prepay(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    patient, order, first = await _unpaid_rapid(app, http)
    again = await ok(
        http,
        "mutation($id: ID!) { requestConsultPayment(id: $id) { __typename"
        " ... on ConsultPaymentSuccess { payment { package paySign nonceStr } } } }",
        {"id": order["id"]},
        patient.token,
    )
    payment = again["requestConsultPayment"]["payment"]
    assert payment["package"] == first["package"] and payment["nonceStr"] != first["nonceStr"]
    await pay(http, patient, order["id"])
    paid = await ok(
        http,
        "mutation($id: ID!) { requestConsultPayment(id: $id) { __typename ... on IllegalTransition { code } } }",
        {"id": order["id"]},
        patient.token,
    )
    assert paid["requestConsultPayment"] == {"__typename": "IllegalTransition", "code": "ILLEGAL_TRANSITION"}


async def test_the_same_notification_twenty_times_at_once_makes_one_transition(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    _, order, _ = await _unpaid_rapid(app, http)
    await _paid_silently(app, order["orderNo"])
    headers, body = _success_notification(app, order["orderNo"])
    answers = await asyncio.gather(*(http.post(NOTIFY, content=body, headers=headers) for _ in range(20)))
    assert [a.status_code for a in answers] == [204] * 20
    moved = await transitions(app, order["id"])
    assert [(t["field"], t["to_state"]) for t in moved if t["from_state"] is not None] == [
        ("PAYMENT", "PAID"),
        ("SERVICE", "QUEUED"),
    ]
    assert await _state(app, order["id"]) == ("PAID", "QUEUED", "NONE")
    paid = await rows(
        app, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'consult.paid' AND target_id = :id", id=order["id"]
    )
    assert paid[0]["n"] == 1


# ---- notifications that are refused ----------------------------------------------------------------


def _re_signed(app: Starlette, body: bytes) -> tuple[dict[str, str], bytes]:
    return _sandbox(app).signed_headers(body), body


def _tampered(app: Starlette, order_no: str) -> tuple[dict[str, str], bytes]:
    _, body = _success_notification(app, order_no)
    envelope = json.loads(body)
    sealed = bytearray(base64.b64decode(envelope["resource"]["ciphertext"]))
    sealed[5] ^= 0xFF
    envelope["resource"]["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    return _re_signed(app, json.dumps(envelope).encode())


def _bad_signature(app: Starlette, order_no: str) -> tuple[dict[str, str], bytes]:
    headers, body = _success_notification(app, order_no)
    return headers | {"Wechatpay-Signature": base64.b64encode(b"\x01" * 256).decode()}, body


def _unknown_serial(app: Starlette, order_no: str) -> tuple[dict[str, str], bytes]:
    headers, body = _success_notification(app, order_no)
    return headers | {"Wechatpay-Serial": "7132D72A03E93CDDF8C03BBD1F37EEDF30D1AB61"}, body


def _stale(app: Starlette, order_no: str) -> tuple[dict[str, str], bytes]:
    sandbox = _sandbox(app)
    resource = sandbox.transaction(sandbox.orders[order_no])
    at = sandbox.clock() - timedelta(minutes=6)
    return sandbox.notification("TRANSACTION.SUCCESS", "transaction", "支付成功", resource, timestamp=at)


def _wrong_amount(app: Starlette, order_no: str) -> tuple[dict[str, str], bytes]:
    return _success_notification(app, order_no, amount={"total": 1, "payer_total": 1, "currency": "CNY"})


def _unknown_order(app: Starlette, order_no: str) -> tuple[dict[str, str], bytes]:
    return _success_notification(app, order_no, out_trade_no="HB20261115NOTOURS1")


def _refund_kind(app: Starlette, order_no: str) -> tuple[dict[str, str], bytes]:
    resource = {"out_trade_no": order_no, "out_refund_no": f"R{order_no}", "refund_status": "SUCCESS"}
    return _sandbox(app).notification("REFUND.SUCCESS", "refund", "退款成功", resource)


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (_wrong_amount, 400, "AMOUNT_MISMATCH"),
        (_bad_signature, 401, "BAD_SIGNATURE"),
        (_unknown_serial, 401, "UNKNOWN_SERIAL"),
        (_stale, 401, "STALE_TIMESTAMP"),
        (_tampered, 400, "UNDECRYPTABLE"),
        (_unknown_order, 404, "UNKNOWN_ORDER"),
        (_refund_kind, 400, "WRONG_ENDPOINT"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else str(v),
)
async def test_a_notification_that_cannot_be_trusted_is_refused_and_changes_nothing(
    app: Starlette, http: httpx.AsyncClient, make: Any, status: int, reason: str
) -> None:
    _, order, _ = await _unpaid_rapid(app, http)
    await _paid_silently(app, order["orderNo"])
    before = await transitions(app, order["id"])
    headers, body = make(app, order["orderNo"])
    answer = await http.post(NOTIFY, content=body, headers=headers)
    assert answer.status_code == status
    assert answer.json() == {"code": "FAIL", "message": reason}
    assert await transitions(app, order["id"]) == before
    assert await _state(app, order["id"]) == ("UNPAID", "AWAITING_PAYMENT", "NONE")
    assert (await consult_row(app, order["id"]))["status"] == "CREATED"
    refused = await rows(
        app, "SELECT action, result FROM audit_log WHERE action LIKE 'payment.notification.%' ORDER BY id DESC LIMIT 1"
    )
    assert refused == [{"action": f"payment.notification.{reason.lower()}", "result": "DENIED"}]
    # the genuine notification still goes through afterwards
    headers, body = _success_notification(app, order["orderNo"])
    assert (await http.post(NOTIFY, content=body, headers=headers)).status_code == 204
    assert await _state(app, order["id"]) == ("PAID", "QUEUED", "NONE")


async def test_an_empty_or_junk_body_is_refused(http: httpx.AsyncClient, app: Starlette) -> None:
    assert (await http.post(NOTIFY, content=b"")).status_code == 400
    junk = b'{"id": 1}'
    answer = await http.post(NOTIFY, content=junk, headers=_sandbox(app).signed_headers(junk))
    assert (answer.status_code, answer.json()["message"]) == (400, "MALFORMED")


# ---- the order query, when no notification comes ------------------------------------------------


async def test_the_order_query_records_a_payment_whose_notification_never_came(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    patient, order, _ = await _unpaid_rapid(app, http)
    await _paid_silently(app, order["orderNo"])
    assert (await read(http, patient, order["id"]))["paymentState"] == "UNPAID"
    synced = order_of(await step(http, patient.token, "syncConsultPayment", id=order["id"]))
    assert (synced["paymentState"], synced["serviceState"]) == ("PAID", "QUEUED")
    # the notification arriving late changes nothing more
    headers, body = _success_notification(app, order["orderNo"])
    assert (await http.post(NOTIFY, content=body, headers=headers)).status_code == 204
    assert len([t for t in await transitions(app, order["id"]) if t["to_state"] == "PAID"]) == 1


async def test_sync_of_an_unpaid_order_changes_nothing(app: Starlette, http: httpx.AsyncClient) -> None:
    patient, order, _ = await _unpaid_rapid(app, http)
    synced = order_of(await step(http, patient.token, "syncConsultPayment", id=order["id"]))
    assert synced["paymentState"] == "UNPAID"


# ---- ordering twice ------------------------------------------------------------------------------


async def test_the_same_idempotency_key_places_one_order(app: Starlette, http: httpx.AsyncClient) -> None:
    patient = await new_patient(app, http)
    order_input = {"idempotencyKey": key(), "service": "RAPID", "profileId": patient.profile_id, "complaint": "头痛"}
    first = (await ok(http, CREATE, {"input": order_input}, patient.token))["createConsultOrder"]
    again = (await ok(http, CREATE, {"input": order_input}, patient.token))["createConsultOrder"]
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["order"]["id"] == first["order"]["id"]
    assert again["payment"]["package"] == first["payment"]["package"]
    # a double tap: several at the same moment
    order_input["idempotencyKey"] = key()
    results = await asyncio.gather(*(gql(http, CREATE, {"input": order_input}, patient.token) for _ in range(5)))
    ids = {r["data"]["createConsultOrder"]["order"]["id"] for r in results}
    assert len(ids) == 1
    assert sorted(r["data"]["createConsultOrder"]["replayed"] for r in results) == [False, True, True, True, True]
    orders = await rows(
        app, "SELECT COUNT(*) AS n FROM consult_orders WHERE idempotency_key = :k", k=order_input["idempotencyKey"]
    )
    assert orders[0]["n"] == 1


async def test_a_key_reused_for_another_order_is_refused(app: Starlette, http: httpx.AsyncClient) -> None:
    patient = await new_patient(app, http)
    order_input = {"idempotencyKey": key(), "service": "RAPID", "profileId": patient.profile_id, "complaint": "头痛"}
    await ok(http, CREATE, {"input": order_input}, patient.token)
    changed = (await ok(http, CREATE, {"input": order_input | {"complaint": "腹痛"}}, patient.token))[
        "createConsultOrder"
    ]
    assert changed == {
        "__typename": "OrderRefused",
        "refusal": "IDEMPOTENCY_KEY_REUSED",
        "code": "CONFLICT",
        "message": changed["message"],
    }


@pytest.mark.parametrize("bad", ["short", "has space in it", "x" * 65, "ключ-12345"])
async def test_a_malformed_idempotency_key_is_refused(app: Starlette, http: httpx.AsyncClient, bad: str) -> None:
    patient = await new_patient(app, http)
    result = await create(http, patient, "RAPID", complaint="头痛", idempotencyKey=bad)
    assert (result["__typename"], result["field"]) == ("ValidationFailed", "idempotencyKey")


# ---- unpaid orders expire; the jobs --------------------------------------------------------------


async def test_an_unpaid_order_is_closed_after_thirty_minutes(clocked: ClockedApp) -> None:
    app, http = clocked.app, clocked.http
    patient, order, _ = await _unpaid_rapid(app, http)
    clocked.clock.advance(minutes=29)
    await app.state.resources.consults.run_jobs(now=clocked.clock())
    assert (await read(http, patient, order["id"]))["paymentState"] == "UNPAID"
    clocked.clock.advance(minutes=2)
    report = await app.state.resources.consults.run_jobs(now=clocked.clock())
    assert report.expired >= 1
    closed = await read(http, patient, order["id"])
    assert (closed["paymentState"], closed["serviceState"]) == ("CLOSED", "CANCELLED")
    assert (
        closed["timeline"][-1]["title"] == "订单已取消" and closed["timeline"][-1]["detail"] == "超时未支付，订单已关闭"
    )
    assert _sandbox(app).orders[order["orderNo"]].state == "CLOSED"
    assert (await consult_row(app, order["id"]))["status"] == "CANCELLED"
    # the payer can no longer pay it
    result = await step(http, patient.token, "devPayConsultOrder", id=order["id"])
    assert result["__typename"] == "IllegalTransition"
    # running the jobs again changes nothing more
    before = await transitions(app, order["id"])
    await app.state.resources.consults.run_jobs(now=clocked.clock())
    assert await transitions(app, order["id"]) == before


async def test_the_jobs_find_a_payment_before_closing(clocked: ClockedApp) -> None:
    app, http = clocked.app, clocked.http
    patient, order, _ = await _unpaid_rapid(app, http)
    await _paid_silently(app, order["orderNo"])
    clocked.clock.advance(minutes=31)
    report = await app.state.resources.consults.run_jobs(now=clocked.clock())
    assert report.payments_found >= 1
    found = await read(http, patient, order["id"])
    assert (found["paymentState"], found["serviceState"]) == ("PAID", "QUEUED")


async def test_a_payment_after_the_order_was_closed_is_refunded_in_full(clocked: ClockedApp) -> None:
    app, http = clocked.app, clocked.http
    patient, order, _ = await _unpaid_rapid(app, http)
    clocked.clock.advance(minutes=31)
    await app.state.resources.consults.run_jobs(now=clocked.clock())
    # WeChat Pay took the money anyway (the payer was already in the cashier) and says so
    sandbox = _sandbox(app)
    sandbox.orders[order["orderNo"]].state = "NOTPAY"
    sandbox.orders[order["orderNo"]].time_expire = None
    await _paid_silently(app, order["orderNo"])
    headers, body = _success_notification(app, order["orderNo"])
    assert (await http.post(NOTIFY, content=body, headers=headers)).status_code == 204
    late = await read(http, patient, order["id"])
    assert (late["paymentState"], late["serviceState"], late["refundState"]) == ("REFUNDED", "CANCELLED", "SUCCEEDED")
    assert late["refund"]["amount"]["cents"] == 1000
    assert "订单关闭后才完成支付" in late["refund"]["reason"]
    assert (await consult_row(app, order["id"]))["status"] == "REFUNDED"


# ---- refunds -----------------------------------------------------------------------------------


async def _coordinator(app: Starlette, http: httpx.AsyncClient) -> str:
    return await staff_login(http, await make_staff(app, [AdminRole.COORDINATOR]))


async def test_a_refund_notification_twenty_times_at_once_makes_one_transition(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    patient, order, _ = await _unpaid_rapid(app, http)
    await pay(http, patient, order["id"])
    sandbox = _sandbox(app)
    sandbox.auto_notify = False
    try:
        refunding = order_of(await step(http, patient.token, "cancelConsultOrder", id=order["id"], reason="不需要了"))
    finally:
        sandbox.auto_notify = True
    assert (refunding["paymentState"], refunding["refundState"]) == ("REFUNDING", "PROCESSING")
    refund = sandbox.refunds[f"R{order['orderNo']}"]
    headers, body = sandbox.notification("REFUND.SUCCESS", "refund", "退款成功", sandbox.refund_resource(refund))
    answers = await asyncio.gather(*(http.post(REFUND_NOTIFY, content=body, headers=headers) for _ in range(20)))
    assert [a.status_code for a in answers] == [204] * 20
    done = await read(http, patient, order["id"])
    assert (done["paymentState"], done["refundState"]) == ("REFUNDED", "SUCCEEDED")
    succeeded = [t for t in await transitions(app, order["id"]) if t["to_state"] == "SUCCEEDED"]
    assert len(succeeded) == 1


async def test_a_refund_notification_with_another_amount_is_refused(app: Starlette, http: httpx.AsyncClient) -> None:
    patient, order, _ = await _unpaid_rapid(app, http)
    await pay(http, patient, order["id"])
    sandbox = _sandbox(app)
    sandbox.auto_notify = False
    try:
        await step(http, patient.token, "cancelConsultOrder", id=order["id"])
    finally:
        sandbox.auto_notify = True
    refund = sandbox.refunds[f"R{order['orderNo']}"]
    resource = sandbox.refund_resource(refund) | {"amount": {"total": 1000, "refund": 999}}
    resource["refund_status"] = "SUCCESS"
    headers, body = sandbox.notification("REFUND.SUCCESS", "refund", "退款成功", resource)
    answer = await http.post(REFUND_NOTIFY, content=body, headers=headers)
    assert (answer.status_code, answer.json()["message"]) == (400, "AMOUNT_MISMATCH")
    assert await _state(app, order["id"]) == ("REFUNDING", "CANCELLED", "PROCESSING")


async def test_a_failed_refund_can_be_requested_again_with_a_new_number(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    patient, order, _ = await _unpaid_rapid(app, http)
    await pay(http, patient, order["id"])
    sandbox = _sandbox(app)
    sandbox.refund_outcome = "ABNORMAL"
    try:
        failed = order_of(await step(http, patient.token, "cancelConsultOrder", id=order["id"]))
    finally:
        sandbox.refund_outcome = "SUCCESS"
    assert (failed["paymentState"], failed["refundState"]) == ("REFUNDING", "FAILED")
    assert failed["statusText"] == "订单已取消，费用将原路退回"
    coordinator = await _coordinator(app, http)
    again = order_of(await step(http, coordinator, "refundConsultOrder", id=order["id"], reason="重新退款"))
    assert (again["paymentState"], again["refundState"]) == ("REFUNDED", "SUCCEEDED")
    numbers = await rows(app, "SELECT refund_no FROM consult_orders WHERE id = :id", id=int(order["id"]))
    assert numbers[0]["refund_no"] == f"R{order['orderNo']}-2"
    assert set(sandbox.refunds) >= {f"R{order['orderNo']}", f"R{order['orderNo']}-2"}


async def test_a_refund_waits_for_wechat_pay_and_the_jobs_send_it_later(
    clocked: ClockedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datasources.payments.port import PaymentUnavailable

    app, http = clocked.app, clocked.http
    patient, order, _ = await _unpaid_rapid(app, http)
    await pay(http, patient, order["id"])
    payments = app.state.resources.payments

    async def down(**_: Any) -> Any:
        raise PaymentUnavailable("ConnectError")

    monkeypatch.setattr(payments, "refund", down)
    waiting = order_of(await step(http, patient.token, "cancelConsultOrder", id=order["id"]))
    assert (waiting["paymentState"], waiting["refundState"]) == ("REFUNDING", "REQUESTED")
    monkeypatch.undo()
    clocked.clock.advance(minutes=2)
    report = await app.state.resources.consults.run_jobs(now=clocked.clock())
    assert report.refunds_retried >= 1
    done = await read(http, patient, order["id"])
    assert (done["paymentState"], done["refundState"]) == ("REFUNDED", "SUCCEEDED")


async def test_a_completed_consult_can_be_refunded_in_part(app: Starlette, http: httpx.AsyncClient) -> None:
    patient, order, _ = await _unpaid_rapid(app, http)
    await pay(http, patient, order["id"])
    doctor_id = (await rapid_doctors(app))[0]
    doctor = await staff_login(http, await make_staff(app, [AdminRole.DOCTOR], staff_id=doctor_id))
    await ok(http, "mutation { setRapidConsultDuty(onDuty: true) }", {}, doctor)
    order_of(await step(http, doctor, "acceptRapidConsult", id=order["id"]))
    order_of(await step(http, doctor, "completeConsultOrder", id=order["id"]))
    coordinator = await _coordinator(app, http)
    too_much = await step(http, coordinator, "refundConsultOrder", id=order["id"], reason="x", amountCents=1001)
    assert (too_much["__typename"], too_much["field"]) == ("ValidationFailed", "amountCents")
    part = order_of(
        await step(http, coordinator, "refundConsultOrder", id=order["id"], reason="等待较久", amountCents=400)
    )
    assert (part["paymentState"], part["serviceState"], part["refundState"]) == (
        "PARTIALLY_REFUNDED",
        "COMPLETED",
        "SUCCEEDED",
    )
    assert part["refund"]["amount"]["cents"] == 400 and part["statusText"] == "问诊已完成，已部分退款"
    # the consult still counts as completed for the doctor's statistics
    assert (await consult_row(app, order["id"]))["status"] == "COMPLETED"
    # one refund per order: a second is refused by the payment state machine
    second = await step(http, coordinator, "refundConsultOrder", id=order["id"], reason="再退")
    assert second["__typename"] == "IllegalTransition"


async def test_an_unpaid_order_has_nothing_to_refund(app: Starlette, http: httpx.AsyncClient) -> None:
    _, order, _ = await _unpaid_rapid(app, http)
    coordinator = await _coordinator(app, http)
    refused = await step(http, coordinator, "refundConsultOrder", id=order["id"], reason="误操作")
    assert (refused["__typename"], refused["stateField"], refused["currentState"], refused["action"]) == (
        "IllegalTransition",
        "PAYMENT",
        "UNPAID",
        "START_REFUND",
    )
    assert await _state(app, order["id"]) == ("UNPAID", "AWAITING_PAYMENT", "NONE")
