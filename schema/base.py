"""Shared GraphQL parts: the Node interface, documented enums, row-to-type conversion."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from operator import attrgetter
from typing import Any, ClassVar, TypeVar

import strawberry
from strawberry.types import Info

from resolvers.context import RequestContext
from resolvers.ids import encode_id

E = TypeVar("E", bound=type[Enum])
T = TypeVar("T", bound="RowType")
F = TypeVar("F", bound=Callable[..., Any])

GraphInfo = Info[RequestContext, None]


def documented_enum(py_enum: E, description: str, values: dict[str, str]) -> E:
    """Expose a model enum in GraphQL with a description on the type and on every value."""
    missing = {member.name for member in py_enum} - values.keys()
    if missing:
        raise ValueError(f"{py_enum.__name__}: no description for {sorted(missing)}")
    strawberry.enum(py_enum, description=description)
    for value in py_enum.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = values[value.name]
    return py_enum


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque global id; pass it to `node`, `nodes` and mutation inputs."
    )


def per_level(level: Callable[..., Awaitable[list]]):
    """Give a resolver its level form: ``level(objects, **arguments)`` returns one value per
    object for every object of a response level at once (one ``load_all``, one loop), where
    the resolver answers one object. The breadth-first executor (``schema/executor.py``) calls
    the level form; graphql-core calls the resolver, which should answer through the level
    form too, so both paths share one implementation."""

    def attach(resolver: F) -> F:
        resolver.level = level  # type: ignore[attr-defined]
        return resolver

    return attach


def _copier(cls: type) -> Callable[[dict[str, Any], Any], None]:
    """``copy(attributes, row)``: the row's values of the type's resolver-less fields, read
    with one ``attrgetter`` (C) and written with one ``dict.update``."""
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    copied = (f for f in definition.fields if f.base_resolver is None)
    names = tuple(f.python_name for f in copied if f.python_name != "id")
    if not names:
        return lambda attributes, row: None
    read = attrgetter(*names)
    if len(names) == 1:
        [name] = names
        return lambda attributes, row: attributes.__setitem__(name, read(row))
    return lambda attributes, row: attributes.update(zip(names, read(row), strict=True))


class RowType:
    """A GraphQL object built from a database row.

    Fields without a resolver are copied from the row attribute of the same Python name;
    fields with a resolver read ``self.row``.
    """

    row: strawberry.Private[Any]
    _copy: ClassVar[Callable[[dict[str, Any], Any], None]]

    @classmethod
    def from_row(cls: type[T], row: Any) -> T:
        copy = cls.__dict__.get("_copy")
        if copy is None:
            copy = cls._copy = _copier(cls)
        # Plain attribute writes: cheaper than the dataclass __init__ for every row of a page.
        obj = cls.__new__(cls)
        attributes = obj.__dict__
        copy(attributes, row)
        attributes["id"] = encode_id(cls.__name__, row.pk)
        attributes["row"] = row
        return obj

    @classmethod
    def maybe(cls: type[T], row: Any) -> T | None:
        return None if row is None else cls.from_row(row)
