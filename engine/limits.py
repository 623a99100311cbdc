"""Limits on everything a client controls, checked before anything runs.

In the order a request meets them: the size of the document (characters, tokens, comments:
enforced by the parser), then, before validation, who may ask (a bad token, introspection
without a token) and the shape of the operation (nesting depth, aliases, fields, directives
per field), then its cost, and last, before execution, the caller's per-minute budget
(``ratelimit``). Each refusal is one GraphQL error with its own ``extensions.code`` and,
for the limits, ``extensions.limit`` and ``extensions.actual``. ``docs/limits.md`` tells
partners the values.

Cost follows GitHub's node limit: a connection costs the page it asks for (``first`` or
``last``, 20 when neither is given), a plain list of nodes its most rows, and everything
below a list costs once per row of it; a mutation field costs 10 more, and the operation
1 more. It is computed from the document and the variables, so a costly query is refused
whole, before any statement runs. Every response reports it in ``extensions.cost``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    VariableNode,
    get_named_type,
    is_composite_type,
    parse,
)
from graphql.validation import MaxIntrospectionDepthRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.schema.schema import validate_document

from engine.context import OperationContext
from engine.pagination import DEFAULT_PAGE_SIZE
from ratelimit import Verdict

MAX_QUERY_LENGTH = 100_000  # characters of the document
MAX_TOKENS = 5_000  # lexical tokens: names, punctuation, values
MAX_COMMENTS = 500
MAX_DEPTH = 8  # levels of objects; the Relay wrappers edges / node / nodes do not count
MAX_NESTING = 30  # selection sets inside each other, of any kind (introspection included)
MAX_ALIASES = 30
MAX_FIELDS = 400  # field selections, each fragment counted every time it is spread
MAX_DIRECTIVES_PER_FIELD = 4
MAX_COST = 10_000
MUTATION_COST = 10
# Plain lists of nodes (not connections): the most rows each returns. Others: 20.
LIST_FIELD_SIZES = {"channels": 30, "addresses": 20}
DEFAULT_LIST_SIZE = 20

PARSE_LIMITS = {
    "max_source_length": MAX_QUERY_LENGTH,
    "max_lexical_tokens": MAX_TOKENS,
    "max_comments": MAX_COMMENTS,
}
# The parser's own refusals ("… Parsing aborted.") and the codes they get.
PARSER_LIMIT_CODES = (("tokens.", "TOO_MANY_TOKENS"), ("", "QUERY_TOO_LARGE"))
INTROSPECTION_FIELDS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


def limit_error(code: str, message: str, limit: int, actual: int) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, "limit": limit, "actual": actual})


def parser_limit_code(message: str) -> str | None:
    """The code of a parse error that is a refused size, not a syntax mistake."""
    if not message.endswith("Parsing aborted."):
        return None
    return next(code for fragment, code in PARSER_LIMIT_CODES if fragment in message)


def without_suggestions(message: str) -> str:
    """``message`` without graphql-core's "Did you mean …?" hints (they map the schema)."""
    return _SUGGESTION.sub("", message)


@dataclass(slots=True)
class Tally:
    """What a selection set asks for, per row of its parent."""

    cost: int = 0
    depth: int = 0  # levels of objects below
    fields: int = 0
    aliases: int = 0
    directives: int = 0  # the most on one selection
    too_nested: bool = False
    introspection: bool = False

    def add(self, other: Tally, rows: int = 1, levels: int = 0) -> None:
        self.cost += rows * other.cost
        self.depth = max(self.depth, levels + other.depth)
        self.fields += other.fields
        self.aliases += other.aliases
        self.directives = max(self.directives, other.directives)
        self.too_nested |= other.too_nested
        self.introspection |= other.introspection


class _Measure:
    """One pass over an operation; each fragment is measured once, however often spread."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.mutation_type = schema.mutation_type
        self.done: dict[tuple[str, bool], Tally] = {}
        self.started: set[tuple[str, bool]] = set()

    def selection_set(
        self, node: SelectionSetNode | None, parent: Any, nesting: int, meta: bool
    ) -> Tally:
        """``meta``: inside introspection, which costs nothing and has its own depth rule."""
        tally = Tally()
        if node is None:
            return tally
        if nesting > MAX_NESTING:
            tally.too_nested = True
            return tally
        for selection in node.selections:
            tally.directives = max(tally.directives, len(selection.directives or ()))
            if isinstance(selection, FragmentSpreadNode):
                tally.add(self.fragment(selection.name.value, nesting, meta))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                tally.add(self.selection_set(selection.selection_set, target, nesting, meta))
            elif isinstance(selection, FieldNode):
                self.field(selection, parent, nesting, meta, tally)
        return tally

    def fragment(self, name: str, nesting: int, meta: bool) -> Tally:
        key = (name, meta)
        if key in self.done:
            return self.done[key]
        definition = self.fragments.get(name)
        if definition is None or key in self.started:
            return Tally()  # unknown or cyclic: validation reports it
        self.started.add(key)
        target = self.schema.get_type(definition.type_condition.name.value)
        self.done[key] = tally = self.selection_set(definition.selection_set, target, nesting, meta)
        return tally

    def field(self, node: FieldNode, parent: Any, nesting: int, meta: bool, tally: Tally) -> None:
        tally.fields += 1
        tally.aliases += node.alias is not None
        if node.selection_set is None:
            return  # a scalar or an enum: costs nothing and nests nothing
        name = node.name.value
        meta_field = INTROSPECTION_FIELDS.get(name)
        if meta_field is not None:
            tally.introspection = True
            child = self.selection_set(
                node.selection_set, get_named_type(meta_field.type), nesting + 1, True
            )
            tally.add(child)
            return
        definition = (getattr(parent, "fields", None) or {}).get(name)
        if definition is None:  # unknown (validation reports it) or __typename
            tally.add(self.selection_set(node.selection_set, None, nesting + 1, meta))
            return
        named = get_named_type(definition.type)
        child = self.selection_set(node.selection_set, named, nesting + 1, meta)
        if meta:
            tally.add(child)
            return
        rows, own = self.rows(node, definition.type, parent, named)
        if parent is not None and parent is self.mutation_type:
            own += MUTATION_COST
        wrapper = parent is not None and parent.name.endswith(("Connection", "Edge"))
        levels = 1 if is_composite_type(named) and not wrapper else 0
        tally.cost += own
        tally.add(child, rows=rows, levels=levels)

    def rows(
        self, node: FieldNode, field_type: Any, parent: Any, named: GraphQLNamedType
    ) -> tuple[int, int]:
        """How many rows the field may return, and what they cost themselves."""
        if named.name.endswith("Connection"):
            size = self.argument_size(node, ("first", "last"), DEFAULT_PAGE_SIZE)
            return size, size
        inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        if not isinstance(inner, GraphQLList) or not is_composite_type(named):
            return 1, 0
        if parent.name.endswith(("Connection", "Edge")):
            return 1, 0  # edges / nodes: the connection counted the rows
        default = LIST_FIELD_SIZES.get(node.name.value, DEFAULT_LIST_SIZE)
        size = self.argument_size(node, ("ids",), default)
        is_node = named.name == "Node" or any(
            i.name == "Node" for i in getattr(named, "interfaces", ())
        )
        return size, size if is_node else 0

    def argument_size(self, node: FieldNode, names: tuple[str, ...], default: int) -> int:
        """A page size (``first``/``last``) or the length of a list argument (``ids``)."""
        for argument in node.arguments or ():
            if argument.name.value not in names:
                continue
            value: Any = argument.value
            if isinstance(value, VariableNode):
                value = self.variables.get(value.name.value)
            elif isinstance(value, IntValueNode):
                value = int(value.value)
            elif isinstance(value, ListValueNode):
                value = value.values
            if isinstance(value, list | tuple):
                return len(value)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
        return default


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
) -> Tally | None:
    """What the operation asks for (its ``cost`` is the whole cost); ``None`` when the
    document has no such operation (Strawberry reports that)."""
    operation = _operation(document, operation_name)
    if operation is None:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    # Defaults of the operation's variables count when the request leaves them out.
    values = {
        d.variable.name.value: int(d.default_value.value)
        for d in operation.variable_definitions or ()
        if isinstance(d.default_value, IntValueNode)
    }
    values.update(variables)
    root = schema.get_root_type(operation.operation)
    tally = _Measure(schema, fragments, values).selection_set(
        operation.selection_set, root, 1, False
    )
    tally.cost += 1
    return tally


@lru_cache(maxsize=256)
def _cached_measure(
    schema: GraphQLSchema, query: str, operation_name: str | None, sizes: tuple
) -> Tally | None:
    """``measure`` for a query text, remembered: clients repeat their queries, and only the
    variables that can be sizes (numbers, lists) change the result."""
    document = _cached_parse(query)
    return None if document is None else measure(schema, document, operation_name, dict(sizes))


def _sizes(variables: Mapping[str, Any]) -> tuple:
    """The variables that may be page sizes or id lists, as (name, number) pairs."""
    return tuple(sorted(
        (name, len(value) if isinstance(value, list) else value)
        for name, value in variables.items()
        if isinstance(value, int | list)
    ))  # fmt: skip


def shape_errors(tally: Tally) -> list[GraphQLError]:
    """One error per limit the operation's shape goes over."""
    errors = []
    if tally.too_nested or tally.depth > MAX_DEPTH:
        actual = tally.depth if not tally.too_nested else MAX_NESTING + 1
        errors.append(limit_error(
            "QUERY_TOO_DEEP",
            f"This query nests {actual} levels of objects; at most {MAX_DEPTH} "
            "(edges, node and nodes do not count).",
            MAX_DEPTH, actual,
        ))  # fmt: skip
    if tally.aliases > MAX_ALIASES:
        errors.append(limit_error(
            "TOO_MANY_ALIASES",
            f"This query has {tally.aliases} aliases; at most {MAX_ALIASES}.",
            MAX_ALIASES, tally.aliases,
        ))  # fmt: skip
    if tally.fields > MAX_FIELDS:
        errors.append(limit_error(
            "TOO_MANY_FIELDS",
            f"This query selects {tally.fields} fields (fragments counted each time they are "
            f"spread); at most {MAX_FIELDS}.",
            MAX_FIELDS, tally.fields,
        ))  # fmt: skip
    if tally.directives > MAX_DIRECTIVES_PER_FIELD:
        errors.append(limit_error(
            "TOO_MANY_DIRECTIVES",
            f"A selection has {tally.directives} directives; at most "
            f"{MAX_DIRECTIVES_PER_FIELD}.",
            MAX_DIRECTIVES_PER_FIELD, tally.directives,
        ))  # fmt: skip
    if not errors and tally.cost > MAX_COST:
        errors.append(limit_error(
            "QUERY_TOO_COSTLY",
            f"This query may cost {tally.cost} points; the limit is {MAX_COST}. "
            "Ask for smaller pages or fewer nested lists.",
            MAX_COST, tally.cost,
        ))  # fmt: skip
    return errors


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def operation_of(query: str, name: str | None) -> OperationDefinitionNode | None:
    """The operation a request's document runs, from the parse cache (None when the query
    does not parse or names no single operation)."""
    document = _cached_parse(query)
    return None if document is None else _operation(document, name)


@lru_cache(maxsize=256)
def _cached_parse(query: str) -> DocumentNode | None:
    try:
        return parse(query, **PARSE_LIMITS)
    except GraphQLError:
        return None  # Strawberry parses it again, and answers with the error


class IntrospectionDepth(MaxIntrospectionDepthRule):
    """graphql-core's rule against circular introspection (``fields { type { fields …``),
    with our code."""

    def report_error(self, error: GraphQLError) -> None:
        super().report_error(
            GraphQLError(
                "Introspection nests `fields`, `interfaces`, `possibleTypes` or `inputFields` "
                "too deeply.",
                error.nodes,
                extensions={"code": "QUERY_TOO_DEEP"},
            )
        )


class AmbiguousOperation(CannotGetOperationTypeError):
    """A document of several operations without ``operationName``: the spec's GetOperation
    has no operation to run (a request error, not the first one)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(None)
        self.names = names

    def as_http_error_reason(self) -> str:
        return (f"The document has {len(self.names)} operations ({', '.join(self.names)}): "
                "name the one to run in `operationName`.")  # fmt: skip


def check_one_operation(document: DocumentNode, operation_name: str | None) -> None:
    """Refuses a document of several operations that does not say which one runs."""
    if operation_name is not None:
        return  # an unknown name is Strawberry's CannotGetOperationTypeError
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) > 1:
        raise AmbiguousOperation([d.name.value if d.name else "anonymous" for d in operations])


class CachedParsing(SchemaExtension):
    """Parses with the size limits, remembering the last documents (clients repeat them)."""

    def on_parse(self) -> Iterator[None]:
        # Before Strawberry parses (a document our cache refused) and validates: one hook
        # of this extension per request (each costs a context manager built per request).
        context = self.execution_context
        context.parse_options.update(PARSE_LIMITS)
        # graphql-core's specified rules may include the plain rule: ours replaces it.
        rules = [r for r in context.validation_rules if r is not MaxIntrospectionDepthRule]
        context.validation_rules = (*rules, IntrospectionDepth)
        if context.query is not None:
            context.graphql_document = _cached_parse(context.query)
        yield
        if context.graphql_document is not None:
            # ``operation_name`` falls back to the first operation's: the one the client sent.
            check_one_operation(context.graphql_document, context._provided_operation_name)


class CachedValidation(SchemaExtension):
    """Validation results of the last documents, skipped when a limit already refused the
    operation. ``CachedParsing`` hands a repeated query its same document, so results are
    kept by the document's identity: Strawberry's ``ValidationCache`` hashes the whole
    syntax tree (recursively, every request) to find them."""

    MAX_DOCUMENTS = 256
    _results: ClassVar[dict[int, tuple[DocumentNode, tuple[Any, ...], list[GraphQLError]]]] = {}

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if context.pre_execution_errors is None and document is not None:
            rules = tuple(context.validation_rules)
            known = self._results.get(id(document))  # it holds the document: ids stay unique
            if known is not None and known[0] is document and known[1] == rules:
                errors = known[2]
            else:
                errors = validate_document(context.schema._schema, document, rules)
                if len(self._results) >= self.MAX_DOCUMENTS:
                    self._results.clear()
                self._results[id(document)] = (document, rules, errors)
            context.pre_execution_errors = errors
        yield


class QueryLimits(SchemaExtension):
    """Refuses, before validation: a bad token, introspection without a token, and an
    operation over a limit of shape or cost; before execution: a caller over their
    per-minute budget. Reports the cost in ``extensions.cost`` on every response."""

    def __init__(self) -> None:
        self.cost = 0
        self.verdict: Verdict | None = None
        self.charged = False

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        errors = self._refusals()
        if errors:
            context.pre_execution_errors = errors
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        verdict = await self._charge(self.cost)
        if verdict is not None and not verdict.allowed:
            error = GraphQLError(
                f"This query costs {self.cost} points and {max(verdict.remaining, 0)} are "
                f"left this minute; try again in {verdict.retry_after} s.",
                extensions={"code": "RATE_LIMITED", "retryAfter": verdict.retry_after},
            )
            # A result set before execution replaces it: nothing runs.
            self.execution_context.result = ExecutionResult(data=None, errors=[error])
        yield

    async def get_results(self) -> dict[str, Any]:
        if not self.charged:
            await self._charge(1)  # refused before execution: one point
        cost: dict[str, int] = {"requested": self.cost, "limit": MAX_COST}
        if self.verdict is not None:
            cost["remaining"] = max(self.verdict.remaining, 0)
        return {"cost": cost}

    def _refusals(self) -> list[GraphQLError]:
        context = self.execution_context
        caller = context.context
        anonymous = isinstance(caller, OperationContext) and caller.user is None
        if anonymous and caller.auth_error:
            return [GraphQLError(caller.auth_error, extensions={"code": "UNAUTHENTICATED"})]
        schema, variables = context.schema._schema, context.variables or {}
        if context.query is not None:
            tally = _cached_measure(schema, context.query, context.operation_name,
                                    _sizes(variables))  # fmt: skip
        elif context.graphql_document is not None:
            tally = measure(schema, context.graphql_document, context.operation_name, variables)
        else:
            tally = None
        if tally is None:
            return []
        self.cost = tally.cost
        if anonymous and tally.introspection:
            message = "Introspection is for signed-in callers: send `Authorization: Bearer …`."
            return [GraphQLError(message, extensions={"code": "UNAUTHENTICATED"})]
        return shape_errors(tally)

    async def _charge(self, points: int) -> Verdict | None:
        self.charged = True
        # Contexts that know whose budget a request spends have ``charge_points`` (server.py).
        charge_points = getattr(self.execution_context.context, "charge_points", None)
        if charge_points is not None:
            self.verdict = await charge_points(points)
        return self.verdict


# Every guard of what a client controls, in the order they run; schema/__init__.py adds them.
PROTECTIONS: list[type[SchemaExtension]] = [CachedParsing, QueryLimits, CachedValidation]
