"""An app with the response cache on, for the tests of the cache itself."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from app import create_app
from settings import Settings
from support import ANCHOR


@asynccontextmanager
async def app_with_response_cache(settings: Settings) -> AsyncIterator[Starlette]:
    """An app on the suite's database with the response cache on and cache keys of its own (the
    suite's shared app runs with the cache off, so that no test reads another test's answer)."""
    cached = settings.model_copy(
        update={
            "response_cache_enabled": True,
            "redis_key_prefix": f"{settings.redis_key_prefix}rc-{uuid.uuid4().hex[:6]}:",
        }
    )
    application = create_app(cached, clock=lambda: ANCHOR)
    async with application.router.lifespan_context(application):
        yield application
