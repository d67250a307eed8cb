"""The alias limit (and with it every added validation rule) still applies with parsing and
validation cached, request after request."""

from __future__ import annotations

from typing import Any

from settings import Settings


async def test_limits_hold_every_time(client: Any, settings: Settings) -> None:
    aliases = "{ " + " ".join(f"a{i}: visitGuide {{ step }}" for i in range(settings.query_max_aliases + 1)) + " }"
    for _ in range(3):  # the second and third answers come from the caches
        many = await client.execute(aliases)
        assert many.get("errors") and many["errors"][0]["extensions"]["limit"] == "aliases", many
        fine = await client.query("{ visitGuide { step } }")
        assert len(fine["visitGuide"]) == 8
