"""Constants and helpers the tests share (imported as `support`)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

# The demo history ends here; the app under test sees this instant as "now".
ANCHOR = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)
TEST_SCALE = 0.05  # 5,000 consults: enough for every statistic, quick to seed

# Settings overrides under which no test is throttled (see tests/ratelimit for the limits themselves).
HIGH_RATE_LIMITS: dict[str, Any] = {
    "rate_limit_address_requests": 1_000_000,
    "rate_limit_account_requests": 1_000_000,
    "rate_limit_login_requests": 10_000,
    "rate_limit_payment_requests": 10_000,
}

# Everything ENV=prod needs (besides ENV itself); a test leaves out or changes what it is about.
PRODUCTION_ENV = {
    "SESSION_SECRET": "a-production-secret-of-enough-length-42",
    "DATA_ENCRYPTION_KEY": base64.b64encode(bytes(range(32))).decode(),
    "WECHAT_API_BASE_URL": "https://api.weixin.qq.com",
    "WECHATPAY_BASE_URL": "https://api.mch.weixin.qq.com",
    "WECHATPAY_MCH_ID": "1230000109",
    "WECHATPAY_API_V3_KEY": "a-production-apiv3-key-32-bytes!",
    "WECHATPAY_MERCHANT_PRIVATE_KEY": "/run/secrets/apiclient_key.pem",
    "WECHATPAY_MERCHANT_SERIAL": "444F4864EA9B34415A3C4ED3B2EE4E2DB3B4FEBA",
    "WECHATPAY_PLATFORM_CERTIFICATES": "/run/secrets/wechatpay_platform.pem",
    "WECHATPAY_NOTIFY_URL": "https://bff.hospital.example/payments/wechat/notify",
    "WECHATPAY_REFUND_NOTIFY_URL": "https://bff.hospital.example/payments/wechat/refund-notify",
    "VIDEO_LINK_SECRET": "a-production-video-link-secret-of-42-chars",
    "VIDEO_PROVIDER_BASE_URL": "https://video.partner.example/join",
}


def parse_time(value: Any) -> datetime | None:
    """Timestamps read with plain SQL: aware datetimes (PostgreSQL) or naive UTC text (SQLite)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def drop_redis_keys(url: str, prefix: str) -> None:
    """Delete every key under `prefix` (a test's own) on the Redis at `url`."""
    client = Redis.from_url(url)
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
