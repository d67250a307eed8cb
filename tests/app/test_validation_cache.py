"""The alias limit (and with it every added validation rule) still applies with parsing and
validation cached, request after request."""

from __future__ import annotations

from typing import Any

from schema import _LIMITS

ALIASES = "{ " + " ".join(f"a{i}: visitGuide {{ step }}" for i in range(31)) + " }"


async def test_limits_hold_every_time(client: Any) -> None:
    assert len(_LIMITS) == 2  # depth and aliases
    for _ in range(3):  # the second and third answers come from the caches
        many = await client.execute(ALIASES)
        assert many.get("errors") and "aliases" in many["errors"][0]["message"].lower(), many
        fine = await client.query("{ visitGuide { step } }")
        assert len(fine["visitGuide"]) == 8
