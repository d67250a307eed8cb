"""Building the payments client from the settings: WeChat Pay itself, or the in-process sandbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from datasources.payments import crypto
from datasources.payments.sandbox import (
    SANDBOX_BASE_URL,
    SANDBOX_MERCHANT_SERIAL,
    WeChatPaySandbox,
    sandbox_merchant_key,
)
from datasources.payments.wechatpay import WeChatPay
from settings import ConfigurationError, Settings


@dataclass
class PaymentsSetup:
    base_url: str
    sandbox: WeChatPaySandbox | None
    mounts: dict[str, httpx.AsyncBaseTransport] = field(default_factory=dict)


def _merchant_key(settings: Settings) -> tuple[rsa.RSAPrivateKey, str] | None:
    if settings.wechatpay_merchant_private_key is None:
        return None
    try:
        key = crypto.load_private_key(settings.wechatpay_merchant_private_key.get_secret_value())
    except crypto.KeyProblem as problem:
        raise ConfigurationError(f"Invalid configuration:\n  WECHATPAY_MERCHANT_PRIVATE_KEY: {problem}") from None
    return key, settings.wechatpay_merchant_serial or SANDBOX_MERCHANT_SERIAL


def plan_payments(settings: Settings, clock: Callable[[], datetime]) -> PaymentsSetup:
    """Without WECHATPAY_BASE_URL, a sandbox answers in-process (mounted on the shared HTTP client)."""
    if settings.wechatpay_base_url:
        return PaymentsSetup(base_url=settings.wechatpay_base_url, sandbox=None)
    key, serial = _merchant_key(settings) or (sandbox_merchant_key(), SANDBOX_MERCHANT_SERIAL)
    sandbox = WeChatPaySandbox(
        mch_id=settings.wechatpay_mch_id,
        app_id=settings.payments_app_id,
        api_v3_key=settings.wechatpay_api_v3_key.get_secret_value().encode(),
        merchant_keys={serial: key.public_key()},
        clock=clock,
    )
    return PaymentsSetup(base_url=SANDBOX_BASE_URL, sandbox=sandbox, mounts={SANDBOX_BASE_URL: sandbox.transport()})


def _platform_keys(settings: Settings) -> dict[str, rsa.RSAPublicKey]:
    keys: dict[str, rsa.RSAPublicKey] = {}
    try:
        if settings.wechatpay_platform_certificates:
            keys |= crypto.load_certificates(settings.wechatpay_platform_certificates)
        if settings.wechatpay_public_key and settings.wechatpay_public_key_id:
            keys[settings.wechatpay_public_key_id] = crypto.load_public_key(settings.wechatpay_public_key)
    except crypto.KeyProblem as problem:
        raise ConfigurationError(f"Invalid configuration:\n  WECHATPAY_PLATFORM_CERTIFICATES: {problem}") from None
    return keys


def build_payments(
    settings: Settings, plan: PaymentsSetup, *, http: httpx.AsyncClient, clock: Callable[[], datetime]
) -> WeChatPay:
    sandbox = plan.sandbox
    if sandbox is not None:
        key, serial = _merchant_key(settings) or (sandbox_merchant_key(), SANDBOX_MERCHANT_SERIAL)
        platform_keys = {sandbox.serial: sandbox.platform_key.public_key()}
    else:
        found = _merchant_key(settings)
        if found is None:
            raise ConfigurationError(
                "Invalid configuration:\n  WECHATPAY_MERCHANT_PRIVATE_KEY: required with WECHATPAY_BASE_URL"
            )
        key, serial = found
        platform_keys = _platform_keys(settings)
        if not platform_keys:
            raise ConfigurationError(
                "Invalid configuration:\n  WECHATPAY_PLATFORM_CERTIFICATES: required with WECHATPAY_BASE_URL"
            )
    return WeChatPay(
        http,
        base_url=plan.base_url,
        mch_id=settings.wechatpay_mch_id,
        app_id=settings.payments_app_id,
        api_v3_key=settings.wechatpay_api_v3_key.get_secret_value().encode(),
        merchant_key=key,
        merchant_serial=serial,
        platform_keys=platform_keys,
        notify_url=settings.wechatpay_notify_url,
        refund_notify_url=settings.wechatpay_refund_notify_url,
        clock=clock,
    )
