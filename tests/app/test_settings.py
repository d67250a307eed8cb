"""Configuration from the environment; a wrong value names the variable and stops start-up."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest

from settings import ROOT, ConfigurationError, load_settings


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
    monkeypatch.setenv("ENV", "prod")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/2")
    monkeypatch.setenv("SESSION_SECRET", "a-production-secret-of-enough-length-42")
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", base64.b64encode(bytes(range(32))).decode())
    monkeypatch.setenv("WECHAT_API_BASE_URL", "https://api.weixin.qq.com")
    settings = load_settings()
    assert (settings.port, settings.is_dev, settings.redis_url) == (9123, False, "redis://127.0.0.1:6379/2")
    assert settings.session_secret.get_secret_value() == "a-production-secret-of-enough-length-42"


@pytest.mark.parametrize("missing", ["SESSION_SECRET", "DATA_ENCRYPTION_KEY", "WECHAT_API_BASE_URL"])
def test_production_refuses_development_secrets(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    monkeypatch.setenv("ENV", "prod")
    values = {
        "SESSION_SECRET": "a-production-secret-of-enough-length-42",
        "DATA_ENCRYPTION_KEY": base64.b64encode(bytes(range(32))).decode(),
        "WECHAT_API_BASE_URL": "https://api.weixin.qq.com",
    }
    for name, value in values.items():
        if name != missing:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert missing in str(raised.value.code)
    assert "a-production-secret" not in str(raised.value.code)


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
    monkeypatch.setenv("ENV", env)
    monkeypatch.setenv("SESSION_SECRET", "a-production-secret-of-enough-length-42")
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", base64.b64encode(bytes(range(32))).decode())
    monkeypatch.setenv("WECHAT_API_BASE_URL", "https://api.weixin.qq.com")
    if seed_demo_data is None:
        monkeypatch.delenv("SEED_DEMO_DATA", raising=False)
    else:
        monkeypatch.setenv("SEED_DEMO_DATA", seed_demo_data)
    assert load_settings().seeds_demo_data is expected
