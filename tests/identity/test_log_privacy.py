"""No full ID or mobile number in any log line, whatever the request did."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest
from identity_support import ADD, ADULT, CHILD, gql, patient_login, profile_input

import log_privacy
from datasources.identity import profiles as profile_store

FULL_ID = re.compile(r"(?<![0-9])[1-8][0-9]{16}[0-9Xx](?![0-9])")
FULL_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4}(?![0-9])")


def _leaks(text: str) -> list[str]:
    return FULL_ID.findall(text) + FULL_MOBILE.findall(text)


async def test_profile_flows_log_no_full_numbers(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    token = await patient_login(http, "privacy-logs")
    await gql(http, ADD, {"input": profile_input()}, token)
    await gql(http, ADD, {"input": profile_input()}, token)  # duplicate
    await gql(http, ADD, {"input": profile_input(ADULT[:-1] + "0")}, token)  # bad checksum
    await gql(http, ADD, {"input": profile_input(CHILD, mobile="12812345678")}, token)  # bad mobile

    # an unexpected failure whose message quotes the input must still not leak it
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError(f"storage refused {CHILD} / 13912345678")

    monkeypatch.setattr(profile_store, "add_profile", broken)
    body = await gql(http, ADD, {"input": profile_input(CHILD, name="王小红")}, token)
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert CHILD not in str(body)

    text = "\n".join(caplog.handler.format(record) for record in caplog.records)
    assert "storage refused" in text, "the unexpected error was logged"
    assert _leaks(text) == [], text


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("id 11010519491231002X here", "id 110105********002X here"),
        ("call 13812345678 now", "call 138****5678 now"),
        ("call +86 138-1234-5678", "call 138****5678"),
        ("order 20261127000012345678 stays", "order 20261127000012345678 stays"),
    ],
)
def test_the_filter_masks_numbers_in_messages(message: str, expected: str) -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "%s", (message,), None)
    log_privacy.MaskPersonalData().filter(record)
    assert record.getMessage() == expected
