"""Apps with the real default rate limits (the shared test settings raise them), each with its own
buckets and a clock the test moves."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from identity_support import Clock
from starlette.applications import Starlette

from app import create_app
from settings import Settings
from support import ANCHOR, HIGH_RATE_LIMITS

# The defaults, as documented (and not read from the code under test).
DEFAULTS: dict[str, Any] = {
    "rate_limit_address_requests": 600,
    "rate_limit_address_window_seconds": 60,
    "rate_limit_account_requests": 300,
    "rate_limit_account_window_seconds": 60,
    "rate_limit_login_requests": 10,
    "rate_limit_login_window_seconds": 300,
    "rate_limit_payment_requests": 20,
    "rate_limit_payment_window_seconds": 300,
}
assert set(HIGH_RATE_LIMITS) <= set(DEFAULTS)


@dataclass
class LimitedApp:
    app: Starlette
    clock: Clock

    def client(self, address: str = "203.0.113.7") -> httpx.AsyncClient:
        """An HTTP client whose requests come from `address` (the socket peer)."""
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")


LimitedAppFactory = Callable[..., AbstractAsyncContextManager[LimitedApp]]


def limited_app_factory(settings: Settings) -> LimitedAppFactory:
    @asynccontextmanager
    async def build(**overrides: Any) -> AsyncIterator[LimitedApp]:
        values = {**DEFAULTS, "redis_key_prefix": f"{settings.redis_key_prefix}rl-{uuid.uuid4().hex[:8]}:"}
        clock = Clock(ANCHOR)
        application = create_app(settings.model_copy(update={**values, **overrides}), clock=clock)
        async with application.router.lifespan_context(application):
            yield LimitedApp(application, clock)

    return build
