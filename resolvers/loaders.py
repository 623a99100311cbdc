"""The domains' loaders, built once per operation: the engine's kinds (``engine.loaders``)
over the rows the caller may see (``resolvers.access``), and the few lookups of their own
(a contact's primary channels, its figures)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property, partial
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Count, Max, Min
from tortoise.models import Model
from tortoise.queryset import QuerySet, ValuesListQuery, ValuesQuery

from engine.loaders import Loader, LoadersBase
from engine.rows import Keys, Statements
from models import Activity, Channel, Contact, Document, Location
from models.enums import (
    EVENT_KINDS,
    TODO_KINDS,
    ActivityStatus,
    ChannelKind,
    LocationKind,
    RecordStatus,
    ReviewStatus,
)
from models.registry import ENTITIES, Visibility
from resolvers.access import Access


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
    activities: Callable[[], QuerySet[Activity]], statements: Statements, contact_ids: Sequence[int]
) -> list[ContactStats]:
    """Every KPI of every contact in one GROUP BY: always what the activities say."""
    records = await statements.records(
        ("stats",), Activity, contact_ids, lambda keys: _stats_query(activities(), keys)
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


@dataclass(frozen=True, slots=True)
class DocumentStats:
    total: int = 0
    pending: int = 0
    valid: int = 0
    rejected: int = 0


def _document_stats_query(documents: QuerySet[Document], contact_ids: Keys) -> ValuesQuery:
    return (
        documents.filter(contact_id__in=contact_ids)
        .group_by("contact_id", "review_status")
        .annotate(documents=Count("id"))
        .values("contact_id", "review_status", "documents")
    )


_MODELS = {entity.name: entity.model for entity in ENTITIES}


class Loaders(LoadersBase):
    """The request's loaders. Without an ``access`` (an anonymous request) they see
    nothing."""

    def __init__(self, access: Access | None) -> None:
        super().__init__("anonymous" if access is None else access.rows_key, _MODELS)
        self.access = access

    def rows(self, model: type[Model]) -> QuerySet:
        if self.access is None:
            return model.filter(id__in=[])
        return self.access.rows(model)

    def visible(self, queryset: QuerySet) -> QuerySet:
        if self.access is None:
            return queryset.filter(id__in=[])
        entity = ENTITIES.of(queryset.model)
        if entity is not None and entity.visibility is Visibility.AUDITORS:
            return queryset  # an entity's own history is visible with the entity
        condition = self.access.condition(queryset.model)
        return queryset if condition is None else queryset.filter(condition)

    @cached_property
    def channels_by_contact(self) -> Loader[int, list[Channel]]:
        return self.grouped(Channel, "contact_id", ("kind", "-is_primary", "created_at", "id"))

    @cached_property
    def primary_channels_by_contact(self) -> Loader[int, dict[ChannelKind, str]]:
        """Each contact's primary value per kind (rule 3: at most one): three columns of the
        primary rows, where the contact's ``email``/``phone``/``mobile`` need no more."""

        def query(keys: Keys) -> ValuesListQuery:
            primary = self.rows(Channel).filter(contact_id__in=keys, is_primary=True)
            return primary.values_list("contact_id", "kind", "value")

        async def load(contact_ids: Sequence[int]) -> list[dict[ChannelKind, str]]:
            found: dict[int, dict[ChannelKind, str]] = defaultdict(dict)
            records = await self.statements.records(
                ("primary_channels",), Channel, contact_ids, query
            )
            for contact_id, kind, value in records:
                found[contact_id][ChannelKind(kind)] = value
            return [found.get(pk, {}) for pk in contact_ids]

        return Loader(load)

    @cached_property
    def addresses_by_contact(self) -> Loader[int, list[Location]]:
        return self.grouped(Location, "contact_id", ("-is_default", "kind", "id"))

    @cached_property
    def main_location_by_account(self) -> Loader[int, Location | None]:
        return self.single(Location, "account_id", kind=LocationKind.MAIN)

    @cached_property
    def preferred_contact_by_location(self) -> Loader[int, Contact | None]:
        return self.single(Contact, "location_id", is_preferred=True, status=RecordStatus.ACTIVE)

    @cached_property
    def stats_by_contact(self) -> Loader[int, ContactStats]:
        async def load(contact_ids: Sequence[int]) -> list[ContactStats]:
            return await _stats(partial(self.rows, Activity), self.statements, contact_ids)

        return Loader(load)

    @cached_property
    def document_stats_by_contact(self) -> Loader[int, DocumentStats]:
        """Each contact's documents counted by review status in one GROUP BY: always what
        its documents say."""

        async def load(contact_ids: Sequence[int]) -> list[DocumentStats]:
            records = await self.statements.records(
                ("document_stats",), Document, contact_ids,
                lambda keys: _document_stats_query(self.rows(Document), keys),
            )  # fmt: skip
            counts: dict[int, dict[str, int]] = defaultdict(dict)
            for record in records:
                status = ReviewStatus(record["review_status"]).value.lower()
                counts[record["contact_id"]][status] = record["documents"]
            return [
                DocumentStats(total=sum(counts[pk].values()), **counts[pk])
                if pk in counts else DocumentStats()
                for pk in contact_ids
            ]

        return Loader(load)
