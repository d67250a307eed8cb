"""Constants and helpers the tests share (imported as `support`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# The demo history ends here; the app under test sees this instant as "now".
ANCHOR = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)
TEST_SCALE = 0.05  # 5,000 consults: enough for every statistic, quick to seed


def parse_time(value: Any) -> datetime | None:
    """Timestamps read with plain SQL: aware datetimes (PostgreSQL) or naive UTC text (SQLite)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
