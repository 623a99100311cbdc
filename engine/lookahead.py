"""What a list's selection reads, known before its statement is built.

A contact row has thirty columns, ``search_text`` and two JSON documents among them; a list
drawing names and emails needs three. A connection field looks ahead at what its query
selects on its nodes (``nodes { … }`` and ``edges { node { … } }``), through fragments and
with ``@skip``/``@include`` decided by the request's variables as graphql-core decides them,
and reads only the columns those fields need. Each row type says what its fields read
(``column_needs``): a stored field its own column, a resolver the columns its level form
declares (``reads``), a model property what the type's ``_derived`` lists. A field that says
nothing reads every column, so an undeclared field costs speed, never a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    get_named_type,
    is_abstract_type,
)
from graphql.execution.collect_fields import FieldDetails, FragmentDetails, collect_subfields
from graphql.execution.values import VariableValues
from strawberry.schema.schema_converter import GraphQLCoreConverter
from tortoise.models import Model

from engine.executor import directive_variables, frozen

F = TypeVar("F", bound=Callable[..., Any])
_DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF

# Fields selected on a connection's nodes by (connection type, field nodes, values of the
# directive variables); the entry holds the nodes, so their ids stay unique while it lives.
_SELECTED: dict[Hashable, tuple[list, frozenset[str]]] = {}
MAX_SELECTED = 4096
# Fields selected on each type by a whole operation, by (operation, directive variables).
_BY_TYPE: dict[Hashable, tuple[Any, dict[str, frozenset[str]]]] = {}
# Columns each GraphQL field of a row type reads, by (row type, model); None: every column.
_NEEDS: dict[tuple[type, type[Model]], dict[str, frozenset[str] | None]] = {}


def reads(*columns: str) -> Callable[[F], F]:
    """Declare the columns of its object's row a level form reads (the primary key, always
    read, need not be named)."""

    def declare(level: F) -> F:
        level.columns = frozenset(columns)  # type: ignore[attr-defined]
        return level

    return declare


def node_fields(info: GraphQLResolveInfo) -> frozenset[str]:
    """The (Python) names of the fields selected on the nodes of the connection ``info``
    resolves: under ``nodes`` and ``edges { node }``, fragments and directives applied."""
    return _Selection(info).node_fields()


def fields_by_type(info: GraphQLResolveInfo) -> dict[str, frozenset[str]]:
    """The (Python) names of the fields the whole operation selects on each object type,
    wherever it selects them: what a row loaded by id for any of them must hold."""
    return _Selection(info).by_type()


class _Selection:
    """The selections under one field of a request, collected as graphql-core collects them."""

    __slots__ = ("fragments", "info", "variables")

    def __init__(self, info: GraphQLResolveInfo) -> None:
        self.info = info
        self.fragments = {name: FragmentDetails(node) for name, node in info.fragments.items()}
        variables = info.variable_values  # Strawberry hands resolvers the coerced dict
        if not isinstance(variables, VariableValues):
            variables = VariableValues({}, variables)
        self.variables = variables

    def _key(self, where: Hashable) -> Hashable | None:
        """``where`` with the values of the variables the directives read (None when one
        cannot be a key)."""
        try:
            read = tuple(
                frozen(self.variables.coerced.get(name))
                for name in directive_variables(self.info.operation, self.fragments)
            )
        except TypeError:
            return None
        return (where, read)

    def node_fields(self) -> frozenset[str]:
        info = self.info
        key = self._key((info.return_type, tuple(map(id, info.field_nodes))))
        known = _SELECTED.get(key) if key is not None else None
        if known is not None:
            return known[1]
        details = [FieldDetails(node, None) for node in info.field_nodes]
        objects = self._nodes(_object_type(info.return_type), details)
        selected = frozenset(
            field.extensions[_DEFINITION].python_name
            for object_type, selections in objects
            for field, _ in self._subfields(object_type, selections)
        )
        if key is not None:
            if len(_SELECTED) >= MAX_SELECTED:
                _SELECTED.clear()
            _SELECTED[key] = (list(info.field_nodes), selected)
        return selected

    def by_type(self) -> dict[str, frozenset[str]]:
        info = self.info
        key = self._key(("operation", id(info.operation)))
        known = _BY_TYPE.get(key) if key is not None else None
        if known is not None and known[0] is info.operation:
            return known[1]
        found: dict[str, set[str]] = {}
        root = info.schema.get_root_type(info.operation.operation)
        assert root is not None
        self._walk(root, [FieldDetails(_Root(info.operation.selection_set), None)], found)
        by_type = {name: frozenset(fields) for name, fields in found.items()}
        if key is not None:
            if len(_BY_TYPE) >= MAX_SELECTED:
                _BY_TYPE.clear()
            _BY_TYPE[key] = (info.operation, by_type)
        return by_type

    def _walk(
        self, type_: GraphQLObjectType, details: list[FieldDetails], found: dict[str, set[str]]
    ) -> None:
        """Record what ``details`` select on ``type_``, and below, in ``found``."""
        names = found.setdefault(type_.name, set())
        for field, selections in self._subfields(type_, details):
            definition = (field.extensions or {}).get(_DEFINITION)
            if definition is not None:
                names.add(definition.python_name)
            named = get_named_type(field.type)
            if isinstance(named, GraphQLObjectType):
                self._walk(named, selections, found)
            elif is_abstract_type(named):
                for possible in self.info.schema.get_possible_types(named):
                    self._walk(possible, selections, found)

    def _nodes(self, connection: GraphQLObjectType, details: list[FieldDetails]) -> list:
        """``(node type, selections)`` under ``nodes`` and ``edges { node }``."""
        found = []
        for field, selections in self._subfields(connection, details):
            if field is connection.fields["nodes"]:
                found.append((_object_type(field.type), selections))
            elif field is connection.fields["edges"]:
                edge = _object_type(field.type)
                for edge_field, edge_selections in self._subfields(edge, selections):
                    if edge_field is edge.fields["node"]:
                        found.append((_object_type(edge_field.type), edge_selections))
        return found

    def _subfields(
        self, type_: GraphQLObjectType, details: list[FieldDetails]
    ) -> Iterator[tuple[GraphQLField, list[FieldDetails]]]:
        """``(field definition, its selections)`` of every subfield ``details`` select."""
        info = self.info
        grouped = collect_subfields(
            info.schema, self.fragments, self.variables, info.operation, type_, details
        ).grouped_field_set
        for selections in grouped.values():
            name = selections[0].node.name.value
            if not name.startswith("__"):
                yield type_.fields[name], selections


class _Root:
    """The operation's selection set in the place of a field node's (``collect_subfields``
    reads ``selection_set`` only)."""

    __slots__ = ("selection_set",)

    def __init__(self, selection_set: Any) -> None:
        self.selection_set = selection_set


def _object_type(type_: Any) -> GraphQLObjectType:
    named = get_named_type(type_)
    assert isinstance(named, GraphQLObjectType)
    return named


def columns_read(
    row_type: type, model: type[Model], fields: frozenset[str]
) -> frozenset[str] | None:
    """The columns (database names) of ``model`` that ``fields`` (Python names) of
    ``row_type`` read, the primary key included; None when one of them may read any."""
    needs = _NEEDS.get((row_type, model))
    if needs is None:
        needs = _NEEDS[(row_type, model)] = column_needs(row_type, model)
    columns = {model._meta.db_pk_column}
    for name in fields:
        need = needs.get(name)
        if need is None:
            return None
        columns |= need
    return frozenset(columns)


def column_needs(row_type: type, model: type[Model]) -> dict[str, frozenset[str] | None]:
    """What each GraphQL field of ``row_type`` reads of a ``model`` row (see the module)."""
    projection = model._meta.fields_db_projection  # attribute -> column
    derived: dict[str, tuple[str, ...]] = getattr(row_type, "_derived", {})
    needs: dict[str, frozenset[str] | None] = {}
    for field in row_type.__strawberry_definition__.fields:
        name = field.python_name
        if name == "id":
            need: frozenset[str] | None = frozenset()
        elif field.base_resolver is None:
            if name in projection:
                need = frozenset((projection[name],))
            elif name in derived:
                need = frozenset(projection[attribute] for attribute in derived[name])
            else:
                need = None
        else:
            level = getattr(field.base_resolver.wrapped_func, "level", None)
            need = getattr(level, "columns", None)
        needs[name] = need
    return needs


def page_columns(info: Any, row_type: type) -> frozenset[str] | None:
    """The columns a connection's rows need for what ``info`` (Strawberry's or
    graphql-core's) selects on its ``row_type`` nodes; None: every column."""
    raw = getattr(info, "_raw_info", info)
    return columns_read(row_type, row_type.model(), node_fields(raw))


def row_columns(info: Any, row_type: type) -> frozenset[str] | None:
    """The columns a ``row_type`` row loaded by id needs for everything the operation of
    ``info`` selects on that type (one set per request, so the rows of one by-id loader
    serve every field that asks for them); None: every column."""
    raw = getattr(info, "_raw_info", info)
    fields = fields_by_type(raw).get(row_type.entity.name, frozenset())
    return columns_read(row_type, row_type.model(), fields)
