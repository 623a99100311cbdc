"""Row types (GraphQL objects built from database rows), the Node interface, documented
enums, and the level form of a resolver."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any, ClassVar, TypeVar

import strawberry
from strawberry.types import Info

from engine.context import OperationContext
from engine.ids import encode_global_id, encode_id

E = TypeVar("E", bound=type[Enum])
T = TypeVar("T", bound="RowType")
F = TypeVar("F", bound=Callable[..., Any])

GraphInfo = Info[OperationContext, None]


def documented_enum(
    py_enum: E, description: str, values: dict[str, str], *, name: str | None = None
) -> E:
    """Expose a model enum in GraphQL with a description on the type and on every value;
    ``name`` is its GraphQL name when that is not the Python one."""
    missing = {member.name for member in py_enum} - values.keys()
    if missing:
        raise ValueError(f"{py_enum.__name__}: no description for {sorted(missing)}")
    strawberry.enum(py_enum, name=name, description=description)
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
    the resolver answers one object. The breadth-first executor (``engine/executor.py``) calls
    the level form; graphql-core calls the resolver, which should answer through the level
    form too, so both paths share one implementation."""

    def attach(resolver: F) -> F:
        resolver.level = level  # type: ignore[attr-defined]
        return resolver

    return attach


def _compile_from_row(cls: type, model: type) -> Callable[[Any], Any]:
    """``build(row)``: a ``cls`` holding ``row`` and its global id, as one dict display (code
    generated once per type: a page builds hundreds of these). Its resolver-less fields are
    read from ``row`` when asked for (``_ReadThrough``), except any the class itself has an
    attribute of (a default): those are copied."""
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    names = [f.python_name for f in definition.fields if f.base_resolver is None]
    copied = [name for name in names if name != "id" and hasattr(cls, name)]
    cls._read_through = frozenset(names) - {"id", *copied}
    for name in cls._read_through:
        setattr(cls, name, _ReadThrough(name))
    entries = [f"{name!r}: row.{name}" for name in copied]
    prefix = f"{cls.entity.name}:"
    entries.append(f"'id': encode(f'{prefix}{{row.{model._meta.pk_attr}}}')")
    entries.append("'row': row")
    namespace = {"new": cls.__new__, "cls": cls, "model": model, "assign": object.__setattr__}
    namespace["encode"], namespace["slow"] = encode_global_id, _slow_from_row(cls)
    source = "\n".join([
        "def build(row):",
        "    if row.__class__ is not model:",
        "        return slow(row)",
        "    obj = new(cls)",
        f"    assign(obj, '__dict__', {{{', '.join(entries)}}})",
        "    return obj",
    ])  # fmt: skip
    exec(compile(source, f"<{cls.__name__}.from_row>", "exec"), namespace)
    return namespace["build"]


def _slow_from_row(cls: type) -> Callable[[Any], Any]:
    """``from_row`` for a row of another class than the one the fast form was made for."""
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    names = [f.python_name for f in definition.fields if f.base_resolver is None]

    def build(row: Any) -> Any:
        obj = cls.__new__(cls)
        obj.__dict__.update({name: getattr(row, name) for name in names})
        obj.__dict__.update(id=encode_id(cls.entity.name, row.pk), row=row)
        return obj

    return build


class _ReadThrough:
    """A row type's field read from its row (a non-data descriptor: a value the object holds
    itself, as one made by the dataclass ``__init__`` does, comes first)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(obj.__dict__["row"], self.name)


class RowType:
    """A GraphQL object built from a database row.

    Fields without a resolver are the row's attribute of the same Python name, read when
    asked for (a list shows a few of a contact's forty); fields with a resolver read
    ``self.row``. A row type of a stored entity names it: ``class Contact(RowType, Node,
    entity=ENTITIES["Contact"])`` (anything with ``name``, ``model`` and ``area``); its
    rows are that entity's model, its global ids carry that name, ``node`` finds it by it
    and the field guard reads its area.
    """

    row: strawberry.Private[Any]
    _build: ClassVar[Callable[[Any], Any]]
    _read_through: ClassVar[frozenset[str]] = frozenset()  # fields read from the row
    # Fields that are properties of the model, with the attributes they read (``lookahead``).
    _derived: ClassVar[dict[str, tuple[str, ...]]] = {}
    entity: ClassVar[Any] = None
    guard_area: ClassVar[Any] = None  # ``engine.guard``: the token area of its fields

    def __init_subclass__(cls, entity: Any = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if entity is not None:
            if entity.name in _NODE_TYPES:
                raise TypeError(f"{entity.name} has a row type already")
            cls.entity, cls.guard_area = entity, entity.area
            _NODE_TYPES[entity.name] = cls

    @classmethod
    def model(cls) -> Any:
        return cls.entity.model

    @classmethod
    def from_row(cls: type[T], row: Any) -> T:
        return cls._builder(row)(row)

    @classmethod
    def from_rows(cls: type[T], rows: list[Any]) -> list[T]:
        """``[from_row(row) for row in rows]``, with one lookup of the builder for the list."""
        return list(map(cls._builder(rows[0]), rows)) if rows else []

    @classmethod
    def _builder(cls, row: Any) -> Callable[[Any], Any]:
        build = cls.__dict__.get("_build")
        if build is None:
            build = _compile_from_row(cls, row.__class__)
            cls._build = staticmethod(build)  # type: ignore[assignment]
        return build

    @classmethod
    def maybe(cls: type[T], row: Any) -> T | None:
        return None if row is None else cls.from_row(row)


_NODE_TYPES: dict[str, type[RowType]] = {}


def node_type(name: str) -> type[RowType]:
    """The row type of the entity named ``name`` (its module imported: ``strawberry.lazy``
    types are imported when the schema is built)."""
    return _NODE_TYPES[name]


def node_types() -> dict[str, type[RowType]]:
    return dict(_NODE_TYPES)
