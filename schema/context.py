"""The typed per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import strawberry
from starlette.requests import Request

from datasources.cache import Cache
from datasources.db.engine import Sessions
from loaders import Loaders
from settings import Settings


@dataclass
class Context:
    request: Request
    request_id: str
    now: datetime  # one instant for the whole request, so every window agrees
    settings: Settings
    db: Sessions
    cache: Cache
    loaders: Loaders


Info = strawberry.Info[Context, None]
