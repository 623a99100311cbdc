"""Reading the audit trail: the root list and each record's own history."""

from __future__ import annotations

from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.queryset import QuerySet

from engine.pagination import Ordering, Page, PageArgs, SortKey, paginate
from models import AuditEvent
from resolvers.access import Access
from resolvers.errors import BadInput
from resolvers.listing import plain_text, searched
from resolvers.loaders import Loaders

NEWEST_FIRST = Ordering.of(SortKey("occurred_at", True, datetime), SortKey("id", True, int))
AUDIT_ORDER_KEYS = {"OCCURRED_AT": (SortKey("occurred_at", kind=datetime),)}


# The server's time zone (``--time-zone``, ``CRM_TIME_ZONE``), set per request by the server.
TIME_ZONE: ContextVar[str] = ContextVar("time_zone", default="America/Lima")


@contextmanager
def time_zone(name: str) -> Iterator[None]:
    """Audit periods count the days of ``name`` inside."""
    token = TIME_ZONE.set(name)
    try:
        yield
    finally:
        TIME_ZONE.reset(token)


def period_start(period: str, now: datetime | None = None) -> datetime:
    """Start of TODAY, THIS_WEEK (Monday), THIS_MONTH or THIS_YEAR: a midnight of the
    server's time zone (``TIME_ZONE``), as a UTC instant."""
    zone = ZoneInfo(TIME_ZONE.get())  # cached by zoneinfo
    day = (now or datetime.now(UTC)).astimezone(zone).date()
    if period == "TODAY":
        start = day
    elif period == "THIS_WEEK":
        start = day - timedelta(days=day.weekday())
    elif period == "THIS_MONTH":
        start = day.replace(day=1)
    elif period == "THIS_YEAR":
        start = day.replace(month=1, day=1)
    else:
        raise ValueError(period)
    # Midnight as the zone's clocks show it (fold 0: the first, if a clock change repeats it).
    return datetime.combine(start, datetime.min.time(), zone).astimezone(UTC)


def events_queryset(access: Access, filter: Any, search: str | None) -> QuerySet[AuditEvent]:
    query = access.rows(AuditEvent)
    if filter is not None:
        if filter.action is not None:
            query = query.filter(action=filter.action)
        if filter.resource_type is not None:
            query = query.filter(resource_type=plain_text(filter.resource_type, "filter"))
        if filter.occurred_after is not None:
            query = query.filter(occurred_at__gte=filter.occurred_after)
        if filter.occurred_before is not None:
            query = query.filter(occurred_at__lt=filter.occurred_before)
        if filter.period is not None:
            query = query.filter(occurred_at__gte=period_start(filter.period.value))
        if (
            filter.occurred_after is not None
            and filter.occurred_before is not None
            and filter.occurred_after > filter.occurred_before
        ):
            raise BadInput("`occurredAfter` is later than `occurredBefore`.", argument="filter")
    # Text search covers the actor's and the resource's names, as the audit screen does.
    return searched(query, search)


async def list_events(
    access: Access, filter: Any, search: str | None, order: Ordering, args: PageArgs
) -> Page:
    return await paginate(events_queryset(access, filter, search), order, args)


def events_pages_of(
    loaders: Loaders,
    resource_ids: Sequence[int],
    args: PageArgs,
    columns: frozenset[str] | None = None,
    *,
    resource_type: str,
) -> Awaitable[list[Page]]:
    loader = loaders.page_by_parent(
        f"audit.{resource_type}",
        AuditEvent,
        lambda: AuditEvent.filter(resource_type=resource_type),
        "resource_id",
        NEWEST_FIRST,
        args,
        columns=columns,
    )
    return loader.load_many(resource_ids)
