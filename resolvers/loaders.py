"""DataLoaders, built once per request: each batches one kind of lookup into one statement."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader, LoaderTask, get_current_batch
from tortoise.expressions import Q
from tortoise.functions import Count, Max, Min
from tortoise.models import Model
from tortoise.queryset import QuerySet, ValuesListQuery, ValuesQuery

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
from models.rows import Keys, fetch_keyed, records_keyed
from resolvers.access import Access
from resolvers.pagination import Ordering, Page, PageArgs, page_from_rows, paginate_per_parent

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class Loader(DataLoader[K, T]):
    """Strawberry's DataLoader without a done callback on every key's future.

    ``Batch.add_task`` adds one so that a batch whose every caller was cancelled can cancel
    its statement; every resolved key then schedules that callback on the event loop, about
    a third of what a key costs. Here a cancelled request's batch finishes its one statement
    instead, and its result is dropped."""

    def load(self, key: K) -> Awaitable[T]:
        futures = self.cache_map.cache_map  # type: ignore[attr-defined]  # a DefaultCache
        future = futures.get(key)
        if future is not None and not future.cancelled():
            return future
        future = futures[key] = self.loop.create_future()
        get_current_batch(self).tasks.append(LoaderTask(key, future))
        return future


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


async def load_all(futures: Iterable[Awaitable[T]]) -> list[T]:
    """The values of DataLoader futures (``loader.load(key)`` for many keys), in order.

    What ``loader.load_many`` and ``asyncio.gather`` do, without their callback and scheduled
    call per key: one batch resolves all its futures together, so waiting on each in turn
    suspends about once per batch."""
    futures = list(futures)
    for future in futures:
        if not future.done():
            await future
    return [future.result() for future in futures]  # type: ignore[attr-defined]


def _by_id(visible: QuerySet, scope: Hashable) -> DataLoader[int, Any]:
    model, shape = visible.model, (scope, "by_id", visible.model)

    async def load(ids: Sequence[int]) -> list[Any]:
        found = await fetch_keyed(shape, model, ids, lambda keys: visible.filter(id__in=keys))
        rows = {row.pk: row for row in found}
        return [rows.get(pk) for pk in ids]

    return Loader(load_fn=load)


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
    activities: QuerySet[Activity], shape: Hashable, contact_ids: Sequence[int]
) -> list[ContactStats]:
    """Every KPI of every contact in one GROUP BY: always what the activities say."""
    records = await records_keyed(
        shape, Activity, contact_ids, lambda keys: _stats_query(activities, keys)
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
    visible: QuerySet, scope: Hashable, column: str, order: Sequence[str], **filters: Any
) -> DataLoader[int, list[Any]]:
    model = visible.model
    shape = (scope, "grouped", model, column, tuple(order), tuple(sorted(filters.items())))

    def query(keys: Keys) -> QuerySet:
        return visible.filter(**{f"{column}__in": keys}, **filters).order_by(*order)

    async def load(parent_ids: Sequence[int]) -> list[list[Any]]:
        groups: dict[int, list[Any]] = defaultdict(list)
        for row in await fetch_keyed(shape, model, parent_ids, query):
            groups[getattr(row, column)].append(row)
        return [groups.get(pk, []) for pk in parent_ids]

    return Loader(load_fn=load)


def _single(
    visible: QuerySet, scope: Hashable, column: str, **filters: Any
) -> DataLoader[int, Any]:
    model = visible.model
    shape = (scope, "single", model, column, tuple(sorted(filters.items())))

    def query(keys: Keys) -> QuerySet:
        return visible.filter(**{f"{column}__in": keys}, **filters)

    async def load(parent_ids: Sequence[int]) -> list[Any]:
        found = await fetch_keyed(shape, model, parent_ids, query)
        rows = {getattr(row, column): row for row in found}
        return [rows.get(pk) for pk in parent_ids]

    return Loader(load_fn=load)


_OTHER_MODELS: dict[str, type[Model]] = {
    "Channel": Channel,
    "Activity": Activity,
    "AuditEvent": AuditEvent,
    "ApiToken": ApiToken,
}


class Loaders:
    """The request's loaders; each is created on first use. Every statement they run starts
    from the rows the caller may see (``resolvers.access``); without an ``access`` (an
    anonymous request) they see nothing."""

    def __init__(self, access: Access | None) -> None:
        self.access = access
        # What the visible rows depend on: statements are cached by it (``keyed_sql``).
        self.scope: Hashable = "anonymous" if access is None else access.rows_key
        self._pages: dict[Hashable, DataLoader] = {}
        self._counts: dict[Hashable, DataLoader] = {}
        self._other_by_id: dict[str, DataLoader] = {}

    def close(self) -> None:
        """Let go of every loader, and so of every row the operation loaded.

        Some loaders' batch functions refer back to this object, so without this an
        operation's rows and futures form one cycle that only the cycle collector frees:
        about 1,900 objects for a 50-contact page, and a third of its time in collections.
        Loaders asked for afterwards start empty."""
        for name, value in list(vars(self).items()):
            if isinstance(value, DataLoader):
                del self.__dict__[name]
        self._pages.clear()
        self._counts.clear()
        self._other_by_id.clear()

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

    def by_type(self, type_name: str) -> DataLoader[int, Any]:
        """The by-id loader of any node type (``node`` and ``nodes`` use it)."""
        named = {
            "Account": "account_by_id",
            "Location": "location_by_id",
            "Contact": "contact_by_id",
            "User": "user_by_id",
            "Team": "team_by_id",
        }
        if type_name in named:
            return getattr(self, named[type_name])
        if type_name not in self._other_by_id:
            model = _OTHER_MODELS[type_name]
            self._other_by_id[type_name] = _by_id(self.rows(model), self.scope)
        return self._other_by_id[type_name]

    @cached_property
    def account_by_id(self) -> DataLoader[int, Account | None]:
        return _by_id(self.rows(Account), self.scope)

    @cached_property
    def location_by_id(self) -> DataLoader[int, Location | None]:
        return _by_id(self.rows(Location), self.scope)

    @cached_property
    def contact_by_id(self) -> DataLoader[int, Contact | None]:
        return _by_id(self.rows(Contact), self.scope)

    @cached_property
    def user_by_id(self) -> DataLoader[int, User | None]:
        return _by_id(self.rows(User), self.scope)

    @cached_property
    def team_by_id(self) -> DataLoader[int, Team | None]:
        return _by_id(self.rows(Team), self.scope)

    @cached_property
    def channels_by_contact(self) -> DataLoader[int, list[Channel]]:
        return _grouped(
            self.rows(Channel),
            self.scope,
            "contact_id",
            ("kind", "-is_primary", "created_at", "id"),
        )

    @cached_property
    def primary_channels_by_contact(self) -> DataLoader[int, dict[ChannelKind, str]]:
        """Each contact's primary value per kind (rule 3: at most one): three columns of the
        primary rows, where the contact's ``email``/``phone``/``mobile`` need no more."""
        visible = self.rows(Channel)
        shape = (self.scope, "primary_channels")

        def query(keys: Keys) -> ValuesListQuery:
            primary = visible.filter(contact_id__in=keys, is_primary=True)
            return primary.values_list("contact_id", "kind", "value")

        async def load(contact_ids: Sequence[int]) -> list[dict[ChannelKind, str]]:
            found: dict[int, dict[ChannelKind, str]] = defaultdict(dict)
            for contact_id, kind, value in await records_keyed(shape, Channel, contact_ids, query):
                found[contact_id][ChannelKind(kind)] = value
            return [found.get(pk, {}) for pk in contact_ids]

        return Loader(load_fn=load)

    @cached_property
    def addresses_by_contact(self) -> DataLoader[int, list[Location]]:
        return _grouped(
            self.rows(Location), self.scope, "contact_id", ("-is_default", "kind", "id")
        )

    @cached_property
    def main_location_by_account(self) -> DataLoader[int, Location | None]:
        return _single(self.rows(Location), self.scope, "account_id", kind=LocationKind.MAIN)

    @cached_property
    def preferred_contact_by_location(self) -> DataLoader[int, Contact | None]:
        return _single(
            self.rows(Contact),
            self.scope,
            "location_id",
            is_preferred=True,
            status=RecordStatus.ACTIVE,
        )

    @cached_property
    def stats_by_contact(self) -> DataLoader[int, ContactStats]:
        activities = self.rows(Activity)
        shape = (self.scope, "stats")

        async def load(contact_ids: Sequence[int]) -> list[ContactStats]:
            return await _stats(activities, shape, contact_ids)

        return Loader(load_fn=load)

    def page_by_parent(
        self,
        name: str,
        queryset: Callable[[], QuerySet],
        parent_column: str,
        ordering: Ordering,
        args: PageArgs,
        filter_key: Hashable = None,
    ) -> DataLoader[int, Page]:
        """One loader per (list, arguments): all parents asking alike share one statement."""
        key = (name, ordering, args, filter_key)
        if key not in self._pages:
            counter = self.count_by_parent(name, queryset, parent_column, filter_key)
            shape = (self.scope, "page", name, filter_key)

            async def load(parent_ids: Sequence[int]) -> list[Page]:
                rows = await paginate_per_parent(
                    self.visible(queryset()), parent_column, parent_ids, ordering, args, shape
                )
                return [
                    page_from_rows(rows[pk], ordering, args, _count_of(counter, pk))
                    for pk in parent_ids
                ]

            self._pages[key] = Loader(load_fn=load)
        return self._pages[key]

    def count_by_parent(
        self,
        name: str,
        queryset: Callable[[], QuerySet],
        parent_column: str,
        filter_key: Hashable = None,
    ) -> DataLoader[int, int]:
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
                model = queryset().model
                records = await records_keyed(shape, model, parent_ids, query)
                totals = {record[parent_column]: record["total"] for record in records}
                return [totals.get(pk, 0) for pk in parent_ids]

            self._counts[key] = Loader(load_fn=load)
        return self._counts[key]


def _count_of(counter: DataLoader[int, int], parent_id: int):
    async def count() -> int:
        return await counter.load(parent_id)

    return count
