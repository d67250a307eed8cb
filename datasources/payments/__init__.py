"""Payments: the port, WeChat Pay API v3 behind it, and a sandbox that signs and encrypts like WeChat Pay."""

from datasources.payments.port import (
    Notification,
    NotificationKind,
    NotificationRejected,
    PaymentRefused,
    PaymentRequest,
    PaymentsPort,
    PaymentUnavailable,
    Refund,
    Rejection,
    Transaction,
)
from datasources.payments.setup import PaymentsSetup, build_payments, plan_payments
from datasources.payments.wechatpay import WeChatPay

__all__ = [
    "Notification",
    "NotificationKind",
    "NotificationRejected",
    "PaymentRefused",
    "PaymentRequest",
    "PaymentUnavailable",
    "PaymentsPort",
    "PaymentsSetup",
    "Refund",
    "Rejection",
    "Transaction",
    "WeChatPay",
    "build_payments",
    "plan_payments",
]
