"""What every domain's schema shares: the record status, free-text search, sort keys, and
the declaration of a mutation field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Optional

import strawberry

from engine.connection import OrderDirection
from engine.types import GraphInfo, documented_enum, node_type
from models import enums
from models.registry import Area
from resolvers.errors import Rejected
from schema.errors import UserError, user_errors
from schema.inputs import plain

RecordStatus = documented_enum(
    enums.RecordStatus,
    "Whether a record takes part in day-to-day work.",
    {"ACTIVE": "In use; shown in lists.", "INACTIVE": "Kept with its history, hidden from lists."},
)

Search = Annotated[
    str | None,
    strawberry.argument(
        description="Free text over names, emails, phone digits, document and contact numbers; "
        "accent- and case-insensitive ('jose perez' finds 'José Pérez')."
    ),
]

# The description of a nested list's ``includeInactive`` argument.
INCLUDE_INACTIVE = "Also list inactive contacts."


def sort_keys(order_by):
    """``(field, descending)`` of each sort key of an ``orderBy`` argument."""
    return [(o.field.value, o.direction == OrderDirection.DESC) for o in order_by or []]


def mutation(
    action: Callable[..., Awaitable[Any]],
    input_type: type,
    payload: type,
    *,
    returns: dict[str, str],
    description: str,
    argument: str,
    area: Area | None = None,
) -> Any:
    """A mutation field, declared once: ``action(access, input)`` (the input as plain
    values, ``schema.inputs.plain``) writes and returns the row, or the rows in order, that
    ``returns`` names (payload field -> entity), or raises ``Rejected``: then the payload
    holds its problems as ``errors`` and every entity null. ``area``: the token area it
    writes (``Access.require_write``); None: the action checks the caller itself."""

    async def resolve(self: Any, info: GraphInfo, input: Any) -> Any:
        access = info.context.access
        if area is not None:
            access = access.require_write(area)
        try:
            written = await action(access, plain(input))
        except Rejected as rejected:
            nothing = dict.fromkeys(returns)
            return payload(**nothing, errors=user_errors(rejected.problems))
        rows = written if len(returns) > 1 else (written,)
        return payload(**{
            name: node_type(entity).from_row(row)
            for (name, entity), row in zip(returns.items(), rows, strict=True)
        })  # fmt: skip

    resolve.__annotations__ = {
        "info": GraphInfo,
        "input": Annotated[input_type, strawberry.argument(description=argument)],
        "return": payload,
    }
    return strawberry.mutation(resolver=resolve, description=description)


def payload(name: str, description: str, **entities: tuple[Any, str]) -> type:
    """A mutation's payload type ``{ <entity>…, errors }``: each entity, given as (its type,
    its field's description), null when nothing was written; ``errors`` says why."""
    namespace: dict[str, Any] = {"__annotations__": {}}
    for field_name, (entity_type, text) in entities.items():
        namespace["__annotations__"][field_name] = Optional[entity_type]  # noqa: UP045
        namespace[field_name] = strawberry.field(description=text)
    namespace["__annotations__"]["errors"] = list[UserError]
    namespace["errors"] = strawberry.field(
        default_factory=list, description="Why nothing was written, if so."
    )
    return strawberry.type(type(name, (), namespace), name=name, description=description)
