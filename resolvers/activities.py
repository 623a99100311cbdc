"""Activities: lists, rule 2 (the preferred contact by default), and the mutations."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from engine.pagination import Ordering, Page, PageArgs, SortKey, paginate
from models import Account, Activity, Contact, Location
from models.enums import (
    EVENT_STATUSES,
    TODO_STATUSES,
    ActivityKind,
    ActivityStatus,
    AuditAction,
    LocationKind,
    RecordStatus,
)
from models.registry import ENTITIES
from resolvers import audit
from resolvers import validation as check
from resolvers.access import Access
from resolvers.errors import ProblemCode, Problems, Rejected
from resolvers.listing import created_between, filter_id, ordering, searched, with_equal
from resolvers.loaders import Loaders
from resolvers.unit_of_work import change

M = TypeVar("M", bound=Model)

ACTIVITY_ORDER_KEYS = {
    "CREATED_AT": (SortKey("created_at", kind=datetime),),
    "UPDATED_AT": (SortKey("updated_at", kind=datetime),),
}
NEWEST_FIRST = ordering(None, ACTIVITY_ORDER_KEYS, "CREATED_AT", default_descending=True)

MAX_SUBJECT_LENGTH = 200
MAX_BODY_LENGTH = 10_000
MAX_DURATION_SECONDS = 7 * 24 * 3600

ALLOWED_STATUSES: dict[ActivityKind, frozenset[ActivityStatus]] = {
    ActivityKind.CALL: EVENT_STATUSES,
    ActivityKind.MEETING: EVENT_STATUSES,
    ActivityKind.TASK: TODO_STATUSES,
    ActivityKind.EMAIL: TODO_STATUSES,
    ActivityKind.NOTE: frozenset(),
}
DEFAULT_STATUS: dict[ActivityKind, ActivityStatus | None] = {
    ActivityKind.CALL: ActivityStatus.PLANNED,
    ActivityKind.MEETING: ActivityStatus.PLANNED,
    ActivityKind.TASK: ActivityStatus.NOT_STARTED,
    ActivityKind.EMAIL: ActivityStatus.NOT_STARTED,
    ActivityKind.NOTE: None,
}

AUDITED_FIELDS = ENTITIES["Activity"].audited


# ---------------------------------------------------------------- reading


def activities_queryset(access: Access, filter: Any, search: str | None) -> QuerySet[Activity]:
    query = access.rows(Activity)
    if filter is not None:
        for attribute, type_name in (
            ("account_id", "Account"),
            ("location_id", "Location"),
            ("contact_id", "Contact"),
            ("owner_id", "User"),
        ):
            value = getattr(filter, attribute, None)
            if value is not None:
                query = query.filter(**{attribute: filter_id(value, type_name)})
        query = with_equal(query, filter, "kind", "status", "call_direction")
        query = created_between(query, filter)
    return searched(query, search)


async def list_activities(
    access: Access,
    filter: Any,
    search: str | None,
    order: Ordering,
    args: PageArgs,
    columns: frozenset[str] | None = None,
) -> Page:
    return await paginate(activities_queryset(access, filter, search), order, args, columns)


def activities_pages_of(
    loaders: Loaders,
    parent_ids: Sequence[int],
    args: PageArgs,
    columns: frozenset[str] | None = None,
    *,
    parent_column: str,
) -> Awaitable[list[Page]]:
    """Newest activities of accounts, locations or contacts, a page each, in one batch."""
    loader = loaders.page_by_parent(
        f"activities.{parent_column}",
        Activity,
        Activity.all,
        parent_column,
        NEWEST_FIRST,
        args,
        columns=columns,
    )
    return loader.load_many(parent_ids)


# ---------------------------------------------------------------- rules


async def default_contact_for(location: Location) -> Contact | None:
    """Rule 2: an activity without a contact gets its location's (active) preferred contact."""
    return await Contact.get_or_none(
        location_id=location.id, is_preferred=True, status=RecordStatus.ACTIVE
    )


def status_fits(kind: ActivityKind, status: ActivityStatus | None) -> bool:
    """Events are PLANNED/HELD/NOT_HELD, tasks and emails NOT_STARTED…CANCELLED, notes none."""
    return status in ALLOWED_STATUSES[kind] if status is not None else kind == ActivityKind.NOTE


# ---------------------------------------------------------------- input checks


@dataclass(frozen=True, slots=True)
class Target:
    """Where an activity belongs: always an account; a location and contact when known."""

    account: Account
    location: Location | None
    contact: Contact | None


async def resolve_target(
    access: Access, problems: Problems, account_gid: Any, location_gid: Any, contact_gid: Any
) -> Target | None:
    """Account, location and contact of an activity from the ids given (at least one).

    The contact brings its account and location; a location brings its account; an account
    alone means its main location. Without a contact, rule 2 picks the preferred one.
    """
    if account_gid is None and location_gid is None and contact_gid is None:
        problems.add(
            ProblemCode.TARGET_REQUIRED, (), "Give an accountId, a locationId or a contactId."
        )
        return None
    account = await access.find(problems, Account, account_gid, "accountId")
    location = await access.find(problems, Location, location_gid, "locationId")
    contact = await access.find(problems, Contact, contact_gid, "contactId")
    if (
        (account_gid is not None and account is None)
        or (location_gid is not None and location is None)
        or (contact_gid is not None and contact is None)
    ):
        return None
    if contact is not None:
        if account is not None and account.id != contact.account_id:
            problems.add(
                ProblemCode.CONTACT_MISMATCH,
                "contactId",
                f"{contact.full_name} is a contact of another account, not of {account.name}.",
            )
            return None
        account = account or await Account.get(id=contact.account_id)
        location = location or await Location.get(id=contact.location_id)
    elif account is None:
        account = await Account.get(id=location.account_id)
    if location is not None and location.account_id != account.id:
        problems.add(
            ProblemCode.LOCATION_MISMATCH,
            "locationId",
            f"This location belongs to another account, not to {account.name}.",
        )
        return None
    if location is None:
        location = await Location.get_or_none(account_id=account.id, kind=LocationKind.MAIN)
    if contact is None and location is not None:
        contact = await default_contact_for(location)
    return Target(account, location, contact)


def _utc(value: datetime | None) -> datetime | None:
    """Timestamps are kept in UTC; one sent without a zone is read as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _check_fields(problems: Problems, data: Any, current: Activity | None) -> dict[str, Any]:
    """Validated column values of a create (``current`` None) or update input.

    On update only the fields sent are checked, against the activity as it would become.
    """
    creating = current is None
    values: dict[str, Any] = {}

    def sent(name: str) -> bool:
        return creating or check.given(getattr(data, name))

    def final(name: str) -> Any:
        return values[name] if name in values else getattr(current, name, None)

    if sent("kind"):
        if data.kind is None:
            problems.add(ProblemCode.REQUIRED, "kind", "An activity has a kind.")
        else:
            values["kind"] = data.kind
    if sent("subject"):
        values["subject"] = check.text(
            problems, "subject", data.subject, MAX_SUBJECT_LENGTH, required=True
        )
    if sent("body"):
        values["body"] = check.text(problems, "body", data.body, MAX_BODY_LENGTH, long=True)
    for name in ("starts_at", "ends_at", "due_at", "completed_at"):
        if sent(name):
            values[name] = _utc(getattr(data, name))
    if sent("duration_seconds"):
        values["duration_seconds"] = check.integer(
            problems, "durationSeconds", data.duration_seconds, 0, MAX_DURATION_SECONDS
        )
    starts_at, ends_at = final("starts_at"), final("ends_at")
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        problems.add(ProblemCode.INVALID_DATE, "endsAt", "An activity cannot end before it starts.")
    kind = final("kind")
    if kind is None:
        return values
    if creating:
        status = data.status if data.status is not None else DEFAULT_STATUS[kind]
    elif check.given(data.status):
        status = data.status  # sent, null included: it must fit the kind
    elif status_fits(kind, current.status):
        status = current.status
    else:
        status = DEFAULT_STATUS[kind]  # the kind changed: start over with the new kind's default
    if status_fits(kind, status):
        values["status"] = status
    else:
        problems.add(ProblemCode.INVALID_STATUS, "status", _status_message(kind))
    direction = data.call_direction if sent("call_direction") else final("call_direction")
    if direction is not None and kind != ActivityKind.CALL and sent("call_direction"):
        problems.add(ProblemCode.INVALID_KIND, "callDirection", "Only a call has a direction.")
    else:
        values["call_direction"] = direction if kind == ActivityKind.CALL else None
    if values.get("status") == ActivityStatus.COMPLETED and final("completed_at") is None:
        values["completed_at"] = datetime.now(UTC)
    return values


def _status_message(kind: ActivityKind) -> str:
    allowed = sorted(ALLOWED_STATUSES[kind])
    if not allowed:
        return f"A {kind.value} has no status."
    return f"A {kind.value} takes one of {', '.join(allowed)}."


def _place(activity: Activity, target: Target) -> None:
    activity.account_id = target.account.id
    activity.location_id = target.location.id if target.location else None
    activity.contact_id = target.contact.id if target.contact else None


# ---------------------------------------------------------------- mutations


async def create_activity(access: Access, data: Any) -> Activity:
    """createActivity; raises Rejected with every problem found, having written nothing."""
    viewer = access.user
    problems = Problems()
    values = _check_fields(problems, data, None)
    target = await resolve_target(
        access, problems, data.account_id, data.location_id, data.contact_id
    )
    owner_id = (
        viewer.id if data.owner_id is None else await access.owner_id(problems, data.owner_id)
    )
    if problems:
        raise Rejected(problems.items)
    async with change(viewer) as unit:
        activity = Activity(**values, owner_id=owner_id)
        _place(activity, target)
        activity.search_text = activity.search_document()
        await activity.save()
        await unit.record(
            AuditAction.CREATED, activity, activity.subject,
            audit.diff({}, audit.snapshot(activity, AUDITED_FIELDS)),
        )  # fmt: skip
    return activity


async def update_activity(access: Access, data: Any) -> Activity:
    """updateActivity: only the fields sent change; ids sent re-place it as create would."""
    viewer = access.user
    problems = Problems()
    activity = await access.find(problems, Activity, data.id, "id")
    if activity is None:
        raise Rejected(problems.items)
    values = _check_fields(problems, data, activity)
    target_ids = (data.account_id, data.location_id, data.contact_id)
    target = None
    if any(check.given(gid) for gid in target_ids):
        target = await resolve_target(
            access, problems, *(gid if check.given(gid) else None for gid in target_ids)
        )
    if check.given(data.owner_id):
        values["owner_id"] = (
            None if data.owner_id is None else await access.owner_id(problems, data.owner_id)
        )
    if problems:
        raise Rejected(problems.items)
    async with change(viewer) as unit:
        before = audit.snapshot(activity, AUDITED_FIELDS)
        for name, value in values.items():
            setattr(activity, name, value)
        if target is not None:
            _place(activity, target)
        activity.search_text = activity.search_document()
        placed = ("account_id", "location_id", "contact_id") if target is not None else ()
        await activity.save_changes(*values, *placed, "search_text")
        await unit.record(
            AuditAction.UPDATED, activity, activity.subject,
            audit.diff(before, audit.snapshot(activity, AUDITED_FIELDS)),
        )  # fmt: skip
    return activity


async def delete_activity(access: Access, gid: str) -> Activity:
    """deleteActivity; returns the activity as it was, and its audit event keeps the values."""
    viewer = access.user
    problems = Problems()
    activity = await access.find(problems, Activity, gid, "id")
    if activity is None:
        raise Rejected(problems.items)
    async with change(viewer) as unit:
        changes = {
            name: {"from": value, "to": None}
            for name, value in audit.snapshot(activity, AUDITED_FIELDS).items()
            if value is not None
        }
        # Of two deletions sent at once, the second deletes no row: it is told so.
        if not await Activity.filter(id=activity.id).delete():
            raise Rejected.one(ProblemCode.NOT_FOUND, "id", "No activity has this id.")
        await unit.record(AuditAction.DELETED, activity, activity.subject, changes)
    return activity
