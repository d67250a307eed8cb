"""Fixtures of the consult tests: an app whose clock the test moves (for payment windows, response
deadlines and meetings), sharing the session's database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from identity_support import Clock, ClockedApp

from app import create_app
from settings import Settings
from support import ANCHOR


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[ClockedApp]:
    clock = Clock(ANCHOR)
    application = create_app(settings, clock=clock)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver") as http,
    ):
        yield ClockedApp(application, http, clock)
