"""WeChat Pay API v3 for a directly connected merchant (普通商户), mini-program (JSAPI) payments.

    POST {base}/v3/pay/transactions/jsapi                              prepay → prepay_id
    GET  {base}/v3/pay/transactions/out-trade-no/{no}?mchid=...        order query (fallback)
    POST {base}/v3/pay/transactions/out-trade-no/{no}/close            close an unpaid order (204)
    POST {base}/v3/refund/domestic/refunds                             refund
    GET  {base}/v3/refund/domestic/refunds/{out_refund_no}             refund query

Every request carries `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=..,nonce_str=..,signature=..,
timestamp=..,serial_no=..` signed with the merchant's private key. Every successful answer must be
signed by WeChat Pay (`Wechatpay-Signature` over `timestamp\\nnonce\\nbody\\n`, the platform key chosen
by `Wechatpay-Serial`); an unsigned or wrongly signed answer is treated as forged. Notifications are
verified the same way, with the clock skew limited to five minutes, and their resource decrypted with
the APIv3 key (AEAD_AES_256_GCM).

Secrets (the merchant key, the APIv3 key) never appear in logs or exception messages; neither do the
payer's openid or the notification bodies.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa

from datasources.payments import crypto
from datasources.payments.port import (
    Notification,
    NotificationKind,
    NotificationRejected,
    PaymentRefused,
    PaymentRequest,
    PaymentUnavailable,
    Refund,
    Rejection,
    Transaction,
)

logger = logging.getLogger("hospital_bff.payments")

PRODUCTION_BASE_URL = "https://api.mch.weixin.qq.com"
MAX_SKEW_SECONDS = 300
_CHINA = ZoneInfo("Asia/Shanghai")
_HEADERS = ("wechatpay-serial", "wechatpay-signature", "wechatpay-timestamp", "wechatpay-nonce")


def rfc3339(moment: datetime) -> str:
    """WeChat Pay's time format: seconds, with the +08:00 offset."""
    return moment.astimezone(_CHINA).isoformat(timespec="seconds")


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _amount(data: Mapping[str, Any]) -> Mapping[str, Any]:
    amount = data.get("amount")
    return amount if isinstance(amount, Mapping) else {}


def transaction_from(data: Mapping[str, Any]) -> Transaction:
    amount = _amount(data)
    out_trade_no = _str(data.get("out_trade_no"))
    state = _str(data.get("trade_state"))
    if not out_trade_no or not state:
        raise ValueError("transaction without out_trade_no or trade_state")
    return Transaction(
        out_trade_no=out_trade_no,
        trade_state=state,
        transaction_id=_str(data.get("transaction_id")),
        total=_int(amount.get("total")),
        payer_total=_int(amount.get("payer_total")),
        currency=_str(amount.get("currency")),
        success_time=_time(data.get("success_time")),
        appid=_str(data.get("appid")),
        mchid=_str(data.get("mchid")),
    )


def refund_from(data: Mapping[str, Any]) -> Refund:
    amount = _amount(data)
    out_refund_no = _str(data.get("out_refund_no"))
    # The refund answer says "status", the refund notification "refund_status".
    status = _str(data.get("status")) or _str(data.get("refund_status"))
    if not out_refund_no or not status:
        raise ValueError("refund without out_refund_no or status")
    return Refund(
        out_refund_no=out_refund_no,
        status=status,
        out_trade_no=_str(data.get("out_trade_no")),
        refund_id=_str(data.get("refund_id")),
        refund=_int(amount.get("refund")),
        total=_int(amount.get("total")),
        success_time=_time(data.get("success_time")),
    )


class WeChatPay:
    """A `PaymentsPort` over WeChat Pay API v3."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        mch_id: str,
        app_id: str,
        api_v3_key: bytes,
        merchant_key: rsa.RSAPrivateKey,
        merchant_serial: str,
        platform_keys: Mapping[str, rsa.RSAPublicKey],
        notify_url: str,
        refund_notify_url: str,
        clock: Callable[[], datetime],
        timeout: float = 5.0,
    ) -> None:
        if len(api_v3_key) != 32:
            raise ValueError("the APIv3 key must be 32 bytes")
        self._http = http
        self._base = base_url.rstrip("/")
        self.mch_id = mch_id
        self.app_id = app_id
        self._api_v3_key = api_v3_key
        self._merchant_key = merchant_key
        self._merchant_serial = merchant_serial
        self._platform_keys = {serial.upper(): key for serial, key in platform_keys.items()}
        self.notify_url = notify_url
        self.refund_notify_url = refund_notify_url
        self._clock = clock
        self._timeout = timeout

    # ---- the port -----------------------------------------------------------------------------

    async def prepay(
        self, *, out_trade_no: str, description: str, total_cents: int, payer_openid: str, expires_at: datetime
    ) -> str:
        body = {
            "appid": self.app_id,
            "mchid": self.mch_id,
            "description": description[:127],
            "out_trade_no": out_trade_no,
            "time_expire": rfc3339(expires_at),
            "notify_url": self.notify_url,
            "amount": {"total": total_cents, "currency": "CNY"},
            "payer": {"openid": payer_openid},
        }
        answer = await self._call("POST", "/v3/pay/transactions/jsapi", body, label="prepay")
        prepay_id = _str(answer.get("prepay_id"))
        if not prepay_id:
            raise PaymentUnavailable("prepay answer without prepay_id")
        return prepay_id

    def payment_request(self, prepay_id: str) -> PaymentRequest:
        time_stamp = str(int(self._clock().timestamp()))
        nonce_str = crypto.nonce()
        package = f"prepay_id={prepay_id}"
        message = crypto.pay_sign_message(self.app_id, time_stamp, nonce_str, package)
        return PaymentRequest(
            app_id=self.app_id,
            time_stamp=time_stamp,
            nonce_str=nonce_str,
            package=package,
            sign_type="RSA",
            pay_sign=crypto.sign(self._merchant_key, message),
        )

    async def query(self, out_trade_no: str) -> Transaction | None:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}?mchid={quote(self.mch_id)}"
        try:
            answer = await self._call("GET", path, None, label="order query")
        except PaymentRefused as refused:
            if refused.status == 404 or refused.code == "ORDER_NOT_EXIST":
                return None
            raise
        try:
            return transaction_from(answer)
        except ValueError:
            raise PaymentUnavailable("malformed order query answer") from None

    async def close(self, out_trade_no: str) -> None:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close"
        await self._call("POST", path, {"mchid": self.mch_id}, label="close")

    async def refund(
        self, *, out_trade_no: str, out_refund_no: str, reason: str, refund_cents: int, total_cents: int
    ) -> Refund:
        body = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "reason": reason[:80],
            "notify_url": self.refund_notify_url,
            "amount": {"refund": refund_cents, "total": total_cents, "currency": "CNY"},
        }
        answer = await self._call("POST", "/v3/refund/domestic/refunds", body, label="refund")
        try:
            return refund_from(answer)
        except ValueError:
            raise PaymentUnavailable("malformed refund answer") from None

    async def query_refund(self, out_refund_no: str) -> Refund | None:
        try:
            path = f"/v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}"
            answer = await self._call("GET", path, None, label="refund query")
        except PaymentRefused as refused:
            if refused.status == 404 or refused.code == "RESOURCE_NOT_EXISTS":
                return None
            raise
        try:
            return refund_from(answer)
        except ValueError:
            raise PaymentUnavailable("malformed refund query answer") from None

    def read_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        self.verify_signed(headers, body, for_notification=True)
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
            event_type = str(envelope["event_type"])
            notification_id = str(envelope["id"])
            algorithm = resource["algorithm"]
            original_type = str(resource.get("original_type", ""))
            sealed = (str(resource["nonce"]), str(resource["ciphertext"]), str(resource.get("associated_data") or ""))
        except (ValueError, KeyError, TypeError):
            raise NotificationRejected(Rejection.MALFORMED, 400) from None
        if algorithm != crypto.AEAD:
            raise NotificationRejected(Rejection.MALFORMED, 400)
        try:
            plaintext = crypto.aead_decrypt(
                self._api_v3_key, nonce=sealed[0], ciphertext=sealed[1], associated_data=sealed[2]
            )
            data = json.loads(plaintext)
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except InvalidTag:
            raise NotificationRejected(Rejection.UNDECRYPTABLE, 400) from None
        except ValueError:
            raise NotificationRejected(Rejection.MALFORMED, 400) from None
        if data.get("mchid") not in (None, self.mch_id) or data.get("appid") not in (None, self.app_id):
            raise NotificationRejected(Rejection.NOT_OURS, 400)
        try:
            if original_type == "transaction" or event_type.startswith("TRANSACTION."):
                transaction = transaction_from(data)
                return Notification(notification_id, event_type, NotificationKind.TRANSACTION, transaction=transaction)
            if original_type == "refund" or event_type.startswith("REFUND."):
                return Notification(notification_id, event_type, NotificationKind.REFUND, refund=refund_from(data))
        except ValueError:
            raise NotificationRejected(Rejection.MALFORMED, 400) from None
        raise NotificationRejected(Rejection.MALFORMED, 400)

    # ---- signatures ---------------------------------------------------------------------------

    def verify_signed(self, headers: Mapping[str, str], body: bytes, *, for_notification: bool) -> None:
        """Raises NotificationRejected unless WeChat Pay signed `body` with a platform key we know,
        within five minutes of our clock."""
        lower = {key.lower(): value for key, value in headers.items()}
        if any(not lower.get(name) for name in _HEADERS):
            raise NotificationRejected(Rejection.MISSING_HEADERS, 400)
        key = self._platform_keys.get(lower["wechatpay-serial"].strip().upper())
        if key is None:
            raise NotificationRejected(Rejection.UNKNOWN_SERIAL)
        timestamp = lower["wechatpay-timestamp"].strip()
        if not timestamp.isdigit() or abs(self._clock().timestamp() - int(timestamp)) > MAX_SKEW_SECONDS:
            raise NotificationRejected(Rejection.STALE_TIMESTAMP)
        message = crypto.response_message(timestamp, lower["wechatpay-nonce"], body)
        if not crypto.verify(key, message, lower["wechatpay-signature"]):
            raise NotificationRejected(Rejection.BAD_SIGNATURE)

    async def _call(self, method: str, path: str, body: Mapping[str, Any] | None, *, label: str) -> Mapping[str, Any]:
        """One signed request; the answer's signature verified. `label` names it in logs (paths
        carry order numbers, which stay out of the log)."""
        payload = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        timestamp = str(int(self._clock().timestamp()))
        nonce = crypto.nonce()
        signature = crypto.sign(self._merchant_key, crypto.request_message(method, path, timestamp, nonce, payload))
        headers = {
            "Authorization": crypto.authorization(
                mch_id=self.mch_id, serial=self._merchant_serial, nonce=nonce, timestamp=timestamp, signature=signature
            ),
            "Accept": "application/json",
            "User-Agent": "hospital-bff",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        content = payload.encode() if body is not None else None
        try:
            response = await self._http.request(
                method, self._base + path, content=content, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as error:
            # Only the class: the error's text may quote the URL with the order number.
            logger.warning("WeChat Pay %s failed: %s", label, type(error).__name__)
            raise PaymentUnavailable(type(error).__name__) from None
        status = response.status_code
        if status >= 500 or status == 429:
            logger.warning("WeChat Pay %s answered HTTP %d", label, status)
            raise PaymentUnavailable(f"HTTP {status}")
        if status >= 400:
            code, message = _error_of(response)
            logger.info("WeChat Pay %s refused: HTTP %d %s", label, status, code)
            raise PaymentRefused(status, code, message)
        try:
            self.verify_signed(response.headers, response.content, for_notification=False)
        except NotificationRejected as problem:
            logger.error("WeChat Pay %s: answer not signed by WeChat Pay (%s)", label, problem.reason)
            raise PaymentUnavailable(f"untrusted answer ({problem.reason})") from None
        if not response.content:
            return {}
        try:
            answer = json.loads(response.content)
        except ValueError:
            raise PaymentUnavailable("malformed answer") from None
        if not isinstance(answer, dict):
            raise PaymentUnavailable("malformed answer")
        return answer


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        data = json.loads(response.content)
    except ValueError:
        return "UNKNOWN", ""
    if not isinstance(data, dict):
        return "UNKNOWN", ""
    return str(data.get("code") or "UNKNOWN"), str(data.get("message") or "")
