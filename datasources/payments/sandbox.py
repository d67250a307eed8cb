"""A stand-in for WeChat Pay API v3, so orders can be paid and refunded without a merchant account.

It speaks WeChat Pay's protocol and uses the same cryptography: it verifies our requests' merchant
signatures, signs every answer and every notification with its own platform key (a locally
generated RSA key with a self-signed platform certificate and serial), and seals notification
resources with AEAD_AES_256_GCM under the APIv3 key. So `WeChatPay` runs against it unchanged, and
the very code that verifies real notifications verifies the sandbox's.

What it does: JSAPI prepay, order query, close, refund (answered PROCESSING, then settled and
notified), refund query. What a phone would do, `pay(out_trade_no)` does: the order becomes SUCCESS
and a TRANSACTION.SUCCESS notification is delivered to the order's notify_url through `deliver`
(in-process, to the app's own endpoint). Every notification delivered is kept in `sent`, so tests
can deliver one again, as WeChat Pay does when it gets no 2xx.

Knobs for tests and demos: `auto_notify` (False: nothing is delivered; the order query is then the
only way to learn of a payment), `refund_outcome` (SUCCESS, ABNORMAL or CLOSED for the next
refunds). State lives in memory, for the life of the process.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from datasources.payments import crypto
from datasources.payments.wechatpay import MAX_SKEW_SECONDS, rfc3339

logger = logging.getLogger("hospital_bff.payments.sandbox")

SANDBOX_BASE_URL = "http://wechatpay-sandbox"
SANDBOX_MCH_ID = "1900000001"
# A public development value (exactly 32 bytes, as WeChat Pay requires); refused in prod.
SANDBOX_API_V3_KEY = "sandbox-apiv3-key-0123456789abcd"

Deliver = Callable[[str, Mapping[str, str], bytes], Awaitable[int]]

_OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_\-|*]{6,32}")
_OUT_REFUND_NO = re.compile(r"[A-Za-z0-9_\-|*@]{1,64}")


@cache
def sandbox_platform_key() -> rsa.RSAPrivateKey:
    """One platform key per process: generating RSA keys takes a while."""
    return crypto.new_private_key()


@cache
def sandbox_merchant_key() -> rsa.RSAPrivateKey:
    """The merchant key the app uses against the sandbox when no real one is configured."""
    return crypto.new_private_key()


SANDBOX_MERCHANT_SERIAL = "5A1B0C0DE5A1B0C0DE5A1B0C0DE5A1B0C0DE0001"


@dataclass
class SandboxOrder:
    out_trade_no: str
    prepay_id: str
    total: int
    description: str
    openid: str
    notify_url: str
    time_expire: datetime | None
    state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: datetime | None = None
    refunded: int = 0


@dataclass
class SandboxRefund:
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    refund: int
    total: int
    notify_url: str | None
    status: str = "PROCESSING"
    created: datetime | None = None
    success_time: datetime | None = None


@dataclass(frozen=True)
class SentNotification:
    url: str
    headers: Mapping[str, str]
    body: bytes
    answered: int  # the HTTP status the merchant answered


@dataclass
class WeChatPaySandbox:
    mch_id: str
    app_id: str
    api_v3_key: bytes
    merchant_keys: Mapping[str, rsa.RSAPublicKey]
    clock: Callable[[], datetime]
    deliver_to: Deliver | None = None
    auto_notify: bool = True
    refund_outcome: str = "SUCCESS"
    orders: dict[str, SandboxOrder] = field(default_factory=dict)
    refunds: dict[str, SandboxRefund] = field(default_factory=dict)
    sent: list[SentNotification] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.platform_key = sandbox_platform_key()
        self.certificate = crypto.self_signed_certificate(
            self.platform_key, common_name="WeChat Pay sandbox platform certificate", now=self.clock()
        )
        self.serial = crypto.certificate_serial(self.certificate)
        self.app = Starlette(
            routes=[
                Route("/v3/pay/transactions/jsapi", self._prepay, methods=["POST"]),
                Route("/v3/pay/transactions/out-trade-no/{no}", self._query, methods=["GET"]),
                Route("/v3/pay/transactions/out-trade-no/{no}/close", self._close, methods=["POST"]),
                Route("/v3/refund/domestic/refunds", self._refund, methods=["POST"]),
                Route("/v3/refund/domestic/refunds/{no}", self._query_refund, methods=["GET"]),
            ]
        )

    @property
    def platform_certificate_pem(self) -> str:
        return crypto.certificate_pem(self.certificate)

    def transport(self) -> httpx.ASGITransport:
        """Serves the sandbox in-process: no port, no network."""
        return httpx.ASGITransport(app=self.app)

    # ---- what the phone does ----------------------------------------------------------------

    async def pay(self, out_trade_no: str) -> SentNotification | None:
        """The payer pays in WeChat. Returns the notification delivered (None when `auto_notify` is
        off). Raises LookupError for an unknown order and ValueError for one that cannot be paid."""
        order = self.orders.get(out_trade_no)
        if order is None:
            raise LookupError(out_trade_no)
        now = self.clock()
        if order.state != "NOTPAY" or (order.time_expire is not None and now > order.time_expire):
            raise ValueError(f"order is {order.state if order.state != 'NOTPAY' else 'past its time_expire'}")
        order.state = "SUCCESS"
        order.transaction_id = f"4200{now:%Y%m%d}{secrets.randbelow(10**18):018d}"
        order.success_time = now
        if not self.auto_notify:
            return None
        headers, body = self.notification("TRANSACTION.SUCCESS", "transaction", "支付成功", self.transaction(order))
        return await self.deliver(order.notify_url, headers, body)

    def transaction(self, order: SandboxOrder) -> dict[str, Any]:
        data: dict[str, Any] = {
            "appid": self.app_id,
            "mchid": self.mch_id,
            "out_trade_no": order.out_trade_no,
            "trade_state": order.state,
            "trade_state_desc": {
                "SUCCESS": "支付成功",
                "NOTPAY": "未支付",
                "CLOSED": "已关闭",
                "REFUND": "转入退款",
            }.get(order.state, order.state),
            "amount": {"total": order.total, "currency": "CNY"},
        }
        if order.transaction_id:
            data |= {
                "transaction_id": order.transaction_id,
                "trade_type": "JSAPI",
                "bank_type": "OTHERS",
                "attach": "",
                "success_time": rfc3339(order.success_time or self.clock()),
                "payer": {"openid": order.openid},
                "amount": {
                    "total": order.total,
                    "payer_total": order.total,
                    "currency": "CNY",
                    "payer_currency": "CNY",
                },
            }
        return data

    def refund_resource(self, refund: SandboxRefund) -> dict[str, Any]:
        order = self.orders[refund.out_trade_no]
        data: dict[str, Any] = {
            "mchid": self.mch_id,
            "out_trade_no": refund.out_trade_no,
            "transaction_id": order.transaction_id,
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id,
            "refund_status": refund.status,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": refund.total,
                "refund": refund.refund,
                "payer_total": refund.total,
                "payer_refund": refund.refund,
            },
        }
        if refund.success_time is not None:
            data["success_time"] = rfc3339(refund.success_time)
        return data

    def notification(
        self,
        event_type: str,
        original_type: str,
        summary: str,
        resource: Mapping[str, Any],
        *,
        timestamp: datetime | None = None,
        api_v3_key: bytes | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A notification exactly as WeChat Pay sends it: (headers, body)."""
        nonce = crypto.aead_nonce()
        ciphertext = crypto.aead_encrypt(
            api_v3_key or self.api_v3_key,
            nonce=nonce,
            plaintext=json.dumps(resource, ensure_ascii=False).encode(),
            associated_data=original_type,
        )
        envelope = {
            "id": str(uuid.uuid4()),
            "create_time": rfc3339(self.clock()),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": crypto.AEAD,
                "ciphertext": ciphertext,
                "associated_data": original_type,
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()
        return self.signed_headers(body, at=timestamp), body

    def signed_headers(self, body: bytes, *, at: datetime | None = None) -> dict[str, str]:
        timestamp = str(int((at or self.clock()).timestamp()))
        nonce = crypto.nonce()
        signature = crypto.sign(self.platform_key, crypto.response_message(timestamp, nonce, body).decode())
        return {
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Serial": self.serial,
            "Wechatpay-Signature-Type": crypto.AUTH_SCHEME,
            "Request-ID": uuid.uuid4().hex,
        }

    async def deliver(self, url: str, headers: Mapping[str, str], body: bytes) -> SentNotification:
        answered = 0
        if self.deliver_to is not None:
            try:
                answered = await self.deliver_to(url, headers, body)
            except Exception:
                logger.exception("sandbox: delivering a notification failed")
        sent = SentNotification(url, dict(headers), body, answered)
        self.sent.append(sent)
        return sent

    # ---- the API ------------------------------------------------------------------------------

    def _answer(self, status: int, data: Mapping[str, Any] | None = None, **kwargs: Any) -> Response:
        body = b"" if data is None else json.dumps(data, ensure_ascii=False).encode()
        return Response(
            body, status_code=status, headers=self.signed_headers(body), media_type="application/json", **kwargs
        )

    def _error(self, status: int, code: str, message: str) -> Response:
        return self._answer(status, {"code": code, "message": message})

    async def _authorized(self, request: Request) -> tuple[bytes, Response | None]:
        body = await request.body()
        parts = crypto.parse_authorization(request.headers.get("authorization", ""))
        if parts is None:
            return body, self._error(401, "SIGN_ERROR", "Authorization 头缺失或格式错误")
        key = self.merchant_keys.get(parts.get("serial_no", ""))
        if parts.get("mchid") != self.mch_id or key is None:
            return body, self._error(401, "SIGN_ERROR", "商户号或证书序列号不正确")
        timestamp = parts.get("timestamp", "")
        if not timestamp.isdigit() or abs(self.clock().timestamp() - int(timestamp)) > MAX_SKEW_SECONDS:
            return body, self._error(401, "SIGN_ERROR", "请求时间戳超出允许范围")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        message = crypto.request_message(request.method, target, timestamp, parts.get("nonce_str", ""), body.decode())
        if not crypto.verify(key, message, parts.get("signature", "")):
            return body, self._error(401, "SIGN_ERROR", "签名错误")
        return body, None

    async def _prepay(self, request: Request) -> Response:
        raw, refused = await self._authorized(request)
        if refused:
            return refused
        try:
            data = json.loads(raw)
            no, total = str(data["out_trade_no"]), data["amount"]["total"]
            fields = (data["appid"], data["mchid"], data["description"], data["notify_url"], data["payer"]["openid"])
        except (ValueError, KeyError, TypeError):
            return self._error(400, "PARAM_ERROR", "参数错误")
        if fields[0] != self.app_id or fields[1] != self.mch_id:
            return self._error(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        if not _OUT_TRADE_NO.fullmatch(no) or not isinstance(total, int) or total <= 0:
            return self._error(400, "PARAM_ERROR", "out_trade_no 或 amount.total 不正确")
        expires = None
        if data.get("time_expire"):
            try:
                expires = datetime.fromisoformat(str(data["time_expire"]))
            except ValueError:
                return self._error(400, "PARAM_ERROR", "time_expire 格式错误")
        existing = self.orders.get(no)
        if existing is not None:
            if (existing.total, existing.openid) != (total, fields[4]):
                return self._error(400, "INVALID_REQUEST", "商户订单号重复")
            if existing.state != "NOTPAY":
                return self._error(
                    400, "ORDERPAID" if existing.state == "SUCCESS" else "ORDER_CLOSED", "订单状态不允许"
                )
            return self._answer(200, {"prepay_id": existing.prepay_id})
        order = SandboxOrder(
            out_trade_no=no,
            prepay_id=f"wx{self.clock():%d%H%M%S}{secrets.token_hex(12)}",
            total=total,
            description=str(fields[2]),
            openid=str(fields[4]),
            notify_url=str(fields[3]),
            time_expire=expires,
        )
        self.orders[no] = order
        return self._answer(200, {"prepay_id": order.prepay_id})

    async def _query(self, request: Request) -> Response:
        _, refused = await self._authorized(request)
        if refused:
            return refused
        if request.query_params.get("mchid") != self.mch_id:
            return self._error(400, "PARAM_ERROR", "mchid 不正确")
        order = self.orders.get(request.path_params["no"])
        if order is None:
            return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
        return self._answer(200, self.transaction(order))

    async def _close(self, request: Request) -> Response:
        _, refused = await self._authorized(request)
        if refused:
            return refused
        order = self.orders.get(request.path_params["no"])
        if order is None:
            return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
        if order.state in ("SUCCESS", "REFUND"):
            return self._error(400, "ORDERPAID", "订单已支付")
        order.state = "CLOSED"
        return self._answer(204)

    async def _refund(self, request: Request) -> Response:
        raw, refused = await self._authorized(request)
        if refused:
            return refused
        try:
            data = json.loads(raw)
            no, refund_no = str(data["out_trade_no"]), str(data["out_refund_no"])
            amount, total = data["amount"]["refund"], data["amount"]["total"]
        except (ValueError, KeyError, TypeError):
            return self._error(400, "PARAM_ERROR", "参数错误")
        order = self.orders.get(no)
        if order is None:
            return self._error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        if not _OUT_REFUND_NO.fullmatch(refund_no) or not isinstance(amount, int) or amount <= 0:
            return self._error(400, "PARAM_ERROR", "out_refund_no 或 amount.refund 不正确")
        existing = self.refunds.get(refund_no)
        if existing is not None:
            if (existing.out_trade_no, existing.refund, existing.total) != (no, amount, total):
                return self._error(400, "INVALID_REQUEST", "退款单号重复但参数不同")
            return self._answer(200, self._refund_answer(existing))
        if order.state not in ("SUCCESS", "REFUND"):
            return self._error(400, "INVALID_REQUEST", "订单未支付")
        if total != order.total:
            return self._error(400, "PARAM_ERROR", "订单金额与原订单不一致")
        if amount > order.total - order.refunded:
            return self._error(400, "NOT_ENOUGH", "退款金额超过可退金额")
        refund = SandboxRefund(
            out_refund_no=refund_no,
            refund_id=f"5030{self.clock():%Y%m%d}{secrets.randbelow(10**18):018d}",
            out_trade_no=no,
            refund=amount,
            total=total,
            notify_url=data.get("notify_url"),
            created=self.clock(),
        )
        self.refunds[refund_no] = refund
        order.refunded += amount
        order.state = "REFUND"
        # Answered PROCESSING; settled (and notified) right after the answer, as WeChat Pay does later.
        return self._answer(200, self._refund_answer(refund), background=BackgroundTask(self._settle, refund))

    async def _settle(self, refund: SandboxRefund) -> None:
        refund.status = self.refund_outcome
        if refund.status == "SUCCESS":
            refund.success_time = self.clock()
        else:
            self.orders[refund.out_trade_no].refunded -= refund.refund
        if self.auto_notify and refund.notify_url:
            summary = {"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}.get(refund.status, "退款")
            headers, body = self.notification(
                f"REFUND.{refund.status}", "refund", summary, self.refund_resource(refund)
            )
            await self.deliver(refund.notify_url, headers, body)

    def _refund_answer(self, refund: SandboxRefund) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": self.orders[refund.out_trade_no].transaction_id,
            "out_trade_no": refund.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": rfc3339(refund.created or self.clock()),
            "status": refund.status,
            "amount": {
                "total": refund.total,
                "refund": refund.refund,
                "payer_total": refund.total,
                "payer_refund": refund.refund,
                "currency": "CNY",
            },
        }
        if refund.success_time is not None:
            answer["success_time"] = rfc3339(refund.success_time)
        return answer

    async def _query_refund(self, request: Request) -> Response:
        _, refused = await self._authorized(request)
        if refused:
            return refused
        refund = self.refunds.get(request.path_params["no"])
        if refund is None:
            return self._error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return self._answer(200, self._refund_answer(refund))
