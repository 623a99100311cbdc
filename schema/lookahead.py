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

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from graphql import GraphQLField, GraphQLObjectType, GraphQLResolveInfo, get_named_type
from graphql.execution.collect_fields import FieldDetails, FragmentDetails, collect_subfields
from graphql.execution.values import VariableValues
from strawberry.schema.schema_converter import GraphQLCoreConverter
from tortoise.models import Model

import models
from schema.executor import directive_variables, frozen

F = TypeVar("F", bound=Callable[..., Any])
_DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF

# Selected node fields by (connection type, field nodes, values of the directive variables);
# the entry holds the nodes, so their ids stay unique while it lives.
_SELECTED: dict[Hashable, tuple[list, frozenset[str]]] = {}
MAX_SELECTED = 4096
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
    connection = get_named_type(info.return_type)
    assert isinstance(connection, GraphQLObjectType)
    fragments = {name: FragmentDetails(node) for name, node in info.fragments.items()}
    variables = info.variable_values  # Strawberry hands resolvers the coerced dict
    if not isinstance(variables, VariableValues):
        variables = VariableValues({}, variables)
    try:
        read = tuple(
            frozen(variables.coerced.get(name))
            for name in directive_variables(info.operation, fragments)
        )
        key: Hashable = (connection, tuple(map(id, info.field_nodes)), read)
    except TypeError:  # a variable value that cannot be a key
        key = None
    known = _SELECTED.get(key) if key is not None else None
    if known is not None:
        return known[1]

    def subfields(type_: GraphQLObjectType, details: list[FieldDetails]):
        """``(field definition, its selections)`` of every subfield ``details`` select."""
        grouped = collect_subfields(
            info.schema, fragments, variables, info.operation, type_, details
        ).grouped_field_set
        for selections in grouped.values():
            name = selections[0].node.name.value
            if not name.startswith("__"):
                yield type_.fields[name], selections

    def object_type(field: GraphQLField) -> GraphQLObjectType:
        named = get_named_type(field.type)
        assert isinstance(named, GraphQLObjectType)
        return named

    node_selections = []
    for field, selections in subfields(
        connection, [FieldDetails(n, None) for n in info.field_nodes]
    ):
        if field is connection.fields["nodes"]:
            node_selections.append((object_type(field), selections))
        elif field is connection.fields["edges"]:
            edge = object_type(field)
            for edge_field, edge_selections in subfields(edge, selections):
                if edge_field is edge.fields["node"]:
                    node_selections.append((object_type(edge_field), edge_selections))
    names = {
        field.extensions[_DEFINITION].python_name
        for node_type, selections in node_selections
        for field, _ in subfields(node_type, selections)
    }
    selected = frozenset(names)
    if key is not None:
        if len(_SELECTED) >= MAX_SELECTED:
            _SELECTED.clear()
        _SELECTED[key] = (list(info.field_nodes), selected)
    return selected


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
    graphql-core's) selects on its ``row_type`` nodes; None: every column. A row type's
    model is the model of its name (``Contact`` rows are ``models.Contact``)."""
    raw = getattr(info, "_raw_info", info)
    return columns_read(row_type, getattr(models, row_type.__name__), node_fields(raw))
