"""A breadth-first executor for read queries: same schema, same resolvers, same result.

graphql-core completes one field of one row at a time: for a page of 50 contacts with their
accounts, channels and activities that is ~2,000 field executions, ~700 resolver awaitables
each wrapped and awaited on its own, and most of a request's Python time. ``FastExecutor``
answers a query level by level instead: every row of a level goes through a field together
(plain attribute reads for stored columns, one pass over the rows for a resolver), the
resolver coroutines of a whole level are stepped side by side so their DataLoader keys
still meet in one batch, and leaves are serialised in one loop per column.

It answers only what it answers exactly as graphql-core would. Anything else falls back to
the standard execution of the same operation before a byte is sent: mutations (serial by
the spec), requests with per-field middleware (restricted tokens' field guard),
introspection, field extensions, and every request where something goes wrong (an error, a
null in a non-null field, an unexpected value) — graphql-core then reports it with its
path and null propagation, from the same per-request loaders, so only what the first
attempt did not load is loaded again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import Enum
from functools import partial
from itertools import repeat
from operator import attrgetter, is_not, methodcaller
from typing import Any

from graphql import (
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import to_nodes
from graphql.execution.values import get_argument_values
from graphql.language import DirectiveNode, OperationDefinitionNode, VariableNode, Visitor, visit
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter, get_arguments

from metrics import EXECUTIONS

log = logging.getLogger("crm.executor")

_DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF
# The counters of each path, looked up once (``labels`` takes a lock and builds a key).
_ANSWERED = {path: EXECUTIONS.labels(path) for path in ("fast", "fallback", "standard")}
_ROW = attrgetter("row")
_INT_RANGE = range(-(2**31), 2**31)


# Strawberry's conversion of argument values (input objects, enums, lists) is most of a
# request's fixed cost; query resolvers only read what it gives them, and no input type of
# ours builds itself from the request (``from_input``), so equal values of a field's
# arguments are converted once. Keyed by field and ``frozen`` values.
_CONVERTED: dict[Hashable, dict[str, Any]] = {}
MAX_CONVERTED = 1024


_PLAIN = frozenset((str, int, bool, type(None)))


def frozen(value: Any) -> Hashable:
    """A key equal only for equal argument values of equal types and forms (``1``, ``1.0``
    and ``True`` are equal in Python, and so are one instant in two time zones); TypeError
    for a value that cannot be hashed."""
    if value.__class__ is dict:
        return (dict, tuple((name, frozen(item)) for name, item in value.items()))
    if value.__class__ is list:
        return (list, tuple(map(frozen, value)))
    hash(value)
    if value.__class__ in _PLAIN or isinstance(value, Enum):
        return (value.__class__, value)
    return (value.__class__, value, repr(value))


# The subfields collected for a selection, across requests: graphql-core memoizes them per
# execution only, and a document's selections are collected the same way every time it
# comes back (the parse cache gives the same nodes), unless ``@skip``/``@include`` read a
# variable: then its values are part of the key. Keyed by the selection's node identities,
# which the entry holds so that they stay unique.
_COLLECTED: dict[Hashable, tuple[FieldDetailsList, CollectedFields]] = {}
MAX_COLLECTED = 4096
# The variables a document's directives read, by operation (held with its names).
_DIRECTIVE_VARIABLES: dict[int, tuple[OperationDefinitionNode, tuple[str, ...]]] = {}


class _DirectiveVariables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        for argument in node.arguments:
            if isinstance(argument.value, VariableNode):
                self.names.add(argument.value.name.value)


def directive_variables(operation: OperationDefinitionNode, fragments: dict) -> tuple[str, ...]:
    known = _DIRECTIVE_VARIABLES.get(id(operation))
    if known is not None and known[0] is operation:
        return known[1]
    visitor = _DirectiveVariables()
    visit(operation, visitor)
    for fragment in fragments.values():
        visit(fragment.definition, visitor)
    names = tuple(sorted(visitor.names))
    if len(_DIRECTIVE_VARIABLES) >= MAX_COLLECTED:
        _DIRECTIVE_VARIABLES.clear()
    _DIRECTIVE_VARIABLES[id(operation)] = (operation, names)
    return names


# Off: every operation in this context goes graphql-core's way (an operator's switch, and
# tests and the bench comparing both paths on one schema).
FAST_PATH: ContextVar[bool] = ContextVar("fast_path", default=True)


@contextmanager
def execution(*, fast: bool) -> Iterator[None]:
    """Operations run inside take the breadth-first path (``fast``) or the standard one."""
    token = FAST_PATH.set(fast)
    try:
        yield
    finally:
        FAST_PATH.reset(token)


class Unsupported(Exception):
    """The fast path cannot answer this exactly as graphql-core would: fall back."""


class FastExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, with the breadth-first path for queries that allow it."""

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> CollectedFields:
        """graphql-core's collection, remembered across requests (see ``_COLLECTED``)."""
        key = self._collection_key(return_type, field_details_list)
        if key is None:
            return super().collect_subfields(return_type, field_details_list)
        known = _COLLECTED.get(key)
        if known is not None and all(
            held.node is given.node
            for held, given in zip(known[0], field_details_list, strict=True)
        ):
            return known[1]
        collected = super().collect_subfields(return_type, field_details_list)
        if not (collected.new_defer_usages or collected.forbidden_directive_instances):
            if len(_COLLECTED) >= MAX_COLLECTED:
                _COLLECTED.clear()
            _COLLECTED[key] = (field_details_list, collected)
        return collected

    def _collection_key(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Hashable | None:
        nodes = []
        for details in field_details_list:
            if details.defer_usage is not None or details.fragment_variable_values is not None:
                return None
            nodes.append(id(details.node))
        values = self.variable_values.coerced
        try:
            read = tuple(
                frozen(values.get(name))
                for name in directive_variables(self.operation, self.fragments)
            )
        except TypeError:
            return None
        return (return_type, tuple(nodes), read, self.hide_suggestions)

    def execute_collected_root_fields(
        self, root_type, root_value, grouped_field_set, serially, new_defer_usages
    ):
        middleware = self.middleware_manager is not None and self.middleware_manager.middlewares
        eligible = not (serially or new_defer_usages or middleware)
        if not (eligible and FAST_PATH.get() and self.abort_signal is None):
            _ANSWERED["standard"].inc()
            return super().execute_collected_root_fields(
                root_type, root_value, grouped_field_set, serially, new_defer_usages
            )
        return self._fast_or_standard(root_type, root_value, grouped_field_set, new_defer_usages)

    async def _fast_or_standard(self, root_type, root_value, grouped_field_set, new_defer_usages):
        try:
            level = _Level(self, root_type, [root_value], None)
            (data,) = await level.complete(grouped_field_set)
        except Exception as reason:
            log.debug("fast path declined: %r", reason, exc_info=True)
            _ANSWERED["fallback"].inc()
            result = super().execute_collected_root_fields(
                root_type, root_value, grouped_field_set, False, new_defer_usages
            )
            return await result if self.is_awaitable(result) else result
        _ANSWERED["fast"].inc()
        return data


class _Level:
    """One object type's rows at one depth of the response, completed together."""

    __slots__ = ("executor", "objects", "path", "read_through", "rows", "type")

    def __init__(
        self, executor: FastExecutor, type_: GraphQLObjectType, objects: list, path: Path | None
    ) -> None:
        self.executor = executor
        self.type = type_
        self.objects = objects
        self.path = path
        self.rows: list | None = None
        self.read_through: frozenset[str] = frozenset()

    def _rows(self) -> list | None:
        """The rows of the objects, if they are all of one row type (``engine.types``)."""
        if self.rows is None:
            classes = set(map(type, self.objects))
            fields = getattr(classes.pop(), "_read_through", None) if len(classes) == 1 else None
            if fields:
                self.read_through, self.rows = fields, list(map(_ROW, self.objects))
            else:
                self.rows = []
        return self.rows or None

    async def complete(self, grouped: GroupedFieldSet) -> list[dict[str, Any]]:
        """The response dicts of ``objects`` for this selection, in selection order."""
        coroutines = _Coroutines()
        columns: list[tuple[str, _Site | None, list]] = []
        for key, details in grouped.items():
            name = details[0].node.name.value
            if name == "__typename":
                columns.append((key, None, [self.type.name] * len(self.objects)))
                continue
            field_def = self.type.fields.get(name)
            if field_def is None or name.startswith("__"):
                raise Unsupported(f"field {name}")
            site = _Site(
                self.executor, self.type, field_def, details, Path(self.path, key, self.type.name)
            )
            columns.append((key, site, self._resolve(site, coroutines)))
        await coroutines.run()
        columns = [
            (key, site, values.unpacked(len(self.objects), site))
            if isinstance(values, _LevelValues)
            else (key, site, values)
            for key, site, values in columns
        ]
        composites = []
        for _, site, values in columns:
            if site is not None:
                completion = site.complete(site.field_def.type, values)
                if completion is not None:
                    composites.append(completion)
        if composites:
            await asyncio.gather(*composites)
        keys = [column[0] for column in columns]
        rows = zip(*(column[2] for column in columns), strict=True)
        return list(map(dict, map(zip, repeat(keys), rows)))  # one C loop builds the dicts

    def _resolve(self, site: _Site, coroutines: _Coroutines) -> list | _LevelValues:
        """The raw values of one field for every object (filled in by ``coroutines`` for
        async resolvers)."""
        field_def = site.field_def
        field = (field_def.extensions or {}).get(_DEFINITION)
        if field is None or field.extensions or field_def.resolve is None:
            raise Unsupported(f"{site} is not a plain Strawberry field")
        objects = self.objects
        if field.base_resolver is None:
            name = field.python_name
            if field.default_resolver is not getattr:
                return [field.default_resolver(obj, name) for obj in objects]
            rows = self._rows()
            if rows is not None and name in self.read_through:
                # What the row type's ``_ReadThrough`` answers, without a call per object.
                return list(map(attrgetter(name), rows))
            return list(map(attrgetter(name), objects))
        resolver = field.base_resolver
        kwargs = site.arguments(field)
        function = resolver.wrapped_func
        level = getattr(function, "level", None)
        if level is not None:  # one call answers every object (``engine.types.per_level``)
            pending = _LevelValues()
            coroutines.start(level(objects, **kwargs), pending.box, 0)
            return pending
        values: list = [None] * len(objects)
        takes_self = resolver.self_parameter is not None
        source = resolver.root_parameter or resolver.parent_parameter
        if source is not None:  # ``root``/``parent`` given by keyword, with the arguments
            kwargs = dict(kwargs)
            source_name = source.name
        is_awaitable = self.executor.is_awaitable
        for index, obj in enumerate(objects):
            if source is not None:
                kwargs[source_name] = obj
            value = function(obj, **kwargs) if takes_self else function(**kwargs)
            if isinstance(value, Coroutine):
                coroutines.start(value, values, index)
            elif is_awaitable(value):
                coroutines.start(_awaited(value), values, index)
            else:
                values[index] = value
        return values


class _LevelValues:
    """The values of a field answered for a whole level at once, when they arrive."""

    __slots__ = ("box",)

    def __init__(self) -> None:
        self.box: list = [None]

    def unpacked(self, count: int, site: _Site) -> list:
        values = self.box[0]
        if not isinstance(values, list) or len(values) != count:
            raise Unsupported(f"{site}: the level resolver did not answer every row")
        return values


class _Site:
    """Where a column of values sits: a field of a parent type, at a path."""

    __slots__ = ("details", "executor", "field_def", "parent_type", "path")

    def __init__(
        self, executor: FastExecutor, parent_type: GraphQLObjectType, field_def: GraphQLField,
        details: FieldDetailsList, path: Path,
    ) -> None:  # fmt: skip
        self.executor = executor
        self.parent_type = parent_type
        self.field_def = field_def
        self.details = details
        self.path = path

    def __str__(self) -> str:
        return f"{self.parent_type.name}.{self.details[0].node.name.value}"

    def info(self):
        return self.executor.build_resolve_info(
            self.field_def, to_nodes(self.details), self.parent_type, self.path
        )

    def arguments(self, field) -> dict[str, Any]:
        """The resolver's keyword arguments, converted once for every object of the level."""
        executor = self.executor
        first = self.details[0]
        strawberry_schema = executor.schema._strawberry_schema  # type: ignore[attr-defined]
        if not (self.field_def.args or first.node.arguments):
            # What ``get_arguments`` gives a resolver without arguments: its ``info``.
            info_parameter = field.base_resolver.info_parameter
            if info_parameter is None:
                return {}
            info = strawberry_schema.config.info_class(_raw_info=self.info(), _field=field)
            return {info_parameter.name: info}
        raw = get_argument_values(
            self.field_def,
            first.node,
            executor.variable_values,
            first.fragment_variable_values,
            executor.hide_suggestions,
        )
        info = strawberry_schema.config.info_class(_raw_info=self.info(), _field=field)
        resolver = field.base_resolver
        try:
            key: Hashable = (id(field), frozen(raw))
        except TypeError:  # a value that cannot be a key: convert every time
            key = None
        converted = _CONVERTED.get(key)
        if converted is None:
            _, kwargs = get_arguments(
                field=field,
                source=None,
                info=info,
                kwargs=raw,
                config=strawberry_schema.config,
                scalar_registry=strawberry_schema.schema_converter.scalar_registry,
            )
            given = (resolver.info_parameter, resolver.root_parameter, resolver.parent_parameter)
            passed = {parameter.name for parameter in given if parameter is not None}
            converted = {name: value for name, value in kwargs.items() if name not in passed}
            if key is not None:
                if len(_CONVERTED) >= MAX_CONVERTED:
                    _CONVERTED.clear()
                _CONVERTED[key] = converted
        kwargs = dict(converted)
        if resolver.info_parameter is not None:
            kwargs[resolver.info_parameter.name] = info
        return kwargs

    def complete(
        self, return_type: GraphQLOutputType, values: list
    ) -> Coroutine[Any, Any, None] | None:
        """Turn ``values`` into response values in place. Leaves are done here; composite
        values return a coroutine that completes the next level."""
        if isinstance(return_type, GraphQLNonNull):
            return_type = return_type.of_type
            if None in values:
                raise Unsupported(f"null in non-null field {self}")
        if is_leaf_type(return_type):
            values[:] = _serializer(return_type)(values)
            return None
        return self._complete_composite(return_type, values)

    async def _complete_composite(self, return_type: GraphQLOutputType, values: list) -> None:
        present = [index for index, value in enumerate(values) if value is not None]
        items = [values[index] for index in present]
        if isinstance(return_type, GraphQLList):
            completed = await self._complete_lists(return_type.of_type, items)
        elif is_abstract_type(return_type):
            completed = await self._complete_abstract(return_type, items)
        else:
            completed = await self._complete_objects(return_type, items)
        for index, value in zip(present, completed, strict=True):
            values[index] = value

    async def _complete_lists(self, item_type: GraphQLOutputType, lists: list) -> list[list]:
        """Every list of the column flattened into one run, completed, and cut back apart."""
        flat: list = []
        sizes = []
        for items in lists:
            if isinstance(items, str | bytes | dict) or not isinstance(items, Iterable):
                raise Unsupported(f"{self} returned a non-list")
            before = len(flat)
            flat.extend(items)
            sizes.append(len(flat) - before)
        completion = self.complete(item_type, flat)
        if completion is not None:
            await completion
        result, start = [], 0
        for size in sizes:
            result.append(flat[start : start + size])
            start += size
        return result

    async def _complete_objects(self, type_: GraphQLObjectType, objects: list) -> list[dict]:
        if not objects:
            return []
        is_type_of = type_.is_type_of
        if is_type_of is not None:
            checked: set[type] = set()
            for obj in objects:
                if obj.__class__ not in checked:
                    if is_type_of(obj, None) is not True:
                        raise Unsupported(f"{obj.__class__.__name__} is not a {type_.name}")
                    checked.add(obj.__class__)  # Strawberry's is_type_of is a class check
        grouped, new_defer_usages, _ = self.executor.collect_subfields(type_, self.details)
        if new_defer_usages:
            raise Unsupported("@defer")
        return await _Level(self.executor, type_, objects, self.path).complete(grouped)

    async def _complete_abstract(self, abstract: GraphQLAbstractType, objects: list) -> list:
        """Objects of an interface or union, completed in groups of one runtime type."""
        executor = self.executor
        resolve_type = abstract.resolve_type or executor.type_resolver
        info = self.info()
        by_type: dict[str, list[int]] = {}
        for index, obj in enumerate(objects):
            name = resolve_type(obj, info, abstract)
            if not isinstance(name, str):
                raise Unsupported(f"{self}: the type resolver returned {name!r}")
            by_type.setdefault(name, []).append(index)
        completed: list = [None] * len(objects)
        for name, indexes in by_type.items():
            runtime_type = executor.ensure_valid_runtime_type(
                name, abstract, self.details, info, None
            )
            group = await self._complete_objects(runtime_type, [objects[i] for i in indexes])
            for index, value in zip(indexes, group, strict=True):
                completed[index] = value
        return completed


async def _awaited(value: Any) -> Any:
    return await value


Column = Callable[[list], list]
_SERIALIZERS: dict[GraphQLLeafType, Column] = {}
_NONE = type(None)
_PRESENT = partial(is_not, None)


def _serializer(leaf: GraphQLLeafType) -> Column:
    """``serialize(values)``: a column of ``leaf`` values (nulls kept) in response form."""
    serializer = _SERIALIZERS.get(leaf)
    if serializer is None:
        serializer = _SERIALIZERS[leaf] = _make_serializer(leaf)
    return serializer


def _make_serializer(leaf: GraphQLLeafType) -> Column:
    """``leaf.coerce_output_value`` over a column, with whole-column shortcuts for values
    already in output form (one C pass checks their classes) and for C serialisers."""

    def coerce(value: Any) -> Any:
        coerced = leaf.coerce_output_value(value)
        if coerced is None or coerced is Undefined:
            raise Unsupported(f"{leaf.name} cannot represent {value!r}")
        return coerced

    def each(values: list) -> list:
        return [None if value is None else coerce(value) for value in values]

    def as_is_when(*classes: type) -> Column:
        allowed = frozenset((*classes, _NONE))
        return lambda values: values if allowed.issuperset(map(type, values)) else each(values)

    if leaf is GraphQLString or leaf is GraphQLID:
        return as_is_when(str)
    if leaf is GraphQLBoolean:
        return as_is_when(bool)
    if leaf is GraphQLInt:

        def ints(values: list) -> list:
            if not {int, _NONE}.issuperset(map(type, values)):
                return each(values)
            present = list(filter(_PRESENT, values))
            in_range = not present or (min(present) in _INT_RANGE and max(present) in _INT_RANGE)
            return values if in_range else each(values)

        return ints
    if isinstance(leaf, GraphQLEnumType):
        wrapped = getattr(leaf, "wrapped_cls", None)
        if wrapped is None:
            return each
        # Strawberry enums: a member serialises as the name of its value.
        names = {definition.value: name for name, definition in leaf.values.items()}
        names_of_members = {m: names[m.value] for m in wrapped if m.value in names}
        members = frozenset((wrapped, _NONE))

        def enum_names(values: list) -> list:
            if not members.issuperset(map(type, values)):
                return each(values)
            found = list(map(names_of_members.get, values))
            return found if found.count(None) == values.count(None) else each(values)

        return enum_names
    if isinstance(leaf.coerce_output_value, methodcaller):  # Strawberry's date and time types

        def isoformat(values: list) -> list:
            return each(values) if None in values else list(map(leaf.coerce_output_value, values))

        return isoformat
    return each


class _Coroutines:
    """Resolver coroutines of one level, stepped by hand side by side.

    Each is advanced to its first suspension before any is resumed, so every DataLoader key
    of the level is queued before the loaders dispatch: one batch per loader, as with
    graphql-core, without a Task or a callback per field. Suspended coroutines are kept by
    what they await, so a finished batch resumes its waiters without looking at the others.
    """

    __slots__ = ("blocked", "ready")

    def __init__(self) -> None:
        self.ready: list[tuple[Coroutine, Any, list, int]] = []
        self.blocked: dict[asyncio.Future, list[tuple[Coroutine, Any, list, int]]] = {}

    def start(self, coroutine: Coroutine, values: list, index: int) -> None:
        """Run ``coroutine`` to its next suspension; its result goes to ``values[index]``."""
        try:
            awaited = coroutine.send(None)
        except StopIteration as done:
            values[index] = done.value
            return
        except BaseException:
            coroutine.close()
            self.close()
            raise
        entry = (coroutine, awaited, values, index)
        if awaited is None:  # a bare yield, as in ``asyncio.sleep(0)``
            self.ready.append(entry)
        elif not asyncio.isfuture(awaited):
            coroutine.close()
            self.close()
            raise Unsupported(f"a resolver awaited {awaited!r}")
        else:
            # What a Task does on a yield: another coroutine may await the same pending
            # future (a DataLoader key asked for twice), which the flag would refuse.
            awaited._asyncio_future_blocking = False
            if awaited.done():
                self.ready.append(entry)
            else:
                self.blocked.setdefault(awaited, []).append(entry)

    async def run(self) -> None:
        """Resume each coroutine as soon as what it awaits is done, until all have returned.

        In completion order, never in a fixed one: a coroutine may hold the connection's
        lock while its statement runs, and others wait for that lock.
        """
        while self.ready or self.blocked:
            try:
                if not self.ready:
                    # Never raises the futures' errors (their coroutines get them), nor
                    # cancels them when this task is cancelled.
                    done, _ = await asyncio.wait(self.blocked, return_when=asyncio.FIRST_COMPLETED)
                    for future in done:
                        self.ready.extend(self.blocked.pop(future))
                    continue
                if any(entry[1] is None for entry in self.ready):
                    await asyncio.sleep(0)
            except BaseException:
                self.close()
                raise
            ready, self.ready = self.ready, []
            for position, (coroutine, _, values, index) in enumerate(ready):
                try:
                    self.start(coroutine, values, index)
                except BaseException:
                    for entry in ready[position + 1 :]:
                        entry[0].close()
                    raise

    def close(self) -> None:
        """Close every coroutine still suspended (the request goes another way)."""
        entries = [*self.ready, *(e for group in self.blocked.values() for e in group)]
        self.ready, self.blocked = [], {}
        for coroutine, *_ in entries:
            coroutine.close()
