"""Rate limits that need GraphQL: per signed-in account, and the stricter sign-in and payment buckets,
decided from the operation's root fields before anything is executed."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from datasources.rate_limits import Decision, Limit, RateLimiter, rate_limit_rules
from schema.errors import ClientError, ErrorCode
from server.metrics import RATE_LIMIT_FAILURES, RATE_LIMIT_REJECTIONS
from server.rate_limit import rate_limited_message

logger = logging.getLogger("hospital_bff.rate_limits")

# Every mutation that signs someone in (a guessed code or password each time).
LOGIN_FIELDS = frozenset({"login", "staffLogin", "devLogin"})
# Every mutation that creates or pays an order, or moves money back (refunds).
PAYMENT_FIELDS = frozenset(
    {
        "createConsultOrder",
        "requestConsultPayment",
        "syncConsultPayment",
        "devPayConsultOrder",
        "cancelConsultOrder",
        "refundConsultOrder",
    }
)


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name is not None and op.name.value == name), None)


def root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> Iterator[str]:
    """The root field names of the operation, once per occurrence (aliases and fragments included)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    seen: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> Iterator[str]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection.name.value
            elif isinstance(selection, InlineFragmentNode):
                yield from walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None and fragment.name.value not in seen:  # validation rejects cycles anyway
                    seen.add(fragment.name.value)
                    yield from walk(fragment.selection_set)

    yield from walk(operation.selection_set)


class RateLimitOperations(SchemaExtension):
    """Counts the operation against the viewer's account and, for sign-in and payment fields, against the
    stricter buckets (each field once: aliases do not multiply attempts for free). Over a limit, nothing
    runs and the result is one RATE_LIMITED error with `retryAfter`."""

    async def on_execute(self) -> AsyncIterator[None]:
        refusal = await self._check()
        if refusal is not None:
            bucket, decision = refusal
            RATE_LIMIT_REJECTIONS.labels(bucket).inc()
            logger.info("rate limited: %s bucket, retry after %d s", bucket, decision.retry_after)
            error = ClientError(
                rate_limited_message(decision.retry_after), ErrorCode.RATE_LIMITED, retryAfter=decision.retry_after
            )
            # A result set before execution is what strawberry returns instead of executing.
            self.execution_context.result = ExecutionResult(data=None, errors=[error])
        yield

    async def _check(self) -> tuple[str, Decision] | None:
        context = self.execution_context.context
        limiter: RateLimiter | None = getattr(context, "rate_limiter", None)
        document = self.execution_context.graphql_document
        if limiter is None or document is None or not context.settings.rate_limits_enabled:
            return None
        operation = _operation(document, self.execution_context.operation_name)
        if operation is None:
            return None
        rules = rate_limit_rules(context.settings)
        viewer = context.viewer
        account = None if viewer.account_id is None else f"{viewer.kind.value.lower()}:{viewer.account_id}"
        address = context.client_address or "unknown"
        checks: list[tuple[Limit, str, int]] = []
        if account is not None:
            checks.append((rules.account, account, 1))
        if operation.operation is OperationType.MUTATION:
            fields = Counter(root_fields(document, operation))
            logins = sum(fields[name] for name in LOGIN_FIELDS)
            payments = sum(fields[name] for name in PAYMENT_FIELDS)
            if logins:
                checks.append((rules.login, address, logins))
            if payments:
                checks.append((rules.payment, account or f"address:{address}", payments))
        refused: tuple[str, Decision] | None = None
        for limit, key, cost in checks:
            decision = await limiter.hit(limit, key, cost=cost)
            if decision.failed_open:
                RATE_LIMIT_FAILURES.labels(limit.name).inc()
            if not decision.allowed and (refused is None or decision.retry_after > refused[1].retry_after):
                refused = (limit.name, decision)
        return refused
