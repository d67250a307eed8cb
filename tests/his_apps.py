"""Apps of their own for HIS tests: a movable clock, a cache of their own, fast time-outs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from identity_support import Clock
from starlette.applications import Starlette

from app import create_app
from datasources.his.service import HisService
from datasources.his.simulator import HisSimulator
from settings import Settings
from support import ANCHOR


@dataclass
class HisApp:
    app: Starlette
    http: httpx.AsyncClient
    clock: Clock

    @property
    def simulator(self) -> HisSimulator:
        simulator = self.app.state.resources.his_simulator
        assert simulator is not None
        return simulator

    @property
    def his(self) -> HisService:
        service: HisService = self.app.state.resources.his
        return service

    async def settle(self) -> None:
        """Wait for the background refreshes and cache writes still running (no sleeping)."""
        service = self.his
        while service._inflight or service._background:
            await asyncio.gather(*service._inflight.values(), *service._background, return_exceptions=True)


HisAppFactory = Callable[..., Any]


@pytest.fixture
def his_app(settings: Settings) -> HisAppFactory:
    """`async with his_app(**settings overrides) as h:` an app on the test database with its own cache keys."""

    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[HisApp]:
        values = {
            "redis_key_prefix": f"{settings.redis_key_prefix}{uuid.uuid4().hex[:8]}:",
            "his_attempt_timeout_ms": 1000,
            "his_deadline_ms": 2000,
            "his_retry_backoff_ms": 0,
            "his_stale_wait_ms": 2000,  # generous: tests of a slow HIS set their own
            **overrides,
        }
        clock = Clock(ANCHOR)
        application = create_app(settings.model_copy(update=values), clock=clock)
        async with (
            application.router.lifespan_context(application),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver") as http,
        ):
            yield HisApp(application, http, clock)

    return make
