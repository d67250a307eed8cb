"""Configuration from the environment; a wrong value names the variable and stops start-up."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest

from settings import ROOT, ConfigurationError, load_settings
from support import PRODUCTION_ENV


def _production(monkeypatch: pytest.MonkeyPatch, *, without: str | None = None, **changes: str) -> None:
    monkeypatch.setenv("ENV", "prod")
    for name, value in (PRODUCTION_ENV | changes).items():
        if name == without:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("DATABASE_URL", "mysql://localhost/x"),
        ("REDIS_URL", "http://localhost"),
        ("ENV", "staging"),
        ("TIMEZONE", "Mars/Olympus"),
    ],
)
def test_a_wrong_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert variable in str(raised.value.code)


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/2")
    _production(monkeypatch)
    settings = load_settings()
    assert (settings.port, settings.is_dev, settings.redis_url) == (9123, False, "redis://127.0.0.1:6379/2")
    assert settings.session_secret.get_secret_value() == "a-production-secret-of-enough-length-42"


@pytest.mark.parametrize(
    "missing",
    [
        "SESSION_SECRET",
        "DATA_ENCRYPTION_KEY",
        "WECHAT_API_BASE_URL",
        "WECHATPAY_BASE_URL",
        "WECHATPAY_MCH_ID",
        "WECHATPAY_API_V3_KEY",
        "WECHATPAY_MERCHANT_PRIVATE_KEY",
        "WECHATPAY_MERCHANT_SERIAL",
        "WECHATPAY_PLATFORM_CERTIFICATES",
        "VIDEO_LINK_SECRET",
    ],
)
def test_production_refuses_development_secrets(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    _production(monkeypatch, without=missing)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert missing in str(raised.value.code)
    assert "a-production-secret" not in str(raised.value.code)
    assert "a-production-apiv3-key" not in str(raised.value.code)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WECHATPAY_NOTIFY_URL", "http://bff.hospital.example/payments/wechat/notify"),
        ("WECHATPAY_REFUND_NOTIFY_URL", "http://bff.hospital.example/payments/wechat/refund-notify"),
        ("VIDEO_PROVIDER_BASE_URL", "http://video.partner.example/join"),
        ("VIDEO_LINK_SECRET", "short"),
    ],
)
def test_production_refuses_plain_http_callbacks_and_weak_link_secrets(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    _production(monkeypatch, **{variable: value})
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert variable in str(raised.value.code)


def test_the_wechat_pay_public_key_may_replace_platform_certificates(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch, without="WECHATPAY_PLATFORM_CERTIFICATES")
    monkeypatch.setenv("WECHATPAY_PUBLIC_KEY_ID", "PUB_KEY_ID_0112340000000000000000000000000000")
    monkeypatch.setenv("WECHATPAY_PUBLIC_KEY", "/run/secrets/pub_key.pem")
    assert load_settings().wechatpay_public_key_id


def test_the_apiv3_key_must_be_32_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WECHATPAY_API_V3_KEY", "too-short")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert "WECHATPAY_API_V3_KEY" in str(raised.value.code)
    assert "too-short" not in str(raised.value.code)


def test_a_short_encryption_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", base64.b64encode(b"too short").decode())
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert "DATA_ENCRYPTION_KEY" in str(raised.value.code)


def test_the_server_refuses_to_start_with_a_wrong_value() -> None:
    env = {**os.environ, "PORT": "not-a-port", "DATABASE_URL": "postgresql+asyncpg://user:s3cret@db/x"}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "PORT" in done.stderr
    assert "s3cret" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("env", "seed_demo_data", "expected"),
    [("dev", None, True), ("prod", None, False), ("dev", "false", False), ("prod", "true", True)],
)
def test_demo_data_at_start_is_on_by_default_only_in_dev(
    monkeypatch: pytest.MonkeyPatch, env: str, seed_demo_data: str | None, expected: bool
) -> None:
    _production(monkeypatch)
    monkeypatch.setenv("ENV", env)
    if seed_demo_data is None:
        monkeypatch.delenv("SEED_DEMO_DATA", raising=False)
    else:
        monkeypatch.setenv("SEED_DEMO_DATA", seed_demo_data)
    assert load_settings().seeds_demo_data is expected
