"""Keyset pagination: the one implementation behind every connection.

Cursors carry the sort values of their row (never an offset), so they stay valid when rows
are inserted. A cursor also names the ordering it was made for; using it with another
ordering is an error, not a silent jump.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.expressions import Q, RawSQL
from tortoise.functions import Coalesce
from tortoise.models import Model
from tortoise.queryset import CountQuery, QuerySet, ValuesQuery

from engine.errors import BadInput
from engine.rows import Keys, Statements, fetch, keyed_sql, rows_from_records

M = TypeVar("M", bound=Model)

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class SortKey:
    column: str
    descending: bool = False
    kind: type = str  # str, int or datetime: how the cursor value is read back
    nullable: bool = False  # a text column that may be NULL sorts (and pages) as ''

    @property
    def field(self) -> str:
        """What the query orders and filters on: the column, or its NULL-free annotation."""
        return f"sort_{self.column}" if self.nullable else self.column

    def sql(self, quote: Callable[[str], str]) -> str:
        if self.nullable:
            return f"COALESCE({quote(self.column)}, '')"
        return quote(self.column)


@dataclass(frozen=True, slots=True)
class Ordering:
    """Sort keys; the last one is always the primary key, so the order is total."""

    keys: tuple[SortKey, ...]

    @staticmethod
    def of(*keys: SortKey) -> Ordering:
        if not keys or keys[-1].column != "id":
            keys = (*keys, SortKey("id", keys[0].descending if keys else False, int))
        return Ordering(tuple(keys))

    @property
    def signature(self) -> str:
        return ",".join(f"{'-' if k.descending else ''}{k.column}" for k in self.keys)

    def reversed(self) -> Ordering:
        return Ordering(
            tuple(SortKey(k.column, not k.descending, k.kind, k.nullable) for k in self.keys)
        )

    def prepared(self, queryset: QuerySet[M]) -> QuerySet[M]:
        """``queryset`` with the annotations the nullable keys order and filter on."""
        nullable = {k.field: Coalesce(k.column, "") for k in self.keys if k.nullable}
        return queryset.annotate(**nullable) if nullable else queryset

    def columns(self, model: type[Model]) -> frozenset[str]:
        """The columns of ``model`` this ordering sorts on (a cursor is made of them)."""
        projection = model._meta.fields_db_projection
        return frozenset(projection[k.column] for k in self.keys)

    def order_by(self) -> list[str]:
        return [f"{'-' if k.descending else ''}{k.field}" for k in self.keys]

    def sql(self, quote: Callable[[str], str]) -> str:
        return ", ".join(f"{k.sql(quote)} {'DESC' if k.descending else 'ASC'}" for k in self.keys)

    def after(self, values: Sequence[Any]) -> Q:
        """Rows strictly after the row with these sort values."""
        alternatives = []
        for i, key in enumerate(self.keys):
            equal = {k.field: v for k, v in zip(self.keys[:i], values[:i], strict=True)}
            op = "lt" if key.descending else "gt"
            alternatives.append(Q(**equal, **{f"{key.field}__{op}": values[i]}))
        return Q(*alternatives, join_type="OR")


@dataclass(frozen=True, slots=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def validated(self, max_size: int = MAX_PAGE_SIZE) -> PageArgs:
        """Check the Relay arguments; raises BadInput naming the argument at fault."""
        if self.first is not None and self.last is not None:
            raise BadInput("Use either `first` or `last`, not both.", argument="first")
        for name in ("first", "last"):
            size = getattr(self, name)
            if size is not None and size < 0:
                raise BadInput(f"`{name}` must not be negative (got {size}).", argument=name)
            if size is not None and size > max_size:
                raise BadInput(
                    f"`{name}` is {size}; the largest page is {max_size}. "
                    "Page through with `after`/`before` instead.",
                    argument=name,
                )
        if self.after is not None and self.before is not None:
            raise BadInput("Use either `after` or `before`, not both.", argument="after")
        if self.last is not None and self.after is not None:
            raise BadInput("`last` pages backwards: combine it with `before`.", argument="after")
        if self.first is not None and self.before is not None:
            raise BadInput("`first` pages forwards: combine it with `after`.", argument="before")
        return self

    @property
    def backwards(self) -> bool:
        return self.last is not None or self.before is not None

    @property
    def size(self) -> int:
        size = self.last if self.backwards else self.first
        return DEFAULT_PAGE_SIZE if size is None else size

    @property
    def cursor(self) -> str | None:
        return self.before if self.backwards else self.after


def encode_cursor(ordering: Ordering, row: Model) -> str:
    values = []
    for key in ordering.keys:
        value = getattr(row, key.column)
        if value is None and key.nullable:
            value = ""
        values.append(value.isoformat() if isinstance(value, datetime) else value)
    raw = json.dumps([ordering.signature, values], separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(ordering: Ordering, cursor: str, argument: str) -> list[Any]:
    invalid = BadInput(f"`{argument}` is not a cursor of this list.", argument=argument)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        signature, raw_values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid from None
    if signature != ordering.signature or not isinstance(raw_values, list):
        raise invalid
    if len(raw_values) != len(ordering.keys):
        raise invalid
    values: list[Any] = []
    for key, value in zip(ordering.keys, raw_values, strict=True):
        try:
            if key.kind is datetime:
                values.append(datetime.fromisoformat(value))
            elif key.kind is int:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise TypeError
                values.append(value)
            else:
                if not isinstance(value, str):
                    raise TypeError
                values.append(value)
        except (TypeError, ValueError):
            raise invalid from None
    return values


@dataclass(slots=True)
class Page(Generic[M]):
    """One page of rows, in the requested order, with what the connection reports."""

    rows: list[M]
    ordering: Ordering
    has_next_page: bool
    has_previous_page: bool
    count: Callable[[], Awaitable[int]]

    def cursor(self, row: M) -> str:
        return encode_cursor(self.ordering, row)


def _cut(rows: list[M], args: PageArgs, ordering: Ordering, count) -> Page[M]:
    size = args.size
    more = len(rows) > size
    rows = rows[:size]
    if args.backwards:
        rows.reverse()
        return Page(rows, ordering, args.before is not None, more, count)
    return Page(rows, ordering, more, args.after is not None, count)


async def paginate(
    queryset: QuerySet[M],
    ordering: Ordering,
    args: PageArgs,
    columns: frozenset[str] | None = None,
) -> Page[M]:
    """One page of ``queryset``: a single SELECT, plus a COUNT only if ``count`` is awaited.
    With ``columns``, the rows read only those (and what the ordering needs)."""
    args = args.validated()
    walk = ordering.reversed() if args.backwards else ordering
    page_query = ordering.prepared(queryset)
    if args.cursor is not None:
        name = "before" if args.backwards else "after"
        page_query = page_query.filter(walk.after(decode_cursor(ordering, args.cursor, name)))
    if columns is not None:
        columns |= ordering.columns(queryset.model)
    rows = await fetch(page_query.order_by(*walk.order_by()).limit(args.size + 1), columns)

    async def count() -> int:
        return await exact_count(queryset)

    return _cut(rows, args, ordering, count)


class _SqliteCounts:
    """The counts one SQLite database answered while it stayed as it was.

    SQLite says when that ends: ``data_version`` moves when another connection (another
    worker, another process) commits, ``total_changes()`` when this one writes. So a count is
    exact without an expiry, and a list's totalCount costs a trivial statement until the
    next write (100k contacts: 5-10 ms -> 0.05 ms). One statement either way: it reads the
    state, and counts only when the state is not the one the remembered count was made in.
    """

    MAX_ENTRIES = 512
    STATEMENT = (
        'SELECT total_changes() AS "changes", "data_version" AS "version", '
        'CASE WHEN total_changes() = ? AND "data_version" = ? THEN NULL ELSE ({count}) END '
        'AS "total" FROM pragma_data_version'
    )

    def __init__(self) -> None:
        self.state: tuple[int, int] = (-1, -1)
        self.counts: dict[tuple[str, tuple[Any, ...]], int] = {}

    async def count(self, db: BaseDBAsyncClient, query: CountQuery) -> int:
        query._make_query()
        sql, params = query.query.get_parameterized_sql()
        key = (sql, tuple(params))
        remembered = self.counts.get(key)  # read before the await: others may reset meanwhile
        known = self.state if remembered is not None else (-1, -1)
        [row] = await db.execute_query_dict(self.STATEMENT.format(count=sql), [*known, *params])
        if row["total"] is None and remembered is not None:  # the state it was made in
            return remembered
        state = (row["changes"], row["version"])
        if state != self.state or len(self.counts) >= self.MAX_ENTRIES:
            self.state, self.counts = state, {}
        self.counts[key] = row["total"]
        return row["total"]


_sqlite_counts: WeakKeyDictionary[BaseDBAsyncClient, _SqliteCounts] = WeakKeyDictionary()


async def exact_count(queryset: QuerySet[M]) -> int:
    """``queryset.count()``; on SQLite outside a transaction, remembered until a write."""
    query = queryset.count()
    query._choose_db_if_not_chosen()
    db = query._db
    if db.capabilities.dialect != "sqlite" or isinstance(db, TransactionalDBClient):
        return await query  # PostgreSQL has no cheap "nothing changed"; a transaction may roll back
    if db not in _sqlite_counts:
        _sqlite_counts[db] = _SqliteCounts()
    return await _sqlite_counts[db].count(db, query)


NEXT_PAGE = object()  # in a parent's rows, after its page: the list goes on


async def paginate_per_parent(
    model: type[M],
    queryset: Callable[[], QuerySet[M]],
    parent_column: str,
    parent_ids: Sequence[int],
    ordering: Ordering,
    args: PageArgs,
    statements: Statements | None = None,
    shape: Hashable | None = None,
    columns: frozenset[str] | None = None,
) -> dict[int, list[Any]]:
    """The first rows of each parent's list, for many parents in one statement.

    ``ROW_NUMBER() OVER (PARTITION BY parent)`` cuts every parent's list at the page size in
    the database (SQLite and PostgreSQL both have window functions), so the work grows with
    the page, not with the number of children. A parent whose list goes on past the page gets
    ``NEXT_PAGE`` after its rows. ``queryset()`` gives the children of any parent; ``shape``
    names it for the caller's ``statements``, which build it only when they have no
    statement for it. Pages after a cursor are built each time. With ``columns``,
    the rows read only those (and what the ordering and the parent need).
    """
    args = args.validated()
    walk = ordering.reversed() if args.backwards else ordering
    pk = model._meta.pk_attr

    def quoted(column: str) -> str:
        return f'"{column}"'  # SQLite and PostgreSQL both quote identifiers this way

    def inner(keys: Keys) -> ValuesQuery:
        filtered = ordering.prepared(queryset()).filter(**{f"{parent_column}__in": keys})
        if args.cursor is not None:
            name = "before" if args.backwards else "after"
            filtered = filtered.filter(walk.after(decode_cursor(ordering, args.cursor, name)))
        window = RawSQL(
            f"ROW_NUMBER() OVER (PARTITION BY {quoted(parent_column)} ORDER BY {walk.sql(quoted)})"
        )
        return filtered.annotate(page_row=window).values(pk, "page_row")

    if statements is not None and shape is not None and args.cursor is None:
        shape = (shape, "paged", parent_column, ordering, args.backwards)
        db, sql, params = statements.sql(shape, model, parent_ids, inner)
    else:
        db, sql, params = keyed_sql(None, model, parent_ids, inner)
    size = int(args.size)
    # The window numbers keys only (from an index on parent and order, where there is one);
    # the rows are read by primary key for the numbers that make the page and the one after.
    table = quoted(model._meta.db_table)
    if columns is None:
        selected = f"{table}.*"
    else:
        parent = model._meta.fields_db_projection[parent_column]
        needed = sorted(columns | ordering.columns(model) | {parent})
        selected = ", ".join(f"{table}.{quoted(column)}" for column in needed)
    statement = (
        f"SELECT {selected}, paged.page_row FROM ({sql}) AS paged "
        f"JOIN {table} ON {table}.{quoted(model._meta.db_pk_column)} = paged.{quoted(pk)} "
        f"WHERE paged.page_row <= {size + 1}"
    )
    _, records = await db.execute_query(statement, list(params))
    by_parent: dict[int, list[Any]] = {parent_id: [] for parent_id in parent_ids}
    if not records:
        return by_parent
    columns = list(records[0].keys())
    place, parent = columns.index("page_row"), columns.index(parent_column)
    # The row past a page only says there is a next one: it is not built into a model.
    on_page = [record for record in records if record[place] <= size]
    for row in rows_from_records(db, model, on_page, extras=False, order_by="page_row"):
        by_parent[getattr(row, parent_column)].append(row)
    for record in records:
        if record[place] > size:
            by_parent[record[parent]].append(NEXT_PAGE)
    return by_parent


def page_from_rows(rows: list[M], ordering: Ordering, args: PageArgs, count) -> Page[M]:
    """A Page from what ``paginate_per_parent`` gave one parent: its rows, and ``NEXT_PAGE``
    after them if the list goes on."""
    return _cut(rows, args.validated(), ordering, count)
