"""Error codes clients can rely on, and masking of everything unexpected."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

from datasources.cache import CacheUnavailable
from datasources.db.engine import database_unreachable

logger = logging.getLogger("hospital_bff.errors")


class ErrorCode(StrEnum):
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    CONSENT_REQUIRED = "CONSENT_REQUIRED"
    HIS_NOT_LINKED = "HIS_NOT_LINKED"
    HIS_UNAVAILABLE = "HIS_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"  # the order's state does not allow this now
    NOT_ELIGIBLE = "NOT_ELIGIBLE"  # the patient may not use this service (e.g. no recent offline visit)
    CONFLICT = "CONFLICT"  # done already, or changed by someone else at the same moment; try again shortly
    UNAVAILABLE = "UNAVAILABLE"  # HIS, WeChat Pay, database or Redis cannot answer now; try again later
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"  # refused before execution: over a query limit (`extensions.limit`)
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"  # unknown hash: send the document with its hash once
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"  # persisted queries are turned off
    OPERATION_NOT_TRUSTED = "OPERATION_NOT_TRUSTED"  # not one of the mini-program's trusted documents
    CSRF_PREVENTED = "CSRF_PREVENTED"  # a GET or simple POST without a header a browser form cannot send
    RATE_LIMITED = "RATE_LIMITED"  # too many requests from this address or account; wait extensions.retryAfter
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"  # the document is not GraphQL
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"  # it does not fit the schema, nor its variables


# Registered here, next to the codes, so that every module using them gets the same GraphQL enum.
strawberry.enum(
    ErrorCode,
    description="Machine-readable error codes, the same in `extensions.code` and in typed mutation errors. "
    "CONFLICT: done already, or someone else is changing the same thing right now; try again shortly. "
    "ILLEGAL_TRANSITION: the consult order's state does not allow this now. "
    "NOT_ELIGIBLE: the patient may not use the service (e.g. no recent offline visit in the department). "
    "UNAVAILABLE: the HIS, WeChat Pay, the database or the session store (Redis) cannot answer now; try again "
    "later. "
    "RATE_LIMITED: too many requests from this address or account (stricter for sign-in and payment); "
    "retry after `extensions.retryAfter` seconds (HTTP 429 with Retry-After). "
    "QUERY_TOO_COMPLEX: the document (or batch) is over a query limit (nothing ran); `extensions.limit` names "
    "which: depth, aliases, tokens, directives, rootFields, listSize or batch. "
    "CONSENT_REQUIRED: the profile's health-data consent is missing (ask for it with giveHealthDataConsent); "
    "HIS_NOT_LINKED: the profile is not (or not verifiably) linked to a patient of the hospital's HIS; "
    "HIS_UNAVAILABLE: the HIS did not answer in time (data, if any, is the last known, see `stale` and `asOf`). "
    "PERSISTED_QUERY_NOT_FOUND: the server does not know the document's hash; send the document with the hash once. "
    "PERSISTED_QUERY_NOT_SUPPORTED: automatic persisted queries are turned off; send the document. "
    "OPERATION_NOT_TRUSTED: only the mini-program's trusted documents run on this server. "
    "CSRF_PREVENTED: a GET, or a POST with a simple content type, needs an `Apollo-Require-Preflight` or "
    "`X-Apollo-Operation-Name` header. "
    "GRAPHQL_PARSE_FAILED: the document is not valid GraphQL syntax (nothing ran). "
    "GRAPHQL_VALIDATION_FAILED: the document does not fit the schema, or the variables do not fit the document "
    "(nothing ran).",
)


class ClientError(GraphQLError):
    """An error caused by the request; its message and code reach the client as they are."""

    def __init__(self, message: str, code: ErrorCode, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code.value, **extensions})


class BadInput(ClientError):
    def __init__(self, message: str, *, argument: str | None = None) -> None:
        extra = {"argument": argument} if argument else {}
        super().__init__(message, ErrorCode.BAD_USER_INPUT, **extra)


UNAVAILABLE_MESSAGE = "服务暂时不可用，请稍后再试 (the service is temporarily unavailable; try again later)"


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
        original = error.original_error
        if original is not None and (isinstance(original, CacheUnavailable) or database_unreachable(original)):
            # An outage, not a bug: the client may retry, and the log needs no trace per request.
            logger.warning(
                "%s unavailable in %s at %s (request %s): %s",
                "cache" if isinstance(original, CacheUnavailable) else "database",
                self.execution_context.operation_name or "anonymous operation",
                ".".join(str(p) for p in error.path or ()),
                request_id,
                type(original).__name__,
            )
            return GraphQLError(
                UNAVAILABLE_MESSAGE,
                nodes=error.nodes,
                path=error.path,
                extensions={"code": ErrorCode.UNAVAILABLE.value, "requestId": request_id},
            )
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


class ReportStaleUpstreams(SchemaExtension):
    """Data served from the cache because the HIS did not answer comes with an error that says so:
    `extensions.code` HIS_UNAVAILABLE, `stale: true` and `asOf`, at the path of that data."""

    def on_operation(self) -> Iterator[None]:
        yield
        notes = getattr(self.execution_context.context, "upstream_notes", None)
        result = self.execution_context.result
        if not notes or result is None or not hasattr(result, "errors"):
            return
        errors = list(result.errors or [])
        for note in notes:
            errors.append(
                GraphQLError(
                    "医院信息系统暂时无法访问，显示的是最近一次获取的数据 (the hospital information system is not "
                    "answering; this is the last known data)",
                    path=note.path,
                    extensions={
                        "code": ErrorCode.HIS_UNAVAILABLE.value,
                        "stale": True,
                        "asOf": note.as_of.isoformat(),
                    },
                )
            )
        result.errors = errors
