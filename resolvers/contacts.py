"""Contacts: lists, the rules the contract names for them, and the mutations."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pypika_tortoise.terms import Term
from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

from engine.pagination import Ordering, Page, PageArgs, SortKey, paginate
from models import Channel, Contact, Location
from models.base import tag_keys
from models.enums import (
    AuditAction,
    ChannelKind,
    CustomFieldEntity,
    RecordStatus,
)
from models.registry import ENTITIES
from resolvers import channels as channel_rules
from resolvers import validation as check
from resolvers.access import Access
from resolvers.custom_fields import (
    Definitions,
    check_values,
    custom_field_condition,
    with_custom_field,
)
from resolvers.errors import Problem, ProblemCode, Problems, Rejected
from resolvers.ids import encode_id
from resolvers.inputs import NOT_SENT
from resolvers.listing import (
    created_between,
    filter_id,
    ordering,
    searched,
    with_equal,
    with_status,
    with_tag,
)
from resolvers.loaders import Loaders
from resolvers.unit_of_work import Unit, change

CONTACT_ORDER_KEYS = {
    "LAST_NAME": (SortKey("last_name"), SortKey("first_name")),
    "FIRST_NAME": (SortKey("first_name"), SortKey("last_name")),
    "CONTACT_NO": (SortKey("id", kind=int),),
    "CREATED_AT": (SortKey("created_at", kind=datetime),),
    "UPDATED_AT": (SortKey("updated_at", kind=datetime),),
}
NESTED_CONTACT_ORDER = ordering(None, CONTACT_ORDER_KEYS, "LAST_NAME")

AUDITED_FIELDS = ENTITIES["Contact"].audited

# What a shorthand input field writes: Contact.email is the primary EMAIL channel, etc.
SHORTHAND_KINDS = {"email": ChannelKind.EMAIL, "phone": ChannelKind.PHONE,
                   "mobile": ChannelKind.MOBILE}  # fmt: skip


# ---------------------------------------------------------------- reading


def contacts_queryset(
    access: Access, filter: Any, search: str | None, custom_field: Term | None = None
) -> QuerySet[Contact]:
    """The root ``contacts`` list: filters, search, and rule 5 (inactive hidden by default);
    ``custom_field``: the filter's ``customField`` (``custom_fields.custom_field_condition``)."""
    f = filter
    query = with_custom_field(with_status(access.rows(Contact), f), custom_field)
    if f is not None:
        exact = {
            "account_id": ("account_id", "Account"),
            "location_id": ("location_id", "Location"),
            "owner_id": ("owner_id", "User"),
        }
        for attribute, (column, type_name) in exact.items():
            value = getattr(f, attribute, None)
            if value is not None:
                query = query.filter(**{column: filter_id(value, type_name)})
        query = with_equal(query, f, "role", "is_vip", "is_preferred", "lead_source")
        if f.tag is not None:
            query = with_tag(query, f.tag)
        query = created_between(query, f)
    return searched(query, search, number_prefix="con")


async def list_contacts(
    access: Access,
    filter: Any,
    search: str | None,
    order: Ordering,
    args: PageArgs,
    columns: frozenset[str] | None = None,
) -> Page:
    condition = await custom_field_condition(
        CustomFieldEntity.CONTACT, getattr(filter, "custom_field", None)
    )
    query = contacts_queryset(access, filter, search, condition)
    return await paginate(query, order, args, columns)


def contacts_pages_of(
    loaders: Loaders,
    parent_ids: Sequence[int],
    args: PageArgs,
    columns: frozenset[str] | None = None,
    *,
    parent_column: str,
    include_inactive: bool = False,
) -> Awaitable[list[Page]]:
    """Contacts of accounts or locations, a page each, batched with their siblings."""

    def queryset() -> QuerySet[Contact]:
        if include_inactive:
            return Contact.all()
        return Contact.filter(status=RecordStatus.ACTIVE)

    loader = loaders.page_by_parent(
        f"contacts.{parent_column}",
        Contact,
        queryset,
        parent_column,
        NESTED_CONTACT_ORDER,
        args,
        filter_key=include_inactive,
        columns=columns,
    )
    return loader.load_many(parent_ids)


# ---------------------------------------------------------------- rules


async def make_preferred(unit: Unit, contacts: Sequence[Contact]) -> None:
    """Rule 1: one preferred contact per location; the previous one is un-preferred.

    Each of ``contacts`` becomes its location's preferred contact, two statements for any
    number of them; two at one location are a caller's error (a batch refuses them first).
    ``unit`` must hold the locations' locks (taken before any insert or update, in the lock
    order): they serialise concurrent calls on PostgreSQL; SQLite serialises every
    transaction. The partial unique index ``uq_contact_preferred`` holds the rule even if a
    writer forgets this function.
    """
    if not contacts:
        return
    locations = [contact.location_id for contact in contacts]
    if len(set(locations)) != len(locations):
        raise ValueError("two contacts made preferred at one location")
    for location in locations:
        unit.require_lock(Location, location)
    ids = [contact.id for contact in contacts]
    await (
        Contact.filter(location_id__in=locations, is_preferred=True)
        .exclude(id__in=ids)
        .update(is_preferred=False)
    )
    await Contact.filter(id__in=ids).update(is_preferred=True)
    for contact in contacts:
        contact.is_preferred = True


@dataclass(frozen=True, slots=True)
class Claims:
    """What one contact is about to hold that rule 4 keeps unique: its emails (normalized
    form -> the input path that gave it) and its document pair; ``contact``: its own id
    (an update), whose current channels and document do not count against it."""

    emails: dict[str, tuple[str, ...]]
    document: tuple[Any, str | None]
    contact: int | None = None
    document_path: tuple[str, ...] = ("documentNumber",)


async def duplicate_problems(
    access: Access,
    emails: dict[str, tuple[str, ...]],
    document: tuple[Any, str | None],
    exclude_contact: int | None,
    document_path: tuple[str, ...] = ("documentNumber",),
) -> list[Problem]:
    """Rule 4 for one contact (see ``duplicates_of``)."""
    [problems] = await duplicates_of(
        access, [Claims(emails, document, exclude_contact, document_path)]
    )
    return problems


async def duplicates_of(access: Access, claims: Sequence[Claims]) -> list[list[Problem]]:
    """Rule 4: an email belongs to one active contact; a document pair to one contact.

    The problems of each claim against what is stored, for any number of claims in three
    statements at most (emails, documents, the names of their holders). Rule 8 holds in the
    messages: they name the other contact only to a caller who sees it.
    """
    emails = {email for claim in claims for email in claim.emails}
    channels: list[Channel] = []
    if emails:
        channels = await Channel.filter(
            kind=ChannelKind.EMAIL, normalized__in=sorted(emails), contact_active=True
        )
    documents = {claim.document for claim in claims if claim.document[0] is not None
                 and claim.document[1]}  # fmt: skip
    holders: list[Contact] = []
    if documents:
        holders = await Contact.filter(
            document_type__in=sorted({kind for kind, _ in documents}),
            document_number__in=sorted({number for _, number in documents}),
        )
    visible = await _visible_contacts(
        access, {channel.contact_id for channel in channels} | {row.id for row in holders}
    )
    found: list[list[Problem]] = []
    for claim in claims:
        problems = Problems()
        for channel in channels:
            if channel.normalized in claim.emails and channel.contact_id != claim.contact:
                owner = visible.get(channel.contact_id)
                problems.add(
                    ProblemCode.DUPLICATE_EMAIL,
                    claim.emails[channel.normalized],
                    f"{channel.value} already belongs to {_named(owner)}."
                    if owner is not None
                    else "This email address already belongs to another active contact.",
                )
        document_type, document_number = claim.document
        for other in holders:
            if (other.document_type, other.document_number) == claim.document and (
                other.id != claim.contact
            ):
                owner = visible.get(other.id)
                problems.add(
                    ProblemCode.DUPLICATE_DOCUMENT,
                    claim.document_path,
                    f"{document_type} {document_number} already belongs to {_named(owner)}."
                    if owner is not None
                    else "This document already belongs to another contact.",
                )
        found.append(problems.items)
    return found


async def _visible_contacts(access: Access, ids: set[int]) -> dict[int, Contact]:
    """The contacts among ``ids`` this caller may see (rule 8), by id."""
    if not ids:
        return {}
    return {row.id: row for row in await access.rows(Contact).filter(id__in=list(ids))}


def _named(contact: Contact) -> str:
    return f"{contact.full_name} ({contact.contact_no}, id {encode_id('Contact', contact.id)})"


async def refresh_search(contact: Contact) -> None:
    channels = await Channel.filter(contact_id=contact.id)
    contact.search_text = contact.search_document(channels)
    await Contact.filter(id=contact.id).update(search_text=contact.search_text)


# ---------------------------------------------------------------- input checks


@dataclass(slots=True)
class ChannelSpec:
    kind: ChannelKind
    value: channel_rules.ChannelValue
    label: str | None
    primary: bool
    path: tuple[str, ...]


def _check_fields(
    problems: Problems,
    data: Any,
    region: str,
    current: Contact | None = None,
    definitions: Definitions | None = None,
) -> dict[str, Any]:
    """Validated column values of a create (no ``current``) or update input (only the fields
    sent); ``region`` reads the home phone (``region_of_site``); ``definitions``: the
    contacts' custom fields (``custom_fields.definitions_of``, read once per batch)."""
    creating = current is None
    values: dict[str, Any] = {}

    def sent(name: str) -> bool:
        return check.given(getattr(data, name, None)) and (
            creating is False or getattr(data, name, None) is not None
        )

    for name, limit, required in (
        ("first_name", 100, True),
        ("last_name", 100, True),
        ("salutation", 20, False),
        ("job_title", 120, False),
        ("document_number", 32, False),
    ):
        raw = getattr(data, name, None)
        if creating or check.given(raw):
            path = check.camel(name)
            values[name] = check.text(problems, path, None if raw is None else raw, limit,
                                      required=required)  # fmt: skip
    if sent("home_phone"):
        number = check.phone(problems, "homePhone", data.home_phone, region)
        values["home_phone"] = None if number is None else number.value
    if sent("image_url"):
        values["image_url"] = check.url(problems, "imageUrl", data.image_url, 500)
    if sent("birthday"):
        values["birthday"] = check.birthday(problems, "birthday", data.birthday)
    if sent("tags"):
        values["tags"] = check.tags(problems, "tags", data.tags)
        values["tag_keys"] = tag_keys(values["tags"])
    if creating or sent("custom_fields"):
        raw = getattr(data, "custom_fields", None)
        values["custom_fields"] = check_values(
            problems, "customFields", None if raw is NOT_SENT else raw, definitions or {},
            CustomFieldEntity.CONTACT, region, None if creating else current.custom_fields,
        )  # fmt: skip
    for name in ("role", "document_type", "lead_source"):
        if sent(name):
            values[name] = getattr(data, name)
    for name in ("is_vip", "portal_user", "email_opt_out", "converted_from_lead"):
        raw = getattr(data, name, None)
        if check.given(raw) and raw is not None:
            values[name] = raw
    if values.get("document_number") and "document_type" not in values and creating:
        problems.add(ProblemCode.REQUIRED, "documentType", "Give the type of the document.")
    if "document_number" in values or "document_type" in values:
        # The pair as it will be: a new type checks the number already stored too.
        kind = values.get("document_type", None if creating else current.document_type)
        number = values.get("document_number", None if creating else current.document_number)
        if number is not None:
            values["document_number"] = check.document(problems, "documentNumber", kind, number)
    return values


def _check_channels(problems: Problems, data: Any, region: str) -> list[ChannelSpec] | None:
    """Channels of the input: the ``channels`` list, then the email/phone/mobile shorthands;
    phone-like numbers read in ``region``.

    Returns None when neither was sent (on update: leave the channels as they are).
    """
    specs: list[ChannelSpec] = []
    sent_any = False
    channels = getattr(data, "channels", None)
    if check.given(channels) and channels is not None:
        sent_any = True
        most = channel_rules.MAX_CHANNELS
        if len(channels) > most:
            problems.add(ProblemCode.OUT_OF_RANGE, "channels", f"At most {most}.")
            channels = []
        for index, item in enumerate(channels):
            path = ("channels", str(index), "value")
            value = channel_rules.check_channel_value(problems, path, item.kind, item.value,
                                                      region)  # fmt: skip
            label = check.text(problems, ("channels", str(index), "label"), item.label, 60)
            if value is not None:
                specs.append(ChannelSpec(item.kind, value, label, bool(item.is_primary), path))
    for name, kind in SHORTHAND_KINDS.items():
        raw = getattr(data, name, None)
        if check.given(raw) and raw is not None:
            sent_any = True
            value = channel_rules.check_channel_value(problems, (name,), kind, raw, region)
            if value is not None:
                specs = [s for s in specs if not (s.kind == kind and s.primary)]
                specs.insert(0, ChannelSpec(kind, value, None, True, (name,)))
    return specs if sent_any else None


def _cleared_kinds(data: Any) -> list[ChannelKind]:
    """Shorthands sent as null: ``email: null`` removes the primary email."""
    return [
        kind
        for name, kind in SHORTHAND_KINDS.items()
        if check.given(getattr(data, name)) and getattr(data, name) is None
    ]


def _emails_of(specs: list[ChannelSpec]) -> dict[str, tuple[str, ...]]:
    return {s.value.normalized: s.path for s in specs if s.kind == ChannelKind.EMAIL}


def unique_violation(error: IntegrityError) -> Problem | None:
    """The rule-4 Problem of a unique index that fired under a race (None: another index)."""
    message = str(error).lower()
    if "email" in message or "normalized" in message:
        code, path, text = ProblemCode.DUPLICATE_EMAIL, ("email",), "email address"
    elif "documen" in message:  # PostgreSQL truncates the index name to "documen"
        code, path, text = ProblemCode.DUPLICATE_DOCUMENT, ("documentNumber",), "document"
    else:
        return None
    return Problem(code, path, f"Another contact took this {text} a moment ago.")


async def guard_unique(action):
    """Run a write; a unique index that fires under a race becomes the same Problem."""
    try:
        return await action()
    except IntegrityError as error:
        problem = unique_violation(error)
        if problem is None:
            raise
        raise Rejected([problem]) from None


# ---------------------------------------------------------------- mutations


async def set_status(access: Access, gid: str, active: bool) -> Contact:
    """deactivateContact / activateContact; rule 5: nothing is deleted either way."""
    viewer = access.user
    problems = Problems()
    contact = await access.find(problems, Contact, gid, "id")
    if contact is None:
        raise Rejected(problems.items)
    target = RecordStatus.ACTIVE if active else RecordStatus.INACTIVE
    if contact.status == target:
        raise Rejected.one(
            ProblemCode.ALREADY_IN_STATE, "id", f"The contact is already {target.value}."
        )
    if active:
        emails = {
            channel.normalized: ("id",)
            for channel in await Channel.filter(contact_id=contact.id, kind=ChannelKind.EMAIL)
        }
        duplicates = await duplicate_problems(access, emails, (None, None), contact.id)
        if duplicates:
            raise Rejected(duplicates)

    async def write() -> Contact:
        async with change(viewer, locations=[contact.location_id]) as unit:
            changes = {"status": {"from": "INACTIVE" if active else "ACTIVE", "to": target.value}}
            contact.status = target
            if not active and contact.is_preferred:
                # An inactive contact is nobody's preferred one; the location has none until
                # someone is made preferred (nobody is promoted in its place), and the audit
                # event says the flag went.
                contact.is_preferred = False
                changes["isPreferred"] = {"from": True, "to": False}
            await contact.save_changes("status", "is_preferred")
            await Channel.filter(contact_id=contact.id).update(contact_active=active)
            await unit.record(
                AuditAction.ACTIVATED if active else AuditAction.DEACTIVATED,
                contact, contact.full_name, changes,
            )  # fmt: skip
            return contact

    return await guard_unique(write)


async def set_preferred(access: Access, gid: str) -> Contact:
    viewer = access.user
    problems = Problems()
    contact = await access.find(problems, Contact, gid, "id")
    if contact is None:
        raise Rejected(problems.items)
    if contact.status != RecordStatus.ACTIVE:
        raise Rejected.one(ProblemCode.INACTIVE, "id", "An inactive contact cannot be preferred.")
    async with change(viewer, locations=[contact.location_id]) as unit:
        was = contact.is_preferred
        await make_preferred(unit, [contact])
        await unit.record(
            AuditAction.UPDATED, contact, contact.full_name,
            {"isPreferred": {"from": was, "to": True}},
        )  # fmt: skip
    return contact
