"""The field guard: what a restricted token (scopes, field allowlist) may read, per field.

It runs only for requests whose token is narrower than its user (``Access.restricted``);
``CrmSchema`` leaves it out of every other request, so they pay nothing per field. Rows are
not its business: the domains' access rules already narrowed every query to what the user sees.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter

from engine.context import OperationContext
from engine.errors import Forbidden

_DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF


@cache
def type_areas(graphql_schema: GraphQLSchema) -> dict[str, Any]:
    """The area each object type's fields belong to, as its class declares it
    (``guard_area``: a row type's entity's area); reading them needs `<area>:read`."""
    areas = {}
    for name, named in graphql_schema.type_map.items():
        definition = (named.extensions or {}).get(_DEFINITION)
        area = getattr(getattr(definition, "origin", None), "guard_area", None)
        if isinstance(named, GraphQLObjectType) and area is not None:
            areas[name] = area
    return areas


def guarded_fields(schema: Any) -> frozenset[str]:
    """Every ``Type.field`` coordinate a token's allowlist may name: those of the node
    types (the others hold no data of their own)."""
    return _coordinates(schema._schema)


@cache
def _coordinates(graphql_schema: GraphQLSchema) -> frozenset[str]:
    coordinates = set()
    for type_name in type_areas(graphql_schema):
        named = graphql_schema.get_type(type_name)
        if is_type_of(named, "Node"):
            coordinates.update(f"{type_name}.{field}" for field in named.fields)
    return frozenset(coordinates)


def is_type_of(named: Any, interface: str) -> bool:
    return any(implemented.name == interface for implemented in named.interfaces)


class FieldGuard(SchemaExtension):
    """FORBIDDEN, at its path, for each field a restricted token may not read."""

    @property
    def active(self) -> bool:
        context = self.execution_context.context
        return isinstance(context, OperationContext) and context.restricted

    def resolve(
        self, _next: Callable, root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any
    ) -> Any:
        type_name = info.parent_type.name
        # Root fields have no area: writes check theirs in resolvers.
        area = type_areas(info.schema).get(type_name)
        if area is not None and info.field_name != "id":  # an id alone reveals nothing
            access = info.context.access
            if not access.can_read(area):
                raise Forbidden(f"This token lacks the `{area}:read` scope.")
            if not access.allows_field(type_name, info.field_name):
                raise Forbidden(f"This token may not read `{type_name}.{info.field_name}`.")
        return _next(root, info, *args, **kwargs)
