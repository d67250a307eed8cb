"""Fixtures of the observability tests."""

from __future__ import annotations

import pytest
from ratelimit_support import LimitedAppFactory, limited_app_factory

from settings import Settings


@pytest.fixture
def own_app(settings: Settings) -> LimitedAppFactory:
    """`async with own_app(**settings) as built:` an app of its own (default rate limits)."""
    return limited_app_factory(settings)
