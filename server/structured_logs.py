"""Structured logs: the request id and GraphQL operation name of whatever is being served, kept in
context variables, and a formatter writing one JSON object per line (LOG_FORMAT=json).

The JSON formatter sits behind log_privacy's filters like the text one, and scrubs once more what it
writes itself, so that a record never reaches the output unmasked whichever handler carries it.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

from log_privacy import scrub

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
operation_name_var: ContextVar[str | None] = ContextVar("operation_name", default=None)


class JsonFormatter(logging.Formatter):
    """{"timestamp", "level", "logger", "message", "request_id", "operation", "exception"} on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "request_id": request_id_var.get(),
            "operation": _scrubbed(operation_name_var.get()),
        }
        if record.exc_info and record.exc_info[1] is not None:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:  # already rendered (and masked) by log_privacy.MaskPersonalData
            entry["exception"] = scrub(record.exc_text)
        if record.stack_info:
            entry["stack"] = scrub(self.formatStack(record.stack_info))
        return orjson.dumps(entry).decode()


class TextFormatter(logging.Formatter):
    """The development format, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = request_id_var.get()
        record.request = f" [{request_id}]" if request_id else ""
        return super().format(record)


def _scrubbed(value: str | None) -> str | None:
    # Operation names come from clients and could carry anything.
    return None if value is None else scrub(value)


def formatter(json_lines: bool) -> logging.Formatter:
    return JsonFormatter() if json_lines else TextFormatter()
