"""The typed per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry
from starlette.requests import Request

from datasources.cache import Cache
from datasources.consults.service import ConsultOrders
from datasources.db.engine import Sessions
from datasources.his.resilience import Deadline
from datasources.his.service import HisService
from datasources.identity.field_crypto import FieldCipher
from datasources.identity.tokens import SessionTokens
from datasources.identity.viewer import Viewer
from datasources.payments.sandbox import WeChatPaySandbox
from datasources.rate_limits import RateLimiter
from datasources.response_cache import ResponseCache
from datasources.signed_links import AttachmentLinks
from datasources.wechat import WeChatClient
from loaders import Loaders
from settings import Settings

if TYPE_CHECKING:
    from schema.cache_control import CachePolicy


@dataclass
class Context:
    request: Request
    request_id: str
    client_address: str | None
    now: datetime  # one instant for the whole request, so every window agrees
    settings: Settings
    viewer: Viewer
    db: Sessions
    cache: Cache
    loaders: Loaders
    tokens: SessionTokens
    cipher: FieldCipher
    wechat: WeChatClient
    his: HisService
    his_deadline: Deadline  # one budget for every HIS call of the request
    attachment_links: AttachmentLinks
    consults: ConsultOrders
    pay_sandbox: WeChatPaySandbox | None  # present when payments go to the in-process sandbox
    # HIS answers served stale; each becomes a HIS_UNAVAILABLE error next to the data.
    upstream_notes: list[UpstreamNote] = field(default_factory=list)
    rate_limiter: RateLimiter | None = None  # per-account, sign-in and payment limits (None: off)
    # Set after execution by CacheControlExtension; None = not cacheable.
    cache_policy: CachePolicy | None = None
    response_cache: ResponseCache | None = None  # to invalidate what admin mutations change


@dataclass(frozen=True)
class UpstreamNote:
    path: list[str | int]
    as_of: datetime
    problem: str | None


Info = strawberry.Info[Context, None]
