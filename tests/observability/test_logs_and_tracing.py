"""JSON log lines (request id and operation name from the request being served, personal data masked)
and the optional OpenTelemetry tracing."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import datetime

import pytest
from identity_support import LOGIN
from ratelimit_support import LimitedAppFactory

import log_privacy
from app import create_app
from schema import dev_schema, schema
from server.structured_logs import JsonFormatter
from settings import ConfigurationError, Settings, load_settings
from support import PRODUCTION_ENV


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the application logs, as the JSON handler of LOG_FORMAT=json writes it (privacy filters on)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log_privacy.install(handler)
    logger = logging.getLogger("hospital_bff")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_a_line_carries_the_request_id_and_operation_name(
    own_app: LimitedAppFactory, json_lines: io.StringIO
) -> None:
    async with own_app(rate_limit_login_requests=1) as built, built.client() as http:
        payload = {"query": LOGIN.replace("mutation(", "mutation SignIn("), "variables": {"code": "bad"}}
        await http.post("/graphql", json=payload, headers={"x-request-id": "req-first"})
        refused = await http.post("/graphql", json=payload, headers={"x-request-id": "req-obs-42"})
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    [line] = [line for line in lines(json_lines) if line["logger"] == "hospital_bff.rate_limits"]
    assert line["request_id"] == "req-obs-42"
    assert line["operation"] == "SignIn"
    assert line["level"] == "INFO"
    assert line["message"] == "rate limited: login bucket, retry after 300 s"
    assert datetime.fromisoformat(str(line["timestamp"])).utcoffset() is not None
    # outside any request, no id is claimed
    logging.getLogger("hospital_bff.test").info("between requests")
    assert lines(json_lines)[-1]["request_id"] is None


def test_id_and_mobile_numbers_come_out_masked(json_lines: io.StringIO) -> None:
    logger = logging.getLogger("hospital_bff.test")
    logger.warning("profile of 11010519491231002X, mobile 13812345678, rejected")
    try:
        raise ValueError("bad input 110105194912310029 / +86 139-8765-4321")
    except ValueError:
        logger.exception("while checking %s", "13912345678")
    first, second = lines(json_lines)
    assert first["message"] == "profile of 110105********002X, mobile 138****5678, rejected"
    assert second["message"] == "while checking 139****5678"
    trace = str(second["exception"])
    assert "Traceback" in trace and "ValueError" in trace
    for secret in ("11010519491231002X", "110105194912310029", "8765-4321", "13812345678", "13912345678"):
        assert secret not in json_lines.getvalue()


def test_json_in_prod_and_text_in_dev_unless_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(env="dev").logs_as_json is False
    assert load_settings(env="dev", log_format="json").logs_as_json is True
    for name, setting in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, setting)
    monkeypatch.setenv("ENV", "prod")
    assert load_settings().logs_as_json is True
    monkeypatch.setenv("LOG_FORMAT", "text")
    assert load_settings().logs_as_json is False
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigurationError, match="LOG_FORMAT"):
        load_settings()


def test_tracing_is_off_by_default() -> None:
    assert load_settings().otel_enabled is False
    names = {getattr(extension, "__name__", "") for extension in (*schema.extensions, *dev_schema.extensions)}
    assert "OpenTelemetryExtension" not in names


def test_tracing_without_the_packages_stops_start_up(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # as if the `otel` extra were not installed
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.setitem(sys.modules, "strawberry.extensions.tracing.opentelemetry", None)
    with pytest.raises(ConfigurationError, match=r"OTEL_ENABLED.*hospital-bff\[otel\]"):
        create_app(settings.model_copy(update={"otel_enabled": True}))
    assert "OpenTelemetryExtension" not in {getattr(e, "__name__", "") for e in schema.extensions}
