"""Per-operation metrics and log context: latency by operation name, errors by code, and the operation
name in every log line written while the operation runs."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from schema.errors import ErrorCode
from server.metrics import GRAPHQL_DURATION, GRAPHQL_ERRORS, error_codes, operation_label
from server.structured_logs import operation_name_var

_KNOWN_CODES = frozenset(code.value for code in ErrorCode)


def code_label(code: str) -> str:
    """Codes outside the schema's enum (anything a client could make up) count as OTHER."""
    return code if code in _KNOWN_CODES or code == "NONE" else "OTHER"


class ObserveOperations(SchemaExtension):
    """First in the schema's extension list, so that it sees each result last: after masking and after
    the HIS_UNAVAILABLE notes were added."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        token = operation_name_var.set(self.execution_context.operation_name)
        try:
            yield
        finally:
            operation_name_var.reset(token)
            context = self.execution_context
            try:
                kind = context.operation_type.value
            except Exception:  # no document: it did not parse
                kind = "unknown"
            name = operation_label(context.operation_name if context.graphql_document is not None else None)
            GRAPHQL_DURATION.labels(name, kind).observe(time.perf_counter() - started)
            result = context.result
            for code in error_codes(getattr(result, "errors", None) or ()):
                GRAPHQL_ERRORS.labels(code_label(code)).inc()

    def on_execute(self) -> Iterator[None]:
        # Parsed by now: an operation chosen without operationName has its name from the document.
        token = operation_name_var.set(self.execution_context.operation_name)
        try:
            yield
        finally:
            operation_name_var.reset(token)
