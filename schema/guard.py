"""The field guard: what a restricted token (scopes, field allowlist) may read, per field.

It runs only for requests whose token is narrower than its user (``Access.restricted``);
``CrmSchema`` leaves it out of every other request, so they pay nothing per field. Rows are
not its business: ``resolvers.access`` already narrowed every query to what the user sees.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from strawberry.extensions import SchemaExtension

from resolvers.access import Area
from resolvers.context import RequestContext
from resolvers.errors import Forbidden

# The area each node type belongs to: reading its fields needs `<area>:read` (or write).
TYPE_AREAS: dict[str, Area] = {
    "Account": Area.ACCOUNTS,
    "Location": Area.ACCOUNTS,
    "Contact": Area.CONTACTS,
    "Channel": Area.CONTACTS,
    "ContactStats": Area.CONTACTS,
    "Activity": Area.ACTIVITIES,
    "AuditEvent": Area.AUDIT,
    "User": Area.USERS,
    "Team": Area.USERS,
    "ApiToken": Area.USERS,
}
# Fields an allowlist may name: those of the node types (the others hold no data of their own).
ALLOWLISTED_TYPES = frozenset(TYPE_AREAS) - {"ContactStats"}


def guarded_fields(schema: Any) -> frozenset[str]:
    """Every ``Type.field`` coordinate a token's allowlist may name."""
    return _coordinates(schema._schema)


@cache
def _coordinates(graphql_schema: GraphQLSchema) -> frozenset[str]:
    coordinates = set()
    for type_name in ALLOWLISTED_TYPES:
        named = graphql_schema.get_type(type_name)
        assert isinstance(named, GraphQLObjectType), type_name
        coordinates.update(f"{type_name}.{field}" for field in named.fields)
    return frozenset(coordinates)


class FieldGuard(SchemaExtension):
    """FORBIDDEN, at its path, for each field a restricted token may not read."""

    @property
    def active(self) -> bool:
        context = self.execution_context.context
        return isinstance(context, RequestContext) and context.restricted

    def resolve(
        self, _next: Callable, root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any
    ) -> Any:
        type_name = info.parent_type.name
        area = TYPE_AREAS.get(type_name)  # root fields have none: writes check in resolvers
        if area is not None and info.field_name != "id":  # an id alone reveals nothing
            access = info.context.access
            if not access.can_read(area):
                raise Forbidden(f"This token lacks the `{area}:read` scope.")
            if not access.allows_field(type_name, info.field_name):
                raise Forbidden(f"This token may not read `{type_name}.{info.field_name}`.")
        return _next(root, info, *args, **kwargs)
