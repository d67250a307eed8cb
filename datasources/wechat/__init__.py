"""WeChat mini-program login (code2Session): the client, and a sandbox that answers like WeChat."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datasources.wechat.client import (
    RedactQuerySecrets,
    WeChatClient,
    WeChatErrcode,
    WeChatLoginError,
    WeChatSession,
)

if TYPE_CHECKING:
    from datasources.wechat.sandbox import create_sandbox, sandbox_transport

__all__ = [
    "RedactQuerySecrets",
    "WeChatClient",
    "WeChatErrcode",
    "WeChatLoginError",
    "WeChatSession",
    "create_sandbox",
    "sandbox_transport",
]


def __getattr__(name: str) -> object:
    # The sandbox is imported on first use only: production never loads it, and
    # `python -m datasources.wechat.sandbox` does not find it already imported (runpy warns then).
    if name in ("create_sandbox", "sandbox_transport"):
        from datasources.wechat import sandbox

        return getattr(sandbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
