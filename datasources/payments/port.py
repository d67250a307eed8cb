"""The payments port: what the consult orders may ask of the payment provider (WeChat Pay v3), and
the provider's answers in our own terms. No strawberry, no database here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True)
class PaymentRequest:
    """Exactly the parameters `wx.requestPayment` takes, signed with the merchant key."""

    app_id: str  # signed, not passed to wx.requestPayment (the mini-program's own AppID)
    time_stamp: str
    nonce_str: str
    package: str  # "prepay_id=..."
    sign_type: str  # "RSA"
    pay_sign: str


@dataclass(frozen=True)
class Transaction:
    """A payment as WeChat Pay reports it (notification `transaction` resource, or order query)."""

    out_trade_no: str
    trade_state: str  # SUCCESS, REFUND, NOTPAY, CLOSED, REVOKED, USERPAYING, PAYERROR
    transaction_id: str | None = None
    total: int | None = None  # fen
    payer_total: int | None = None
    currency: str | None = None
    success_time: datetime | None = None
    appid: str | None = None
    mchid: str | None = None


@dataclass(frozen=True)
class Refund:
    """A refund as WeChat Pay reports it (refund answer, refund query or `refund` notification)."""

    out_refund_no: str
    status: str  # SUCCESS, CLOSED, PROCESSING, ABNORMAL
    out_trade_no: str | None = None
    refund_id: str | None = None
    refund: int | None = None  # fen
    total: int | None = None
    success_time: datetime | None = None


class NotificationKind(StrEnum):
    TRANSACTION = "transaction"
    REFUND = "refund"


@dataclass(frozen=True)
class Notification:
    """A verified, decrypted notification."""

    id: str
    event_type: str  # TRANSACTION.SUCCESS, REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED
    kind: NotificationKind
    transaction: Transaction | None = None
    refund: Refund | None = None


class PaymentUnavailable(Exception):
    """The provider could not be asked, or its answer could not be trusted; safe to try again."""


class PaymentRefused(Exception):
    """The provider refused the request (HTTP 4xx); `code` is its error code, e.g. ORDERPAID."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code


class Rejection(StrEnum):
    MISSING_HEADERS = "MISSING_HEADERS"
    UNKNOWN_SERIAL = "UNKNOWN_SERIAL"
    STALE_TIMESTAMP = "STALE_TIMESTAMP"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    MALFORMED = "MALFORMED"
    UNDECRYPTABLE = "UNDECRYPTABLE"
    NOT_OURS = "NOT_OURS"  # another merchant or app


class NotificationRejected(Exception):
    """A notification that cannot be trusted; answered with 4xx and otherwise ignored."""

    def __init__(self, reason: Rejection, status: int = 401) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.status = status


class PaymentsPort(Protocol):
    mch_id: str
    app_id: str

    async def prepay(
        self, *, out_trade_no: str, description: str, total_cents: int, payer_openid: str, expires_at: datetime
    ) -> str:
        """A JSAPI (mini-program) prepay order; returns its prepay_id."""
        ...

    def payment_request(self, prepay_id: str) -> PaymentRequest: ...

    async def query(self, out_trade_no: str) -> Transaction | None:
        """The order's state at WeChat Pay, or None when WeChat Pay does not know it."""
        ...

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid order; PaymentRefused(code="ORDERPAID") when it was paid meanwhile."""
        ...

    async def refund(
        self, *, out_trade_no: str, out_refund_no: str, reason: str, refund_cents: int, total_cents: int
    ) -> Refund:
        """Request a refund; the same out_refund_no always means the same refund."""
        ...

    async def query_refund(self, out_refund_no: str) -> Refund | None: ...

    def read_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify and decrypt a notification, or raise NotificationRejected."""
        ...
