"""Model instances built straight from driver records: the hot read path.

``await queryset`` hands every record to ``Model._init_from_db(**record)``: a keyword dict
per row, a Python loop over the fields, four ``Model.__setattr__`` calls. That was a fifth of
a 50-contact page's time (about 30 µs a row). ``fetch`` runs the same SQL and builds the same
instances with a function generated once per model and column list: one dict display per
row, the conversions written out inline, enum members found by value in the enum's own map.

What it builds is what ``_init_from_db`` builds, partial rows included (``tests/test_rows.py``
compares every attribute of every model on both databases); querysets it cannot build
exactly (prefetch, ``select_related``, ``.first()``/``.get()``, ``.only()``) go the ORM's
way. A list reads only the columns its selection needs (``engine.lookahead``): ``fetch``'s
``columns``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, TypeVar

from pypika_tortoise.context import SqlContext
from pypika_tortoise.terms import Field as PypikaField
from pypika_tortoise.terms import Parameter, Term
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields.data import (
    CharEnumFieldInstance,
    DatetimeField,
    IntEnumFieldInstance,
    parse_datetime,
)
from tortoise.models import Model
from tortoise.queryset import AwaitableQuery, QuerySet
from tortoise.router import router
from tortoise.timezone import get_default_timezone, get_use_tz

M = TypeVar("M", bound=Model)
Builder = Callable[[Sequence[Any]], list[Any]]

# Tortoise's enum fields convert with ``enum_type(value)``: looked up in the enum's own map.
_BY_ENUM_VALUE = (CharEnumFieldInstance.to_python_value, IntEnumFieldInstance.to_python_value)
_BUILDERS: dict[tuple[type[Model], tuple[str, ...], bool, str], Builder] = {}
# Keyed statements by (shape, number of keys, dialect): SQL, parameters before and after keys.
_STATEMENTS: dict[Hashable, tuple[str, list[Any], list[Any]]] = {}
MAX_STATEMENTS = 2048


class Keys(Term):
    """The right side of ``column__in=Keys(ids)``: integer keys as one parameter each, placed
    in one pass. Pypika wraps every value of a plain list in its own term, with three calls
    per key to place it; a batch of 840 contacts' keys cost more than its rows."""

    is_aggregate = None

    def __init__(self, keys: Iterable[int]) -> None:
        super().__init__()
        self.keys = [int(key) for key in keys]
        self.placed: list[int] = []  # where each placement's first key went in the parameters

    def __bool__(self) -> bool:  # no keys: Tortoise's "1=0" instead of an empty IN ()
        return bool(self.keys)

    def get_sql(self, ctx: SqlContext) -> str:
        parameterizer = ctx.parameterizer
        if parameterizer is None:
            return f"({','.join(map(str, self.keys))})"
        first = len(parameterizer.values) + 1
        self.placed.append(first - 1)
        parameterizer.values.extend(self.keys)
        positions = range(first, first + len(self.keys))
        if parameterizer.placeholder_factory is not None:
            marks = map(parameterizer.placeholder_factory, positions)
        else:
            placeholder = Parameter.IDX_PLACEHOLDERS.get(
                ctx.dialect, lambda _: Parameter.DEFAULT_PLACEHOLDER
            )
            marks = map(placeholder, positions)
        return f"({','.join(marks)})"


async def fetch(queryset: QuerySet[M], columns: Collection[str] | None = None) -> list[M]:
    """``await queryset``, built without the ORM's per-row dispatch; with ``columns`` (names
    of the model's columns), the rows hold only those (partial rows, as ``.only()`` makes),
    annotations still included."""
    if queryset._db is None:
        queryset._db = queryset._choose_db(queryset._select_for_update)
    if (
        queryset._prefetch_map
        or queryset._prefetch_queries
        or queryset._select_related
        or queryset._single
        or queryset._fields_for_select
    ):
        return await queryset
    queryset._make_query()
    if columns is not None:
        query = queryset.query
        query._selects = [
            term
            for term in query._selects
            if not (isinstance(term, PypikaField) and term.alias is None) or term.name in columns
        ]
    sql, params = queryset.query.get_parameterized_sql()
    return await fetch_sql(queryset._db, queryset.model, sql, params, extras=True)


async def fetch_sql(
    db: BaseDBAsyncClient,
    model: type[M],
    sql: str,
    params: Sequence[Any],
    *,
    extras: bool,
    order_by: str | None = None,
) -> list[M]:
    """The ``model`` rows of a SELECT of all its columns (plus others: annotations, kept as
    attributes when ``extras``, as the ORM keeps them; dropped otherwise), optionally
    sorted by one of its columns."""
    _, records = await db.execute_query(sql, list(params))
    return rows_from_records(db, model, records, extras=extras, order_by=order_by)


def rows_from_records(
    db: BaseDBAsyncClient,
    model: type[M],
    records: Sequence[Any],
    *,
    extras: bool,
    order_by: str | None = None,
) -> list[M]:
    """``fetch_sql``'s rows from records ``db`` already gave."""
    if not records:
        return []
    keys = tuple(records[0].keys())
    if order_by is not None:
        records = sorted(records, key=itemgetter(keys.index(order_by)))
    return _builder(model, keys, extras, db.capabilities.dialect)(records)


def keyed_sql(
    shape: Hashable | None,
    model: type[Model],
    keys: Sequence[int],
    build: Callable[[Keys], AwaitableQuery],
) -> tuple[BaseDBAsyncClient, str, list[Any]]:
    """The connection, SQL and parameters of the query ``build(Keys(keys))`` on ``model``.

    Tortoise resolves filters and pypika renders SQL anew for every query: 0.1-0.5 ms each,
    most of a small request. A loader's statement differs between batches only in its keys,
    so it is built once per ``shape`` and number of keys, and afterwards the keys are put
    in place. ``shape`` must name everything else the query depends on (the caller's rights
    included); None builds every time."""
    db = router.db_for_read(model) or model._meta.db  # what the query itself would choose
    key = (shape, len(keys), db.capabilities.dialect)
    cached = _STATEMENTS.get(key) if shape is not None else None
    if cached is not None:
        sql, before, after = cached
        return db, sql, [*before, *map(int, keys), *after]
    term = Keys(keys)
    query = build(term)
    query._db = db
    query._make_query()
    sql, params = query.query.get_parameterized_sql()
    if shape is not None and len(term.placed) == 1:
        if len(_STATEMENTS) >= MAX_STATEMENTS:
            _STATEMENTS.clear()
        start = term.placed[0]
        _STATEMENTS[key] = (sql, params[:start], params[start + len(term.keys) :])
    return db, sql, list(params)


async def fetch_keyed(
    shape: Hashable | None,
    model: type[M],
    keys: Sequence[int],
    build: Callable[[Keys], QuerySet[M]],
) -> list[M]:
    """The rows of ``build(Keys(keys))``, a queryset of ``model``, through ``keyed_sql``."""
    db, sql, params = keyed_sql(shape, model, keys, build)
    return await fetch_sql(db, model, sql, params, extras=True)


async def records_keyed(
    shape: Hashable | None,
    model: type[Model],
    keys: Sequence[int],
    build: Callable[[Keys], AwaitableQuery],
) -> list[Any]:
    """The driver's records of ``build(Keys(keys))`` (``values``, ``values_list``, grouped
    counts), unconverted, through ``keyed_sql``: each record reads by position and by name."""
    db, sql, params = keyed_sql(shape, model, keys, build)
    _, records = await db.execute_query(sql, params)
    return records


class Statements:
    """Keyed statements of one caller (``keyed_sql``, ``fetch_keyed``, ``records_keyed``):
    ``scope`` (everything the rows a caller may see depend on) is part of every cache key,
    so a statement built for one caller never serves another. Loaders run their statements
    through the ``Statements`` of their request, never with a shape of their own making."""

    __slots__ = ("scope",)

    def __init__(self, scope: Hashable) -> None:
        self.scope = scope

    def sql(
        self, shape: Hashable, model: type[Model], keys: Sequence[int], build: Callable
    ) -> tuple[BaseDBAsyncClient, str, list[Any]]:
        return keyed_sql((self.scope, shape), model, keys, build)

    async def fetch(
        self, shape: Hashable, model: type[M], keys: Sequence[int], build: Callable
    ) -> list[M]:
        return await fetch_keyed((self.scope, shape), model, keys, build)

    async def records(
        self, shape: Hashable, model: type[Model], keys: Sequence[int], build: Callable
    ) -> list[Any]:
        return await records_keyed((self.scope, shape), model, keys, build)


class _Placeholder(str):
    """The value a statement is built with once, to be found among its parameters: a
    distinct object, so no real value can be mistaken for it."""

    __slots__ = ()


# Statements with one parameter taken from the caller, by (shape, dialect): SQL, parameters,
# the position of the caller's value, and the ORM's plan for joined (select_related) rows.
_VALUE_STATEMENTS: dict[Hashable, tuple[str, list[Any], int, Any]] = {}


async def fetch_by_value(
    shape: Hashable, model: type[M], value: Any, build: Callable[[Any], QuerySet[M]]
) -> list[M]:
    """The rows of ``build(value)``, a queryset of ``model`` that uses ``value`` once, as
    the ORM builds them (``select_related`` included); the statement is built once per
    ``shape`` (which must name everything else the query depends on), after that only
    ``value`` changes in its parameters. Tortoise's rendering of a joined query (0.17 ms)
    was most of the token lookup every HTTP request makes."""
    db = router.db_for_read(model) or model._meta.db
    key = (shape, db.capabilities.dialect)
    cached = _VALUE_STATEMENTS.get(key)
    if cached is None:
        placeholder = _Placeholder("?")
        queryset = build(placeholder)
        queryset._db = db
        queryset._make_query()
        sql, params = queryset.query.get_parameterized_sql()
        [position] = [index for index, param in enumerate(params) if param is placeholder]
        cached = (sql, params, position, queryset._select_related_idx)
        if len(_VALUE_STATEMENTS) >= MAX_STATEMENTS:
            _VALUE_STATEMENTS.clear()
        _VALUE_STATEMENTS[key] = cached
    sql, params, position, related = cached
    values = list(params)
    values[position] = value
    executor = db.executor_class(model=model, db=db, select_related_idx=related)
    return await executor.execute_select(sql, values)


def _builder(model: type[Model], keys: tuple[str, ...], extras: bool, dialect: str) -> Builder:
    cache_key = (model, keys, extras, dialect)  # which columns the driver converts varies
    if cache_key not in _BUILDERS:
        _BUILDERS[cache_key] = _compile(model, keys, extras)
    return _BUILDERS[cache_key]


def _datetimes(field: DatetimeField) -> Callable[[Any], datetime]:
    """``field.to_python_value`` for a non-null value with time zones on: the common cases
    (SQLite's text, PostgreSQL's aware datetimes) without its checks, the rest through it."""
    zone = get_default_timezone()
    slow = field.to_python_value

    def convert(value: Any) -> datetime:
        if value.__class__ is str:
            value = parse_datetime(value)  # the parser Tortoise itself uses
        elif value.__class__ is not datetime:
            return slow(value)
        return slow(value) if value.utcoffset() is None else value.astimezone(zone)

    return convert


def _compile(model: type[Model], keys: tuple[str, ...], extras: bool) -> Builder:
    """Generate ``build(records)`` for records whose columns are ``keys``, in that order.
    Without some of the model's columns, the rows are partial (as ``.only()`` makes them: the
    ORM refuses to save them, and a missing attribute raises AttributeError)."""
    meta = model._meta
    conversions: dict[str, tuple[str, Any]] = {}
    for key, attribute, _ in meta.db_native_fields:
        conversions[key] = (attribute, None)
    for key, attribute, field in meta.db_default_fields:
        conversions[key] = (attribute, ("type", field.field_type))
    for key, attribute, field in meta.db_complex_fields:
        if type(field).to_python_value in _BY_ENUM_VALUE:  # ``enum_type(value)``
            conversions[key] = (attribute, ("enum", field.enum_type))
        elif type(field).to_python_value is DatetimeField.to_python_value and get_use_tz():
            conversions[key] = (attribute, ("datetime", _datetimes(field)))
        else:
            conversions[key] = (attribute, ("call", field.to_python_value))
    partial = not conversions.keys() <= set(keys)
    namespace: dict[str, Any] = {"new": model.__new__, "model": model, "assign": object.__setattr__}
    variables: list[str] = []
    entries = [  # what ``_init_from_db`` sets besides the columns
        f"'_partial': {partial}",
        "'_saved_in_db': True",
        f"'_custom_generated_pk': {meta.db_pk_column not in meta.generated_db_fields}",
        "'_await_when_save': {}",
    ]
    for index, key in enumerate(keys):
        value = f"v{index}"
        variables.append(value)
        if key not in conversions:
            if extras:
                entries.append(f"{key!r}: {value}")
            continue
        attribute, conversion = conversions[key]
        if conversion is None:
            expression = value
        elif conversion[0] == "type":
            namespace[f"t{index}"] = conversion[1]
            expression = f"None if {value} is None else t{index}({value})"
        elif conversion[0] == "datetime":
            namespace[f"d{index}"] = conversion[1]
            expression = f"None if {value} is None else d{index}({value})"
        elif conversion[0] == "enum":
            namespace[f"m{index}"] = conversion[1]._value2member_map_
            namespace[f"e{index}"] = conversion[1]
            expression = (
                f"None if {value} is None else (m{index}.get({value}) or e{index}({value}))"
            )
        else:
            namespace[f"c{index}"] = conversion[1]
            expression = f"c{index}({value})"
        entries.append(f"{attribute!r}: {expression}")
    source = "\n".join([
        "def build(records):",
        "    rows = []",
        "    append = rows.append",
        f"    for ({', '.join(variables)},) in records:",
        "        row = new(model)",
        f"        assign(row, '__dict__', {{{', '.join(entries)}}})",
        "        append(row)",
        "    return rows",
    ])  # fmt: skip
    exec(compile(source, f"<rows of {model.__name__}>", "exec"), namespace)
    return namespace["build"]
