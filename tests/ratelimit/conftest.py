"""Fixtures of the rate-limit tests."""

from __future__ import annotations

import pytest
from ratelimit_support import LimitedAppFactory, limited_app_factory

from settings import Settings


@pytest.fixture
def limited_app(settings: Settings) -> LimitedAppFactory:
    """`async with limited_app(**settings) as limited:` an app of its own with the default limits."""
    return limited_app_factory(settings)
