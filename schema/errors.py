"""Error codes clients can rely on, and masking of everything unexpected."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

logger = logging.getLogger("hospital_bff.errors")


class ErrorCode(StrEnum):
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"  # the order's state does not allow this now
    NOT_ELIGIBLE = "NOT_ELIGIBLE"  # the patient may not use this service (e.g. no recent offline visit)
    CONFLICT = "CONFLICT"  # done already, or changed by someone else at the same moment
    UNAVAILABLE = "UNAVAILABLE"  # an outside system (HIS, WeChat Pay) cannot answer now; try again later


class ClientError(GraphQLError):
    """An error caused by the request; its message and code reach the client as they are."""

    def __init__(self, message: str, code: ErrorCode, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code.value, **extensions})


class BadInput(ClientError):
    def __init__(self, message: str, *, argument: str | None = None) -> None:
        extra = {"argument": argument} if argument else {}
        super().__init__(message, ErrorCode.BAD_USER_INPUT, **extra)


def _is_unexpected(error: GraphQLError) -> bool:
    # Errors without an original exception come from parsing and validation: they describe the
    # request and are safe to show. Our own ClientErrors are safe by construction.
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Clients see a request id instead of internals; the log keeps the trace under that id."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected, error_message="Internal server error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        logger.error(
            "unexpected error in %s at %s (request %s)",
            self.execution_context.operation_name or "anonymous operation",
            ".".join(str(p) for p in error.path or ()),
            request_id,
            exc_info=error.original_error,
        )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": ErrorCode.INTERNAL_SERVER_ERROR.value, "requestId": request_id}
        return masked
