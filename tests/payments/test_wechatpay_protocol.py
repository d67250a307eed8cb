"""WeChat Pay API v3 client against the sandbox: signed requests, signed answers, JSAPI payment
parameters, notifications (verified, decrypted, and refused when anything is off), refunds."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from datasources.payments import crypto
from datasources.payments.port import (
    NotificationKind,
    NotificationRejected,
    PaymentRefused,
    PaymentUnavailable,
    Rejection,
)
from datasources.payments.sandbox import SANDBOX_MERCHANT_SERIAL, WeChatPaySandbox, sandbox_merchant_key
from datasources.payments.wechatpay import WeChatPay
from support import ANCHOR

API_V3_KEY = b"0123456789abcdef0123456789abcdef"
APP_ID = "wx-test-app"
MCH_ID = "1900000109"


@dataclass
class Clock:
    now: datetime = ANCHOR

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    sandbox: WeChatPaySandbox
    pay: WeChatPay
    http: httpx.AsyncClient
    clock: Clock
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def client(self, **changes: object) -> WeChatPay:
        """Another client on the same sandbox, with some of its settings changed."""
        values: dict[str, object] = {
            "base_url": "http://pay",
            "mch_id": MCH_ID,
            "app_id": APP_ID,
            "api_v3_key": API_V3_KEY,
            "merchant_key": sandbox_merchant_key(),
            "merchant_serial": SANDBOX_MERCHANT_SERIAL,
            "platform_keys": {self.sandbox.serial: self.sandbox.platform_key.public_key()},
            "notify_url": "https://bff.example/payments/wechat/notify",
            "refund_notify_url": "https://bff.example/payments/wechat/refund-notify",
            "clock": self.clock,
        }
        return WeChatPay(self.http, **(values | changes))  # type: ignore[arg-type]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    clock = Clock()
    sandbox = WeChatPaySandbox(
        mch_id=MCH_ID,
        app_id=APP_ID,
        api_v3_key=API_V3_KEY,
        merchant_keys={SANDBOX_MERCHANT_SERIAL: sandbox_merchant_key().public_key()},
        clock=clock,
    )
    async with httpx.AsyncClient(mounts={"http://pay": sandbox.transport()}) as http:
        harness = Harness(sandbox, None, http, clock)  # type: ignore[arg-type]

        async def deliver(url: str, headers: Mapping[str, str], body: bytes) -> int:
            harness.received.append((url, dict(headers), body))
            return 204

        sandbox.deliver_to = deliver
        harness.pay = harness.client()
        yield harness


async def _prepay(h: Harness, no: str = "HB20261115TEST01", total: int = 2500) -> str:
    return await h.pay.prepay(
        out_trade_no=no,
        description="复诊续方",
        total_cents=total,
        payer_openid="o-payer",
        expires_at=ANCHOR + timedelta(minutes=30),
    )


async def test_prepay_gives_exactly_what_wx_request_payment_needs(harness: Harness) -> None:
    prepay_id = await _prepay(harness)
    request = harness.pay.payment_request(prepay_id)
    assert request.package == f"prepay_id={prepay_id}"
    assert request.sign_type == "RSA"
    assert request.time_stamp == str(int(ANCHOR.timestamp())) and len(request.time_stamp) == 10
    assert 1 <= len(request.nonce_str) <= 32
    # paySign: SHA256withRSA over the four lines, each ending in \n, with the merchant key
    message = f"{APP_ID}\n{request.time_stamp}\n{request.nonce_str}\n{request.package}\n"
    assert crypto.verify(sandbox_merchant_key().public_key(), message, request.pay_sign)
    assert not crypto.verify(sandbox_merchant_key().public_key(), message.rstrip("\n"), request.pay_sign)
    # the sandbox recorded the order as WeChat Pay would
    order = harness.sandbox.orders["HB20261115TEST01"]
    assert (order.total, order.openid, order.notify_url) == (
        2500,
        "o-payer",
        "https://bff.example/payments/wechat/notify",
    )
    assert order.time_expire == ANCHOR + timedelta(minutes=30)


async def test_the_same_prepay_again_gives_the_same_prepay_id(harness: Harness) -> None:
    assert await _prepay(harness) == await _prepay(harness)
    with pytest.raises(PaymentRefused) as refused:
        await _prepay(harness, total=9999)
    assert refused.value.code == "INVALID_REQUEST"


async def test_requests_signed_with_another_key_are_refused(harness: Harness) -> None:
    stranger = harness.client(merchant_key=crypto.new_private_key())
    with pytest.raises(PaymentRefused) as refused:
        await stranger.prepay(
            out_trade_no="HB20261115TEST02", description="x", total_cents=1, payer_openid="o", expires_at=ANCHOR
        )
    assert (refused.value.status, refused.value.code) == (401, "SIGN_ERROR")
    unknown_serial = harness.client(merchant_serial="0000")
    with pytest.raises(PaymentRefused):
        await unknown_serial.query("HB20261115TEST02")


async def test_answers_not_signed_by_the_platform_key_are_not_trusted(harness: Harness) -> None:
    other = crypto.new_private_key()
    fooled = harness.client(platform_keys={harness.sandbox.serial: other.public_key()})
    with pytest.raises(PaymentUnavailable):
        await fooled.prepay(
            out_trade_no="HB20261115TEST03", description="x", total_cents=1, payer_openid="o", expires_at=ANCHOR
        )


async def test_a_payment_is_notified_signed_and_encrypted(harness: Harness) -> None:
    await _prepay(harness)
    sent = await harness.sandbox.pay("HB20261115TEST01")
    assert sent is not None
    url, headers, body = harness.received[-1]
    assert url == "https://bff.example/payments/wechat/notify"
    envelope = json.loads(body)
    assert envelope["event_type"] == "TRANSACTION.SUCCESS"
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    assert "HB20261115TEST01" not in body.decode()  # the order is inside the ciphertext
    notification = harness.pay.read_notification(headers, body)
    assert notification.kind is NotificationKind.TRANSACTION
    transaction = notification.transaction
    assert transaction is not None
    assert (transaction.out_trade_no, transaction.trade_state, transaction.total) == (
        "HB20261115TEST01",
        "SUCCESS",
        2500,
    )
    assert transaction.transaction_id and transaction.success_time == ANCHOR
    # and the order query says the same
    queried = await harness.pay.query("HB20261115TEST01")
    assert (
        queried is not None
        and queried.trade_state == "SUCCESS"
        and queried.transaction_id == transaction.transaction_id
    )


async def test_order_query_and_close(harness: Harness) -> None:
    assert await harness.pay.query("HB20261115NOPE01") is None
    await _prepay(harness)
    queried = await harness.pay.query("HB20261115TEST01")
    assert queried is not None and queried.trade_state == "NOTPAY" and queried.transaction_id is None
    await harness.pay.close("HB20261115TEST01")
    closed = await harness.pay.query("HB20261115TEST01")
    assert closed is not None and closed.trade_state == "CLOSED"
    with pytest.raises(ValueError):
        await harness.sandbox.pay("HB20261115TEST01")


async def test_a_paid_order_cannot_be_closed(harness: Harness) -> None:
    await _prepay(harness)
    await harness.sandbox.pay("HB20261115TEST01")
    with pytest.raises(PaymentRefused) as refused:
        await harness.pay.close("HB20261115TEST01")
    assert refused.value.code == "ORDERPAID"


async def test_an_order_past_its_time_expire_cannot_be_paid(harness: Harness) -> None:
    await _prepay(harness)
    harness.clock.now = ANCHOR + timedelta(minutes=31)
    with pytest.raises(ValueError):
        await harness.sandbox.pay("HB20261115TEST01")


async def test_a_refund_is_answered_then_notified(harness: Harness) -> None:
    await _prepay(harness)
    await harness.sandbox.pay("HB20261115TEST01")
    refund = await harness.pay.refund(
        out_trade_no="HB20261115TEST01",
        out_refund_no="RHB20261115TEST01",
        reason="医生未接诊",
        refund_cents=2500,
        total_cents=2500,
    )
    assert (refund.out_refund_no, refund.refund, refund.total) == ("RHB20261115TEST01", 2500, 2500)
    assert refund.status in ("PROCESSING", "SUCCESS")
    _, headers, body = harness.received[-1]
    notification = harness.pay.read_notification(headers, body)
    assert notification.event_type == "REFUND.SUCCESS" and notification.kind is NotificationKind.REFUND
    assert notification.refund is not None and notification.refund.status == "SUCCESS"
    assert notification.refund.out_trade_no == "HB20261115TEST01"
    queried = await harness.pay.query_refund("RHB20261115TEST01")
    assert queried is not None and queried.status == "SUCCESS"
    # the same refund number is the same refund, never a second one
    again = await harness.pay.refund(
        out_trade_no="HB20261115TEST01",
        out_refund_no="RHB20261115TEST01",
        reason="x",
        refund_cents=2500,
        total_cents=2500,
    )
    assert again.refund_id == refund.refund_id
    assert len([r for r in harness.sandbox.refunds.values() if r.out_trade_no == "HB20261115TEST01"]) == 1
    with pytest.raises(PaymentRefused) as refused:
        await harness.pay.refund(
            out_trade_no="HB20261115TEST01", out_refund_no="RHB2026111502", reason="x", refund_cents=1, total_cents=2500
        )
    assert refused.value.code == "NOT_ENOUGH"
    assert await harness.pay.query_refund("RNOPE") is None


async def test_an_abnormal_refund_is_notified_as_such(harness: Harness) -> None:
    await _prepay(harness)
    await harness.sandbox.pay("HB20261115TEST01")
    harness.sandbox.refund_outcome = "ABNORMAL"
    await harness.pay.refund(
        out_trade_no="HB20261115TEST01",
        out_refund_no="RHB20261115TEST01",
        reason="x",
        refund_cents=100,
        total_cents=2500,
    )
    _, headers, body = harness.received[-1]
    notification = harness.pay.read_notification(headers, body)
    assert notification.event_type == "REFUND.ABNORMAL"
    assert notification.refund is not None and notification.refund.status == "ABNORMAL"


# ---- notifications that must be refused ------------------------------------------------------


async def _notification(h: Harness) -> tuple[dict[str, str], bytes]:
    await _prepay(h)
    await h.sandbox.pay("HB20261115TEST01")
    _, headers, body = h.received[-1]
    return headers, body


def _refused(h: Harness, headers: Mapping[str, str], body: bytes) -> Rejection:
    with pytest.raises(NotificationRejected) as refused:
        h.pay.read_notification(headers, body)
    assert 400 <= refused.value.status < 500
    return refused.value.reason


async def test_an_unknown_serial_is_refused(harness: Harness) -> None:
    headers, body = await _notification(harness)
    assert _refused(harness, headers | {"Wechatpay-Serial": "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"}, body) is (
        Rejection.UNKNOWN_SERIAL
    )


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6), timedelta(days=365)])
async def test_a_stale_timestamp_is_refused_even_when_correctly_signed(harness: Harness, skew: timedelta) -> None:
    await _prepay(harness)
    await harness.sandbox.pay("HB20261115TEST01")
    order = harness.sandbox.orders["HB20261115TEST01"]
    headers, body = harness.sandbox.notification(
        "TRANSACTION.SUCCESS", "transaction", "支付成功", harness.sandbox.transaction(order), timestamp=ANCHOR + skew
    )
    assert _refused(harness, headers, body) is Rejection.STALE_TIMESTAMP


async def test_four_minutes_of_skew_are_accepted(harness: Harness) -> None:
    await _prepay(harness)
    await harness.sandbox.pay("HB20261115TEST01")
    order = harness.sandbox.orders["HB20261115TEST01"]
    headers, body = harness.sandbox.notification(
        "TRANSACTION.SUCCESS",
        "transaction",
        "支付成功",
        harness.sandbox.transaction(order),
        timestamp=ANCHOR - timedelta(minutes=4),
    )
    assert harness.pay.read_notification(headers, body).transaction is not None


async def test_a_changed_body_or_signature_is_refused(harness: Harness) -> None:
    headers, body = await _notification(harness)
    assert _refused(harness, headers, body.replace(b"TRANSACTION.SUCCESS", b"TRANSACTION.SUCCES ")) is (
        Rejection.BAD_SIGNATURE
    )
    forged = base64.b64encode(b"\x00" * 256).decode()
    assert _refused(harness, headers | {"Wechatpay-Signature": forged}, body) is Rejection.BAD_SIGNATURE
    assert _refused(harness, headers | {"Wechatpay-Signature": "not base64!"}, body) is Rejection.BAD_SIGNATURE
    assert _refused(harness, headers | {"Wechatpay-Nonce": "other"}, body) is Rejection.BAD_SIGNATURE


async def test_a_signature_by_another_key_is_refused(harness: Harness) -> None:
    headers, body = await _notification(harness)
    stranger: rsa.RSAPrivateKey = crypto.new_private_key()
    timestamp = headers["Wechatpay-Timestamp"]
    signature = crypto.sign(stranger, crypto.response_message(timestamp, headers["Wechatpay-Nonce"], body).decode())
    assert _refused(harness, headers | {"Wechatpay-Signature": signature}, body) is Rejection.BAD_SIGNATURE


async def test_tampered_ciphertext_is_refused_even_when_re_signed(harness: Harness) -> None:
    _, body = await _notification(harness)
    envelope = json.loads(body)
    sealed = bytearray(base64.b64decode(envelope["resource"]["ciphertext"]))
    sealed[10] ^= 0x01
    envelope["resource"]["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    tampered = json.dumps(envelope).encode()
    # signed correctly by the platform key: only the AEAD tag can tell
    assert _refused(harness, harness.sandbox.signed_headers(tampered), tampered) is Rejection.UNDECRYPTABLE
    envelope["resource"]["associated_data"] = "refund"
    retagged = json.dumps(envelope).encode()
    assert _refused(harness, harness.sandbox.signed_headers(retagged), retagged) is Rejection.UNDECRYPTABLE


async def test_a_resource_sealed_with_another_key_is_refused(harness: Harness) -> None:
    await _prepay(harness)
    await harness.sandbox.pay("HB20261115TEST01")
    order = harness.sandbox.orders["HB20261115TEST01"]
    headers, body = harness.sandbox.notification(
        "TRANSACTION.SUCCESS", "transaction", "支付成功", harness.sandbox.transaction(order), api_v3_key=b"x" * 32
    )
    assert _refused(harness, headers, body) is Rejection.UNDECRYPTABLE


async def test_missing_headers_and_malformed_bodies_are_refused(harness: Harness) -> None:
    headers, body = await _notification(harness)
    for name in ("Wechatpay-Serial", "Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce"):
        assert _refused(harness, {k: v for k, v in headers.items() if k != name}, body) is Rejection.MISSING_HEADERS
    for junk in (b"not json", b"{}", b'{"resource": {"algorithm": "AEAD_AES_256_GCM"}}'):
        assert _refused(harness, harness.sandbox.signed_headers(junk), junk) is Rejection.MALFORMED


async def test_a_notification_for_another_merchant_is_refused(harness: Harness) -> None:
    await _prepay(harness)
    await harness.sandbox.pay("HB20261115TEST01")
    resource = harness.sandbox.transaction(harness.sandbox.orders["HB20261115TEST01"]) | {"mchid": "1234567890"}
    headers, body = harness.sandbox.notification("TRANSACTION.SUCCESS", "transaction", "支付成功", resource)
    assert _refused(harness, headers, body) is Rejection.NOT_OURS


def test_keys_and_certificates_load_from_pem_text_or_files(tmp_path: Path) -> None:
    key = crypto.new_private_key()
    pem = crypto.private_key_pem(key)
    assert crypto.load_private_key(pem).private_numbers() == key.private_numbers()
    path = tmp_path / "apiclient_key.pem"
    path.write_text(pem)
    assert crypto.load_private_key(str(path)).private_numbers() == key.private_numbers()
    certificate = crypto.self_signed_certificate(key, common_name="t", now=ANCHOR)
    keys = crypto.load_certificates(crypto.certificate_pem(certificate))
    assert list(keys) == [crypto.certificate_serial(certificate)]
    assert all(c in "0123456789ABCDEF" for c in next(iter(keys)))
    for bad in ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "/no/such/file.pem"):
        with pytest.raises(crypto.KeyProblem) as problem:
            crypto.load_private_key(bad)
        assert "AAAA" not in str(problem.value)
    with pytest.raises(crypto.KeyProblem):
        crypto.load_certificates("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")


def test_authorization_header_round_trip() -> None:
    header = crypto.authorization(mch_id="1900009191", serial="ABC", nonce="N", timestamp="1554208460", signature="S==")
    assert header.startswith('WECHATPAY2-SHA256-RSA2048 mchid="1900009191",')
    assert crypto.parse_authorization(header) == {
        "mchid": "1900009191",
        "nonce_str": "N",
        "signature": "S==",
        "timestamp": "1554208460",
        "serial_no": "ABC",
    }
    assert crypto.parse_authorization("Bearer x") is None
    assert crypto.parse_authorization("WECHATPAY2-SHA256-RSA2048 mchid=1") is None
