"""Loaders: each batches one kind of lookup of a response level into one statement.

``Loader`` is the batching; ``LoadersBase`` the request's set of them, with the kinds every
domain uses (rows by id, rows grouped by a parent, one row per parent, a page and a count
per parent), each built on first use and each running its statements through the
request's ``Statements``, which put the caller's scope into every cached statement's key.
A domain extends it with its own loaders and says which rows the caller sees (``rows``,
``visible``).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from tortoise.functions import Count
from tortoise.models import Model
from tortoise.queryset import QuerySet, ValuesQuery

from engine.pagination import Ordering, Page, PageArgs, page_from_rows, paginate_per_parent
from engine.rows import Keys, Statements

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class _Batch(asyncio.Future):
    """A batch's future, shared by every key of the batch. A waiter that is cancelled (a Task
    cancels the future it awaits) does not cancel it: the others still get their values, and
    the batch sets its result as usual; the cancelled waiter gets its CancelledError when the
    batch is done."""

    def cancel(self, msg: Any = None) -> bool:
        return False

    def abandon(self) -> None:
        """Cancel the batch itself (its dispatch was cancelled)."""
        super().cancel()


class Loader(Generic[K, T]):
    """Keys asked for while a response level resolves, loaded by one call of ``load_fn``, and
    remembered for the rest of the request.

    Batches form as with Strawberry's DataLoader: a batch opens with its first key and is
    dispatched by a task scheduled then, so every key asked for before that task runs joins
    it. But a batch has one future, not one per key with a done callback each, and
    ``load_many`` asks for a whole level's keys in one loop: a 50-contact page asks five
    loaders for 250 keys."""

    __slots__ = ("_batch", "_load_fn", "_pending", "_tasks", "_values")

    def __init__(self, load_fn: Callable[[list[K]], Awaitable[Sequence[T]]]) -> None:
        self._load_fn = load_fn
        self._values: dict[K, T] = {}
        self._pending: dict[K, _Batch] = {}  # key -> its batch's future
        self._batch: tuple[list[K], _Batch] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def load(self, key: K) -> T:
        return (await self.load_many((key,)))[0]

    async def load_many(self, keys: Sequence[K]) -> list[T]:
        """The values of ``keys``, in order (one batch call for those not loaded yet)."""
        values = self._values
        waiting: set[_Batch] = set()
        for key in keys:
            if key not in values:
                batch = self._pending.get(key)
                waiting.add(self._enqueue(key) if batch is None else batch)
        for batch in waiting:
            await batch  # a failed batch raises its error here
        return [values[key] for key in keys]

    def _enqueue(self, key: K) -> _Batch:
        if self._batch is None:
            loop = asyncio.get_running_loop()
            self._batch = ([], _Batch(loop=loop))
            loop.call_soon(self._schedule)
        keys, future = self._batch
        keys.append(key)
        self._pending[key] = future
        return future

    def _schedule(self) -> None:
        task = asyncio.ensure_future(self._dispatch())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self) -> None:
        assert self._batch is not None
        (keys, future), self._batch = self._batch, None
        try:
            values = list(await self._load_fn(keys))
            if len(values) != len(keys):
                raise ValueError(f"{len(values)} values for {len(keys)} keys")
        except BaseException as error:
            for key in keys:
                del self._pending[key]
            if isinstance(error, asyncio.CancelledError):
                future.abandon()
                raise
            future.set_exception(error)
            future.exception()  # its waiters raise it; a level the executor gave up has none
            return
        self._values.update(zip(keys, values, strict=True))
        for key in keys:
            del self._pending[key]
        future.set_result(None)


class LoadersBase:
    """The loaders of one operation; each is created on first use. Every statement they run
    starts from the rows the caller may see (``rows`` and ``visible``, which a domain
    defines), and is cached by ``scope``: what those rows depend on."""

    def __init__(self, scope: Hashable, models: Mapping[str, type[Model]]) -> None:
        self.scope = scope
        self.models = models  # entity name -> model, for rows by id
        self.statements = Statements(scope)
        self._by_id: dict[tuple[str, frozenset[str] | None], Loader] = {}
        self._pages: dict[Hashable, Loader] = {}
        self._counts: dict[Hashable, Loader] = {}
        # The columns by-id rows of each type hold for this operation (``engine.relations``).
        self.row_columns: dict[str, frozenset[str] | None] = {}

    def rows(self, model: type[Model]) -> QuerySet:
        """Every row of ``model`` the caller may see."""
        raise NotImplementedError

    def visible(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` (children of a parent the caller sees) narrowed to visible rows."""
        raise NotImplementedError

    def close(self) -> None:
        """Let go of every loader, and so of every row the operation loaded.

        Some loaders' batch functions refer back to this object, so without this an
        operation's rows and futures form one cycle that only the cycle collector frees:
        about 1,900 objects for a 50-contact page, and a third of its time in collections.
        Loaders asked for afterwards start empty."""
        for name, value in list(vars(self).items()):
            if isinstance(value, Loader):
                del self.__dict__[name]
        self._by_id.clear()
        self._pages.clear()
        self._counts.clear()
        self.row_columns.clear()

    def by_id(self, type_name: str, columns: frozenset[str] | None = None) -> Loader[int, Any]:
        """Rows of the entity ``type_name`` by primary key (``node``, relations); with
        ``columns``, rows of only those columns (partial): a loader per set of columns, so a
        request's statements still depend on its shape alone."""
        key = (type_name, columns)
        loader = self._by_id.get(key)
        if loader is None:
            loader = self._by_id[key] = self._rows_by_id(self.models[type_name], columns)
        return loader

    def _rows_by_id(self, model: type[Model], columns: frozenset[str] | None) -> Loader:
        shape = ("by_id", model, columns)

        def query(keys: Keys) -> QuerySet:
            rows = self.rows(model).filter(id__in=keys)
            return rows if columns is None else rows.only(*sorted(columns))

        async def load(ids: Sequence[int]) -> list[Any]:
            found = await self.statements.fetch(shape, model, ids, query)
            rows = {row.pk: row for row in found}
            return [rows.get(pk) for pk in ids]

        return Loader(load)

    def grouped(
        self, model: type[Model], column: str, order: Sequence[str], **filters: Any
    ) -> Loader[int, list[Any]]:
        """The visible ``model`` rows whose ``column`` is each key, in ``order``."""
        shape = ("grouped", model, column, tuple(order), tuple(sorted(filters.items())))

        def query(keys: Keys) -> QuerySet:
            return self.rows(model).filter(**{f"{column}__in": keys}, **filters).order_by(*order)

        async def load(parent_ids: Sequence[int]) -> list[list[Any]]:
            groups: dict[int, list[Any]] = defaultdict(list)
            for row in await self.statements.fetch(shape, model, parent_ids, query):
                groups[getattr(row, column)].append(row)
            return [groups.get(pk, []) for pk in parent_ids]

        return Loader(load)

    def single(self, model: type[Model], column: str, **filters: Any) -> Loader[int, Any]:
        """The visible ``model`` row (at most one, by a rule) whose ``column`` is each key."""
        shape = ("single", model, column, tuple(sorted(filters.items())))

        def query(keys: Keys) -> QuerySet:
            return self.rows(model).filter(**{f"{column}__in": keys}, **filters)

        async def load(parent_ids: Sequence[int]) -> list[Any]:
            found = await self.statements.fetch(shape, model, parent_ids, query)
            rows = {getattr(row, column): row for row in found}
            return [rows.get(pk) for pk in parent_ids]

        return Loader(load)

    def page_by_parent(
        self,
        name: str,
        model: type[Model],
        queryset: Callable[[], QuerySet],
        parent_column: str,
        ordering: Ordering,
        args: PageArgs,
        filter_key: Hashable = None,
        columns: frozenset[str] | None = None,
    ) -> Loader[int, Page]:
        """One loader per (list, arguments, columns read): all parents asking alike share one
        statement. ``queryset()`` gives ``model``'s children of any parent (``name`` and
        ``filter_key`` tell them apart)."""
        key = (name, ordering, args, filter_key, columns)
        if key not in self._pages:
            counter = self.count_by_parent(name, model, queryset, parent_column, filter_key)
            shape = ("page", name, filter_key)

            def children() -> QuerySet:
                return self.visible(queryset())

            async def load(parent_ids: Sequence[int]) -> list[Page]:
                rows = await paginate_per_parent(
                    model, children, parent_column, parent_ids, ordering, args,
                    self.statements, shape, columns,
                )  # fmt: skip
                return [
                    page_from_rows(rows[pk], ordering, args, _count_of(counter, pk))
                    for pk in parent_ids
                ]

            self._pages[key] = Loader(load)
        return self._pages[key]

    def count_by_parent(
        self,
        name: str,
        model: type[Model],
        queryset: Callable[[], QuerySet],
        parent_column: str,
        filter_key: Hashable = None,
    ) -> Loader[int, int]:
        key = (name, filter_key)
        if key not in self._counts:
            shape = ("count", name, filter_key, parent_column)

            def query(keys: Keys) -> ValuesQuery:
                children = self.visible(queryset()).filter(**{f"{parent_column}__in": keys})
                return (
                    children.group_by(parent_column)
                    .annotate(total=Count("id"))
                    .values(parent_column, "total")
                )

            async def load(parent_ids: Sequence[int]) -> list[int]:
                records = await self.statements.records(shape, model, parent_ids, query)
                totals = {record[parent_column]: record["total"] for record in records}
                return [totals.get(pk, 0) for pk in parent_ids]

            self._counts[key] = Loader(load)
        return self._counts[key]


def _count_of(counter: Loader[int, int], parent_id: int) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        return await counter.load(parent_id)

    return count
