"""Shared GraphQL parts: the Node interface, documented enums, row-to-type conversion."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
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
    object for every object of a response level at once (one ``load_many``, one loop), where
    the resolver answers one object. The breadth-first executor (``schema/executor.py``) calls
    the level form; graphql-core calls the resolver, which should answer through the level
    form too, so both paths share one implementation."""

    def attach(resolver: F) -> F:
        resolver.level = level  # type: ignore[attr-defined]
        return resolver

    return attach


class RowType:
    """A GraphQL object built from a database row.

    Fields without a resolver are copied from the row attribute of the same Python name;
    fields with a resolver read ``self.row``.
    """

    row: strawberry.Private[Any]
    _copied: ClassVar[tuple[str, ...]]

    @classmethod
    def from_row(cls: type[T], row: Any) -> T:
        copied = cls.__dict__.get("_copied")
        if copied is None:
            definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
            copied = tuple(
                f.python_name
                for f in definition.fields
                if f.base_resolver is None and f.python_name != "id"
            )
            cls._copied = copied
        # Plain attribute writes: cheaper than the dataclass __init__ for every row of a page.
        obj = cls.__new__(cls)
        attributes = obj.__dict__
        for name in copied:
            attributes[name] = getattr(row, name)
        attributes["id"] = encode_id(cls.__name__, row.pk)
        attributes["row"] = row
        return obj

    @classmethod
    def maybe(cls: type[T], row: Any) -> T | None:
        return None if row is None else cls.from_row(row)
