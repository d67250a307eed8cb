"""An app with other settings than the session's (production mode, CSRF off, CORS, trusted documents)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from app import create_app
from settings import Environment, Settings
from support import ANCHOR

AppFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def app_with(settings: Settings) -> AppFactory:
    @asynccontextmanager
    async def build(**changes: Any) -> AsyncIterator[httpx.AsyncClient]:
        if changes.get("env") is Environment.PROD:
            changes.setdefault("wechat_api_base_url", "http://127.0.0.1:9")
        application = create_app(settings.model_copy(update=changes), clock=lambda: ANCHOR)
        async with (
            application.router.lifespan_context(application),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver") as http,
        ):
            yield http

    return build
