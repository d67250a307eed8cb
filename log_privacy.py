"""Logging set-up that keeps personal data and secrets out of every log line.

Code never logs ID numbers, phone numbers or secrets on purpose; these filters are the second line
of defence for what slips through (an exception message quoting input, a URL with a query string).
"""

from __future__ import annotations

import logging
import re

from datasources.wechat import RedactQuerySecrets
from domain.identity import mask_mobile, mask_resident_id

# An 18-character resident ID number, or an 11-digit mainland mobile number, standing alone.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])[1-8][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9])")


def scrub(text: str) -> str:
    text = _RESIDENT_ID.sub(lambda m: mask_resident_id(m.group()), text)
    return _MOBILE.sub(lambda m: mask_mobile(m.group()), text)


class MaskPersonalData(logging.Filter):
    """Masks resident ID and mobile numbers in the fully formatted message (and any traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # The traceback is rendered later by the formatter; render it now, masked.
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure(formatter: logging.Formatter | None = None) -> None:
    """Give the application's loggers a handler (uvicorn only sets up its own) and filter them all.

    With `formatter` (e.g. JSON lines), uvicorn's own handlers write in that format too.
    """
    root = logging.getLogger()
    if not root.handlers:
        console = logging.StreamHandler()
        console.setFormatter(formatter or logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(console)
        root.setLevel(logging.INFO)
    install()
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if formatter is not None:
                handler.setFormatter(formatter)
            install(handler)


def install(handler: logging.Handler | None = None) -> None:
    """Attach the filters to `handler` (default: every handler of the root logger)."""
    handlers = [handler] if handler else logging.getLogger().handlers
    for target in handlers:
        if not any(isinstance(f, MaskPersonalData) for f in target.filters):
            target.addFilter(RedactQuerySecrets())
            target.addFilter(MaskPersonalData())
    # httpx logs each request line with its full URL at INFO; WeChat's API takes secrets in the query.
    logging.getLogger("httpx").setLevel(logging.WARNING)
