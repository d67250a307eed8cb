"""Configuration from the environment; a wrong value names the variable and stops start-up."""

from __future__ import annotations

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
    settings = load_settings()
    assert (settings.port, settings.is_dev, settings.redis_url) == (9123, False, "redis://127.0.0.1:6379/2")


def test_the_server_refuses_to_start_with_a_wrong_value() -> None:
    env = {**os.environ, "PORT": "not-a-port", "DATABASE_URL": "postgresql+asyncpg://user:s3cret@db/x"}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "PORT" in done.stderr
    assert "s3cret" not in done.stderr + done.stdout
