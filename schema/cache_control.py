"""Cache hints on the schema (Apollo's @cacheControl, plus tags) and the response's cache policy.

Hints sit on fields and object types and are printed in schema.graphql, so frontend developers see
what is cached for how long. After an operation, `CacheControlExtension` walks the selection
(fragments included) against the schema's field definitions and puts a `CachePolicy` on
`context.cache_policy`:

- None (not cacheable) for mutations and subscriptions, responses with errors, and any selected root
  field without a hint (or with maxAge 0);
- PRIVATE when any selected field, or the object type it returns, is PRIVATE;
- otherwise PUBLIC, with the smallest maxAge of every hint met and the union of their tags.

A hint's tags name what the data shows; admin mutations call `invalidate_cache` with the tags of
what they changed, after their transaction has committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    parse,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.schema_directive import Location

if TYPE_CHECKING:
    from schema.context import Info

DEFINITION = "strawberry-definition"  # where strawberry keeps its own definition on graphql-core types


@strawberry.enum(description="Who may share a cached response.")
class CacheScope(Enum):
    PUBLIC = strawberry.enum_value("PUBLIC", description="The same for every viewer: may be cached and shared.")
    PRIVATE = strawberry.enum_value(
        "PRIVATE", description="Depends on the viewer: never stored in a shared cache, never served to another viewer."
    )


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION, Location.OBJECT],
    name="cacheControl",
    description="How long a response containing this field (or type) may be cached, and by whom. `maxAge`: "
    "seconds (the whole response gets the smallest maxAge of the fields it selects; 0 means never cached); "
    "`scope`: PUBLIC (shared by every viewer; the default) or PRIVATE (depends on the viewer: never cached "
    "across users); `tags`: what the data shows (homepage, articles, rankings, departments, staff, …); an "
    "admin change drops every cached response carrying one of its tags at once, on every instance.",
)
class CacheControl:
    # UNSET, not None: the SDL then shows only the arguments a hint gives.
    max_age: int | None = strawberry.UNSET
    scope: CacheScope | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET


def cache_hint(max_age: int, *tags: str) -> CacheControl:
    """A PUBLIC hint: `directives=[cache_hint(300, "homepage")]`."""
    return CacheControl(max_age=max_age, scope=CacheScope.PUBLIC, tags=list(tags) if tags else strawberry.UNSET)


PRIVATE = CacheControl(scope=CacheScope.PRIVATE)

# Scheduled articles (定时发布) go live with no mutation to announce them: whatever shows articles is
# cached briefly, so that one appears at most this late.
ARTICLE_MAX_AGE = 60


@dataclass(frozen=True)
class CachePolicy:
    max_age: int
    scope: CacheScope
    tags: frozenset[str]


# ---- what the policy is made of ----


def _hint_of(definition: Any) -> CacheControl | None:
    strawberry_definition = getattr(definition, "extensions", None) or {}
    directives = getattr(strawberry_definition.get(DEFINITION), "directives", None) or ()
    return next((d for d in directives if isinstance(d, CacheControl)), None)


@dataclass
class _Collected:
    max_age: int | None = None
    private: bool = False
    tags: frozenset[str] = frozenset()

    def add(self, hint: CacheControl) -> None:
        if hint.scope is CacheScope.PRIVATE:
            self.private = True
        if isinstance(hint.max_age, int):
            self.max_age = hint.max_age if self.max_age is None else min(self.max_age, hint.max_age)
        if hint.tags:
            self.tags |= frozenset(hint.tags)


class _Walk:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.collected = _Collected()

    def fields(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode, seen: frozenset[str] = frozenset()
    ) -> Iterator[tuple[GraphQLNamedType, FieldNode]]:
        """Every field node of the selection set with the type it is selected on, through fragments."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield parent, selection
            elif isinstance(selection, InlineFragmentNode):
                on = self._condition(parent, selection.type_condition.name.value if selection.type_condition else None)
                yield from self.fields(on, selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    on = self._condition(parent, fragment.type_condition.name.value)
                    yield from self.fields(on, fragment.selection_set, seen | {name})

    def _condition(self, parent: GraphQLNamedType, name: str | None) -> GraphQLNamedType:
        on = self.schema.get_type(name) if name else None
        if on is None:
            return parent
        if on is not parent and (hint := _hint_of(on)) is not None:
            self.collected.add(hint)
        return on

    def definition(self, parent: GraphQLNamedType, node: FieldNode) -> GraphQLField | None:
        fields = getattr(parent, "fields", None)
        return None if fields is None else fields.get(node.name.value)

    def hint(self, field: GraphQLField) -> CacheControl | None:
        """The field's own hint, else the hint of the object type it returns."""
        return _hint_of(field) or _hint_of(get_named_type(field.type))

    def below(self, field: GraphQLField, node: FieldNode, seen: frozenset[str] = frozenset()) -> None:
        if node.selection_set is None:
            return
        returned = get_named_type(field.type)
        for parent, child in self.fields(returned, node.selection_set, seen):
            definition = self.definition(parent, child)
            if definition is None:  # __typename, or a field the validation has already refused
                continue
            if (hint := self.hint(definition)) is not None:
                self.collected.add(hint)
            self.below(definition, child, seen)


def policy_for(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None = None) -> CachePolicy | None:
    """The cache policy of a (valid) query: see the module docstring."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY or schema.query_type is None:
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walk = _Walk(schema, fragments)
    root: GraphQLObjectType = schema.query_type
    selected = False
    for parent, node in walk.fields(root, operation.selection_set):
        if node.name.value == "__typename":
            continue
        definition = walk.definition(parent, node)
        hint = walk.hint(definition) if definition is not None else None
        if (
            definition is None
            or hint is None
            or (not isinstance(hint.max_age, int) and hint.scope is not CacheScope.PRIVATE)
        ):
            return None  # a root field without a hint (introspection included) is never cached
        walk.collected.add(hint)
        walk.below(definition, node)
        selected = True
    collected = walk.collected
    if not selected:
        return None
    if collected.private:
        return CachePolicy(max_age=0, scope=CacheScope.PRIVATE, tags=collected.tags)
    if not collected.max_age:
        return None
    return CachePolicy(max_age=collected.max_age, scope=CacheScope.PUBLIC, tags=collected.tags)


class CacheControlExtension(SchemaExtension):
    """Puts the response's `CachePolicy` on `context.cache_policy` once the operation has run."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if hasattr(context, "cache_policy"):
            context.cache_policy = None
        yield
        if not hasattr(context, "cache_policy"):
            return
        result = self.execution_context.result
        document = self.execution_context.graphql_document
        if (
            result is None
            or getattr(result, "errors", None)
            or self.execution_context.pre_execution_errors
            or getattr(context, "upstream_notes", None)  # stale HIS data: reported as errors, never cached
            or document is None
        ):
            return
        schema = self.execution_context.schema._schema
        query = self.execution_context.query
        if query is None:
            context.cache_policy = policy_for(schema, document, self.execution_context.operation_name)
        else:
            context.cache_policy = _policy_of_query(schema, query, self.execution_context.operation_name)


@lru_cache(maxsize=512)
def _policy_of_query(schema: GraphQLSchema, query: str, operation_name: str | None) -> CachePolicy | None:
    """`policy_for` once per document and operation (the hints are fixed in the schema): the walk over
    the homepage's ~470 selected fields is not repeated for every request."""
    return policy_for(schema, parse(query), operation_name)


async def invalidate_cache(info: Info, tags: Iterable[str]) -> None:
    """Drop every cached response showing any of `tags`, on every instance; call it after the commit."""
    cache = info.context.response_cache
    if cache is not None:
        await cache.invalidate(tags)


# The tags of the data the admin side changes.
CONSENTS = "consents"
HOMEPAGE = "homepage"
ARTICLES = "articles"
RANKINGS = "rankings"
DEPARTMENTS = "departments"
STAFF = "staff"
APPRECIATIONS = "appreciations"
VISIT_GUIDE = "visitGuide"
CONSULT_CONSENTS = "consultConsents"
# What a ranking refresh changes, however it runs (refreshRankings, the job in the server, the CLI):
# the boards, and the homepage that shows them.
RANKING_REFRESH_TAGS = frozenset({RANKINGS, HOMEPAGE})
