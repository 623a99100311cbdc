"""Inputs at the schema edge: per-mutation id inputs, and the conversion of what Strawberry
parsed into the plain values resolvers take (``resolvers.inputs``)."""

from __future__ import annotations

from functools import cache
from typing import Any

import strawberry
from strawberry import UNSET
from strawberry.types import get_object_definition

from resolvers.inputs import NOT_SENT, Input


def id_input(name: str, description: str, id_description: str) -> type:
    """An input type holding the ``id`` its mutation acts on. Each mutation has its own (named
    after it, shared/API.md), so that one mutation's input can grow without touching another's."""

    @strawberry.input(name=name, description=description)
    class IdInput:
        id: strawberry.ID = strawberry.field(description=id_description)

    return IdInput


def plain(value: Any) -> Any:
    """``value`` as resolvers take it: an input object becomes a read-only ``Input`` of plain
    values, a field not sent (``UNSET``) ``NOT_SENT``, a list a list of plain values; scalars,
    enums (the models' own), JSON values and uploads stay as they are."""
    if value is UNSET:
        return NOT_SENT
    if isinstance(value, list):
        return [plain(item) for item in value]
    shape = _input_shape(type(value))
    if shape is None:
        return value
    name, fields = shape
    return Input(name, {field: plain(getattr(value, field)) for field in fields})


@cache
def _input_shape(cls: type) -> tuple[str, tuple[str, ...]] | None:
    """The GraphQL name and the fields' Python names of an input type; None for other types."""
    definition = get_object_definition(cls)
    if definition is None or not definition.is_input:
        return None
    return definition.name, tuple(field.python_name for field in definition.fields)
