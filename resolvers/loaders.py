"""Loaders, built once per request: each batches one kind of lookup into one statement."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property, partial
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q
from tortoise.functions import Count, Max, Min
from tortoise.models import Model
from tortoise.queryset import QuerySet, ValuesListQuery, ValuesQuery

from engine.pagination import Ordering, Page, PageArgs, page_from_rows, paginate_per_parent
from engine.rows import Keys, fetch_keyed, records_keyed
from models import (
    Account,
    Activity,
    ApiToken,
    AuditEvent,
    Channel,
    Contact,
    Location,
    Team,
    User,
)
from models.enums import (
    EVENT_KINDS,
    TODO_KINDS,
    ActivityStatus,
    ChannelKind,
    LocationKind,
    RecordStatus,
)
from resolvers.access import Access

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


@dataclass(frozen=True, slots=True)
class ContactStats:
    activities_total: int = 0
    activities_not_started: int = 0
    activities_completed: int = 0
    first_activity_at: datetime | None = None
    last_activity_at: datetime | None = None
    events_total: int = 0
    events_planned: int = 0
    events_held: int = 0
    events_not_held: int = 0
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None


# ``visible()`` gives the rows a loader starts from: called only when its statement is built,
# not for every batch (``keyed_sql`` keeps built statements).
Visible = Callable[[], QuerySet]


def _by_id(
    model: type[Model],
    visible: Visible,
    scope: Hashable,
    columns: frozenset[str] | None = None,
) -> Loader[int, Any]:
    """Rows by primary key; with ``columns``, rows of only those columns (partial)."""
    shape = (scope, "by_id", model, columns)

    def query(keys: Keys) -> QuerySet:
        rows = visible().filter(id__in=keys)
        return rows if columns is None else rows.only(*sorted(columns))

    async def load(ids: Sequence[int]) -> list[Any]:
        found = await fetch_keyed(shape, model, ids, query)
        rows = {row.pk: row for row in found}
        return [rows.get(pk) for pk in ids]

    return Loader(load)


_STATS = tuple(field.name for field in fields(ContactStats))
_STATS_TIMES = ("first_activity_at", "last_activity_at", "first_event_at", "last_event_at")


def _stats_query(activities: QuerySet[Activity], contact_ids: Keys) -> ValuesQuery:
    todo = Q(kind__in=list(TODO_KINDS))
    event = Q(kind__in=list(EVENT_KINDS))
    return (
        activities.filter(contact_id__in=contact_ids)
        .group_by("contact_id")
        .annotate(
            activities_total=Count("id"),
            activities_not_started=Count("id", _filter=todo & Q(status=ActivityStatus.NOT_STARTED)),
            activities_completed=Count("id", _filter=todo & Q(status=ActivityStatus.COMPLETED)),
            first_activity_at=Min("created_at"),
            last_activity_at=Max("created_at"),
            events_total=Count("id", _filter=event),
            events_planned=Count("id", _filter=event & Q(status=ActivityStatus.PLANNED)),
            events_held=Count("id", _filter=event & Q(status=ActivityStatus.HELD)),
            events_not_held=Count("id", _filter=event & Q(status=ActivityStatus.NOT_HELD)),
            first_event_at=Min("starts_at", _filter=event),
            last_event_at=Max("starts_at", _filter=event),
        )
        .values("contact_id", *_STATS)
    )


async def _stats(
    activities: Visible, shape: Hashable, contact_ids: Sequence[int]
) -> list[ContactStats]:
    """Every KPI of every contact in one GROUP BY: always what the activities say."""
    records = await records_keyed(
        shape, Activity, contact_ids, lambda keys: _stats_query(activities(), keys)
    )
    by_contact = {}
    for record in records:
        values = {name: record[name] for name in _STATS}
        for name in _STATS_TIMES:
            values[name] = _as_datetime(values[name])
        by_contact[record["contact_id"]] = ContactStats(**values)
    return [by_contact.get(pk, ContactStats()) for pk in contact_ids]


def _as_datetime(value: Any) -> datetime | None:
    # Aggregates bypass field conversion, and SQLite hands back text.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _grouped(
    model: type[Model],
    visible: Visible,
    scope: Hashable,
    column: str,
    order: Sequence[str],
    **filters: Any,
) -> Loader[int, list[Any]]:
    shape = (scope, "grouped", model, column, tuple(order), tuple(sorted(filters.items())))

    def query(keys: Keys) -> QuerySet:
        return visible().filter(**{f"{column}__in": keys}, **filters).order_by(*order)

    async def load(parent_ids: Sequence[int]) -> list[list[Any]]:
        groups: dict[int, list[Any]] = defaultdict(list)
        for row in await fetch_keyed(shape, model, parent_ids, query):
            groups[getattr(row, column)].append(row)
        return [groups.get(pk, []) for pk in parent_ids]

    return Loader(load)


def _single(
    model: type[Model], visible: Visible, scope: Hashable, column: str, **filters: Any
) -> Loader[int, Any]:
    shape = (scope, "single", model, column, tuple(sorted(filters.items())))

    def query(keys: Keys) -> QuerySet:
        return visible().filter(**{f"{column}__in": keys}, **filters)

    async def load(parent_ids: Sequence[int]) -> list[Any]:
        found = await fetch_keyed(shape, model, parent_ids, query)
        rows = {getattr(row, column): row for row in found}
        return [rows.get(pk) for pk in parent_ids]

    return Loader(load)


_OTHER_MODELS: dict[str, type[Model]] = {
    "Channel": Channel,
    "Activity": Activity,
    "AuditEvent": AuditEvent,
    "ApiToken": ApiToken,
}


# The models of the by-id loaders that are attributes of ``Loaders``, by loader name, and
# the loader of each model's type name.
_BY_ID_MODELS: dict[str, type[Model]] = {
    "account_by_id": Account,
    "location_by_id": Location,
    "contact_by_id": Contact,
    "user_by_id": User,
    "team_by_id": Team,
}
_BY_ID_LOADER_OF_TYPE = {model.__name__: name for name, model in _BY_ID_MODELS.items()}


class Loaders:
    """The request's loaders; each is created on first use. Every statement they run starts
    from the rows the caller may see (``resolvers.access``); without an ``access`` (an
    anonymous request) they see nothing."""

    def __init__(self, access: Access | None) -> None:
        self.access = access
        # What the visible rows depend on: statements are cached by it (``keyed_sql``).
        self.scope: Hashable = "anonymous" if access is None else access.rows_key
        self._pages: dict[Hashable, Loader] = {}
        self._counts: dict[Hashable, Loader] = {}
        self._other_by_id: dict[str, Loader] = {}
        self._partial_by_id: dict[tuple[str, frozenset[str]], Loader] = {}
        # The columns by-id rows of each type hold for this operation (``engine.lookahead``).
        self.row_columns: dict[str, frozenset[str] | None] = {}

    def close(self) -> None:
        """Let go of every loader, and so of every row the operation loaded.

        Some loaders' batch functions refer back to this object, so without this an
        operation's rows and futures form one cycle that only the cycle collector frees:
        about 1,900 objects for a 50-contact page, and a third of its time in collections.
        Loaders asked for afterwards start empty."""
        for name, value in list(vars(self).items()):
            if isinstance(value, Loader):
                del self.__dict__[name]
        self._pages.clear()
        self._counts.clear()
        self._other_by_id.clear()
        self._partial_by_id.clear()
        self.row_columns.clear()

    def rows(self, model: type[Model]) -> QuerySet:
        if self.access is None:
            return model.filter(id__in=[])
        return self.access.rows(model)

    def visible(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` (children of a parent the caller sees) narrowed to visible rows."""
        if self.access is None:
            return queryset.filter(id__in=[])
        if queryset.model is AuditEvent:
            return queryset  # an entity's own history is visible with the entity
        condition = self.access.condition(queryset.model)
        return queryset if condition is None else queryset.filter(condition)

    def by_type(self, type_name: str) -> Loader[int, Any]:
        """The by-id loader of any node type (``node`` and ``nodes`` use it)."""
        name = _BY_ID_LOADER_OF_TYPE.get(type_name)
        if name is not None:
            return getattr(self, name)
        if type_name not in self._other_by_id:
            model = _OTHER_MODELS[type_name]
            self._other_by_id[type_name] = self._by_id(model)
        return self._other_by_id[type_name]

    def by_id(self, name: str, columns: frozenset[str] | None) -> Loader[int, Any]:
        """The by-id loader ``name`` (``account_by_id``…), or with ``columns`` one that reads
        only those: a loader per set of columns, so a request's statements still depend on
        its shape alone."""
        if columns is None:
            return getattr(self, name)
        key = (name, columns)
        loader = self._partial_by_id.get(key)
        if loader is None:
            model = _BY_ID_MODELS[name]
            loader = _by_id(model, partial(self.rows, model), self.scope, columns)
            self._partial_by_id[key] = loader
        return loader

    def _by_id(self, model: type[Model]) -> Loader[int, Any]:
        return _by_id(model, partial(self.rows, model), self.scope)

    @cached_property
    def account_by_id(self) -> Loader[int, Account | None]:
        return self._by_id(Account)

    @cached_property
    def location_by_id(self) -> Loader[int, Location | None]:
        return self._by_id(Location)

    @cached_property
    def contact_by_id(self) -> Loader[int, Contact | None]:
        return self._by_id(Contact)

    @cached_property
    def user_by_id(self) -> Loader[int, User | None]:
        return self._by_id(User)

    @cached_property
    def team_by_id(self) -> Loader[int, Team | None]:
        return self._by_id(Team)

    @cached_property
    def channels_by_contact(self) -> Loader[int, list[Channel]]:
        return _grouped(
            Channel,
            partial(self.rows, Channel),
            self.scope,
            "contact_id",
            ("kind", "-is_primary", "created_at", "id"),
        )

    @cached_property
    def primary_channels_by_contact(self) -> Loader[int, dict[ChannelKind, str]]:
        """Each contact's primary value per kind (rule 3: at most one): three columns of the
        primary rows, where the contact's ``email``/``phone``/``mobile`` need no more."""
        shape = (self.scope, "primary_channels")

        def query(keys: Keys) -> ValuesListQuery:
            primary = self.rows(Channel).filter(contact_id__in=keys, is_primary=True)
            return primary.values_list("contact_id", "kind", "value")

        async def load(contact_ids: Sequence[int]) -> list[dict[ChannelKind, str]]:
            found: dict[int, dict[ChannelKind, str]] = defaultdict(dict)
            for contact_id, kind, value in await records_keyed(shape, Channel, contact_ids, query):
                found[contact_id][ChannelKind(kind)] = value
            return [found.get(pk, {}) for pk in contact_ids]

        return Loader(load)

    @cached_property
    def addresses_by_contact(self) -> Loader[int, list[Location]]:
        return _grouped(
            Location, partial(self.rows, Location), self.scope, "contact_id",
            ("-is_default", "kind", "id"),
        )  # fmt: skip

    @cached_property
    def main_location_by_account(self) -> Loader[int, Location | None]:
        locations = partial(self.rows, Location)
        return _single(Location, locations, self.scope, "account_id", kind=LocationKind.MAIN)

    @cached_property
    def preferred_contact_by_location(self) -> Loader[int, Contact | None]:
        return _single(
            Contact,
            partial(self.rows, Contact),
            self.scope,
            "location_id",
            is_preferred=True,
            status=RecordStatus.ACTIVE,
        )

    @cached_property
    def stats_by_contact(self) -> Loader[int, ContactStats]:
        shape = (self.scope, "stats")

        async def load(contact_ids: Sequence[int]) -> list[ContactStats]:
            return await _stats(partial(self.rows, Activity), shape, contact_ids)

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
            shape = (self.scope, "page", name, filter_key)

            def children() -> QuerySet:
                return self.visible(queryset())

            async def load(parent_ids: Sequence[int]) -> list[Page]:
                rows = await paginate_per_parent(
                    model, children, parent_column, parent_ids, ordering, args, shape, columns
                )
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
            shape = (self.scope, "count", name, filter_key, parent_column)

            def query(keys: Keys) -> ValuesQuery:
                children = self.visible(queryset()).filter(**{f"{parent_column}__in": keys})
                return (
                    children.group_by(parent_column)
                    .annotate(total=Count("id"))
                    .values(parent_column, "total")
                )

            async def load(parent_ids: Sequence[int]) -> list[int]:
                records = await records_keyed(shape, model, parent_ids, query)
                totals = {record[parent_column]: record["total"] for record in records}
                return [totals.get(pk, 0) for pk in parent_ids]

            self._counts[key] = Loader(load)
        return self._counts[key]


def _count_of(counter: Loader[int, int], parent_id: int):
    async def count() -> int:
        return await counter.load(parent_id)

    return count
