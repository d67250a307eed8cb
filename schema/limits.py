"""Query limits in the manner of graphql-armor and Apollo Router, all checked before anything runs.

- tokens: graphql-core's parser stops at `max_tokens` (what strawberry's MaxTokensLimiter sets);
- depth: strawberry's QueryDepthLimiter measure (introspection fields do not count);
- aliases: strawberry's MaxAliasesLimiter count (aliases in fragments counted where spread);
- directives and root fields per operation (fragments counted where spread);
- list sizes: `first` / `last` arguments, literal or from variables, at most `page_size_max`.

The first five are graphql-core validation rules; the list sizes need the request's variables and
are checked in `QueryLimitsExtension` just before execution. Every refusal is an error with
`extensions.code` QUERY_TOO_COMPLEX and `extensions.limit` naming the limit; in production the
message does not tell the configured values, so that nobody learns how close they may go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import count_fields_with_alias
from strawberry.extensions.query_depth_limiter import determine_depth
from strawberry.extensions.utils import is_introspection_key
from strawberry.types import ExecutionResult

from schema.errors import ErrorCode
from settings import Settings

# Arguments that say how many items a list field returns.
SLICING_ARGUMENTS = frozenset({"first", "last"})


class Limit(StrEnum):
    """The value of `extensions.limit` in a QUERY_TOO_COMPLEX error."""

    DEPTH = "depth"
    ALIASES = "aliases"
    TOKENS = "tokens"
    DIRECTIVES = "directives"
    ROOT_FIELDS = "rootFields"
    LIST_SIZE = "listSize"


# What a client is told in production, where the configured values stay private.
_PRIVATE_MESSAGES = {
    Limit.DEPTH: "The query is nested too deeply.",
    Limit.ALIASES: "The query uses too many aliases.",
    Limit.TOKENS: "The query is too long.",
    Limit.DIRECTIVES: "The query uses too many directives.",
    Limit.ROOT_FIELDS: "The operation asks for too many root fields.",
    Limit.LIST_SIZE: "A list argument asks for too many items.",
}


@dataclass(frozen=True)
class QueryLimits:
    """The limits of one configuration; `reveal` puts the configured values in the messages (dev)."""

    depth: int
    aliases: int
    tokens: int
    directives: int
    root_fields: int
    list_size: int
    reveal: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLimits:
        return cls(
            depth=settings.query_max_depth,
            aliases=settings.query_max_aliases,
            tokens=settings.query_max_tokens,
            directives=settings.query_max_directives,
            root_fields=settings.query_max_root_fields,
            list_size=settings.page_size_max,
            reveal=settings.is_dev,
        )

    def error(self, limit: Limit, detail: str, nodes: Sequence[Any] | None = None) -> GraphQLError:
        message = f"The query is too complex: {detail}" if self.reveal else _PRIVATE_MESSAGES[limit]
        return GraphQLError(
            message, nodes, extensions={"code": ErrorCode.QUERY_TOO_COMPLEX.value, "limit": limit.value}
        )


class _DepthProbe:
    """Stands in for the ValidationContext of strawberry's depth measure: notes that it went too deep."""

    def __init__(self) -> None:
        self.exceeded = False

    def report_error(self, error: GraphQLError) -> None:
        self.exceeded = True


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


Selection = SelectionNode | FragmentDefinitionNode


def _count(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    per_node: Callable[[Selection], int],
    *,
    nested: bool,
    seen: frozenset[str] = frozenset(),
) -> int:
    """Sums `per_node` over a selection set (and, when `nested`, the selection sets within),
    expanding every fragment spread where it stands: a fragment spread twice counts twice. A cycle,
    which validation refuses anyway, ends the walk."""
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        total += per_node(selection)
        if isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                total += per_node(fragment)
                total += _count(fragment.selection_set, fragments, per_node, nested=nested, seen=seen | {name})
        elif isinstance(selection, InlineFragmentNode) or (nested and isinstance(selection, FieldNode)):
            total += _count(selection.selection_set, fragments, per_node, nested=nested, seen=seen)
    return total


def _directives_of(node: Selection) -> int:
    return len(node.directives or ())


def _root_field(node: Selection) -> int:
    return int(isinstance(node, FieldNode) and not is_introspection_key(node.name.value))


def validation_rules(limits: QueryLimits) -> list[type[ASTValidationRule]]:
    """graphql-core validation rules for depth, aliases, directives and root fields."""

    class DepthLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            probe = _DepthProbe()
            determine_depth(
                node=node,
                fragments=_fragments(self.context.document),
                depth_so_far=0,
                max_depth=limits.depth,
                context=probe,  # type: ignore[arg-type]
                operation_name=node.name.value if node.name else "anonymous",
                should_ignore=None,
            )
            if probe.exceeded:
                self.report_error(
                    limits.error(Limit.DEPTH, f"selections are nested deeper than {limits.depth} levels.", [node])
                )

    class AliasLimit(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> None:
            fragments = _fragments(node)
            aliases = sum(
                count_fields_with_alias(d, fragments)
                for d in node.definitions
                if isinstance(d, OperationDefinitionNode)
            )
            if aliases > limits.aliases:
                self.report_error(limits.error(Limit.ALIASES, f"{aliases} aliases, at most {limits.aliases}."))

    class DirectiveLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = _fragments(self.context.document)
            directives = len(node.directives or ()) + _count(node.selection_set, fragments, _directives_of, nested=True)
            if directives > limits.directives:
                self.report_error(
                    limits.error(Limit.DIRECTIVES, f"{directives} directives, at most {limits.directives}.", [node])
                )

    class RootFieldLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fields = _count(node.selection_set, _fragments(self.context.document), _root_field, nested=False)
            if fields > limits.root_fields:
                self.report_error(
                    limits.error(Limit.ROOT_FIELDS, f"{fields} root fields, at most {limits.root_fields}.", [node])
                )

    return [DepthLimit, AliasLimit, DirectiveLimit, RootFieldLimit]


def _is_token_limit(error: GraphQLError) -> bool:
    # graphql-core's parser: "Document contains more than N tokens. Parsing aborted."
    return isinstance(error, GraphQLSyntaxError) and "tokens. Parsing aborted" in error.message


def _list_size_error(
    limits: QueryLimits, document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any] | None
) -> GraphQLError | None:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None  # graphql-core answers this itself
    defaults = {
        d.variable.name.value: int(d.default_value.value)
        for d in operation.variable_definitions or ()
        if isinstance(d.default_value, IntValueNode)
    }
    given = variables or {}
    fragments = _fragments(document)
    pending: list[SelectionSetNode] = [operation.selection_set]
    expanded: set[str] = set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in expanded and name in fragments:
                    expanded.add(name)  # the same arguments wherever it is spread: one look is enough
                    pending.append(fragments[name].selection_set)
                continue
            if not isinstance(selection, FieldNode | InlineFragmentNode):
                continue
            if selection.selection_set is not None:
                pending.append(selection.selection_set)
            if not isinstance(selection, FieldNode):
                continue
            for argument in selection.arguments or ():
                if argument.name.value not in SLICING_ARGUMENTS:
                    continue
                value: Any = None
                if isinstance(argument.value, IntValueNode):
                    value = int(argument.value.value)
                elif isinstance(argument.value, VariableNode):
                    variable = argument.value.name.value
                    value = given[variable] if variable in given else defaults.get(variable)
                # Anything but a number is left to graphql-core's coercion, which refuses it.
                if isinstance(value, int | float) and not isinstance(value, bool) and value > limits.list_size:
                    return limits.error(
                        Limit.LIST_SIZE,
                        f"`{argument.name.value}` of `{selection.name.value}` is at most {limits.list_size}.",
                        [argument],
                    )
    return None


class QueryLimitsExtension(SchemaExtension):
    """Bounds the parser's work, and refuses lists over the page size before execution starts."""

    def __init__(self, limits: QueryLimits) -> None:
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.limits.tokens
        try:
            yield
        except GraphQLSyntaxError as error:
            # ParserCache parses in its `on_parse` hook, so the parser's refusal comes through here;
            # strawberry answers whatever GraphQLError leaves the operation as the request's error.
            if _is_token_limit(error):
                raise self._too_many_tokens() from None
            raise
        result = self.execution_context.result
        if result is not None and result.errors:  # parsed without ParserCache
            result.errors = [self._too_many_tokens() if _is_token_limit(e) else e for e in result.errors]

    def _too_many_tokens(self) -> GraphQLError:
        return self.limits.error(Limit.TOKENS, f"the document has more than {self.limits.tokens} tokens.")

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.result is None:
            error = _list_size_error(self.limits, context.graphql_document, context.operation_name, context.variables)
            if error is not None:
                # A result set before execution is what strawberry returns instead of executing.
                context.result = ExecutionResult(data=None, errors=[error])
        yield
