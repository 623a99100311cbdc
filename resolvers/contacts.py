"""Contacts: lists, the rules the contract names for them, and the mutations."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

from engine.pagination import Ordering, Page, PageArgs, SortKey, paginate
from models import Account, Channel, Contact, Location
from models.enums import (
    CONTACT_ADDRESS_KINDS,
    AuditAction,
    CaptureSource,
    ChannelKind,
    RecordStatus,
)
from models.registry import ENTITIES
from resolvers import audit
from resolvers import channels as channel_rules
from resolvers import validation as check
from resolvers.access import Access
from resolvers.errors import Problem, ProblemCode, Problems, Rejected
from resolvers.ids import encode_id
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
from resolvers.locations import region_of_site
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


def contacts_queryset(access: Access, filter: Any, search: str | None) -> QuerySet[Contact]:
    """The root ``contacts`` list: filters, search, and rule 5 (inactive hidden by default)."""
    f = filter
    query = with_status(access.rows(Contact), f)
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
    return await paginate(contacts_queryset(access, filter, search), order, args, columns)


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


async def make_preferred(unit: Unit, contact: Contact) -> None:
    """Rule 1: one preferred contact per location; the previous one is un-preferred.

    ``unit`` must hold the location's lock (taken before any insert or update, in the lock
    order): it serialises concurrent calls on PostgreSQL; SQLite serialises every
    transaction. The partial unique index ``uq_contact_preferred`` holds the rule even if a
    writer forgets this function.
    """
    unit.require_lock(Location, contact.location_id)
    await (
        Contact.filter(location_id=contact.location_id, is_preferred=True)
        .exclude(id=contact.id)
        .update(is_preferred=False)
    )
    await Contact.filter(id=contact.id).update(is_preferred=True)
    contact.is_preferred = True


async def duplicate_problems(
    access: Access,
    emails: dict[str, tuple[str, ...]],
    document: tuple[Any, str | None],
    exclude_contact: int | None,
    document_path: tuple[str, ...] = ("documentNumber",),
) -> list[Problem]:
    """Rule 4: an email belongs to one active contact; a document pair to one contact.

    Rule 8 holds in the messages: they name the other contact only to a caller who sees it.
    """
    problems = Problems()
    if emails:
        taken = Channel.filter(
            kind=ChannelKind.EMAIL, normalized__in=list(emails), contact_active=True
        )
        if exclude_contact is not None:
            taken = taken.exclude(contact_id=exclude_contact)
        channels = await taken
        visible = await _visible_contacts(access, {channel.contact_id for channel in channels})
        for channel in channels:
            owner = visible.get(channel.contact_id)
            problems.add(
                ProblemCode.DUPLICATE_EMAIL,
                emails[channel.normalized],
                f"{channel.value} already belongs to {_named(owner)}."
                if owner is not None
                else "This email address already belongs to another active contact.",
            )
    document_type, document_number = document
    if document_type is not None and document_number:
        same = Contact.filter(document_type=document_type, document_number=document_number)
        if exclude_contact is not None:
            same = same.exclude(id=exclude_contact)
        other = await same.first()
        if other is not None:
            owner = (await _visible_contacts(access, {other.id})).get(other.id)
            problems.add(
                ProblemCode.DUPLICATE_DOCUMENT,
                document_path,
                f"{document_type} {document_number} already belongs to {_named(owner)}."
                if owner is not None
                else "This document already belongs to another contact.",
            )
    return problems.items


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
    problems: Problems, data: Any, region: str, current: Contact | None = None
) -> dict[str, Any]:
    """Validated column values of a create (no ``current``) or update input (only the fields
    sent); ``region`` reads the home phone (``region_of_site``)."""
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
    if sent("custom_fields"):
        values["custom_fields"] = check.custom_fields(problems, "customFields", data.custom_fields)
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


async def _resolve_placement(
    access: Access,
    problems: Problems,
    account_gid: Any,
    location_gid: Any,
    current: Contact | None,
) -> tuple[Account | None, Location | None]:
    """Account and location of a contact; rule 7: the location is one of the account's."""
    account = None
    if check.given(account_gid) and account_gid is not None:
        account = await access.find(problems, Account, account_gid, "accountId")
    elif current is not None:
        account = await Account.get(id=current.account_id)
    else:
        problems.add(ProblemCode.REQUIRED, "accountId", "A contact belongs to an account.")
    location = None
    if check.given(location_gid) and location_gid is not None:
        location = await access.find(problems, Location, location_gid, "locationId")
    elif current is not None and account is not None and account.id == current.account_id:
        location = await Location.get(id=current.location_id)
    elif account is not None:
        location = await Location.get_or_none(account_id=account.id, kind="MAIN")
    if account is not None and location is not None:
        if location.account_id != account.id:
            problems.add(
                ProblemCode.LOCATION_MISMATCH,
                "locationId",
                f"This location belongs to another account, not to {account.name}.",
            )
        elif location.kind in CONTACT_ADDRESS_KINDS and location.contact_id is not None:
            problems.add(
                ProblemCode.INVALID_KIND,
                "locationId",
                "This is a contact's own address, not a site of the account.",
            )
    return account, location


async def _write_channels(contact: Contact, specs: list[ChannelSpec]) -> None:
    # A primary asked for explicitly wins; otherwise the first of each kind (rule 3).
    ordered = sorted(specs, key=lambda s: not s.primary)
    for spec in ordered:
        await channel_rules.add_channel_row(
            contact, spec.kind, spec.value, spec.label, spec.primary
        )


async def guard_unique(action):
    """Run a write; a unique index that fires under a race becomes the same Problem."""
    try:
        return await action()
    except IntegrityError as error:
        message = str(error).lower()
        if "email" in message or "normalized" in message:
            code, path, text = ProblemCode.DUPLICATE_EMAIL, ("email",), "email address"
        elif "documen" in message:  # PostgreSQL truncates the index name to "documen"
            code, path, text = ProblemCode.DUPLICATE_DOCUMENT, ("documentNumber",), "document"
        else:
            raise
        raise Rejected.one(code, path, f"Another contact took this {text} a moment ago.") from None


# ---------------------------------------------------------------- mutations


async def create_contact(access: Access, data: Any) -> Contact:
    """createContact; raises Rejected with every problem found, having written nothing."""
    viewer = access.user
    problems = Problems()
    account, location = await _resolve_placement(
        access, problems, data.account_id, data.location_id, None
    )
    region = await region_of_site(
        location.id if location else None, account.id if account else None
    )
    values = _check_fields(problems, data, region)
    specs = _check_channels(problems, data, region) or []
    owner_id = None if data.owner_id is None else await access.owner_id(problems, data.owner_id)
    if problems:
        raise Rejected(problems.items)
    duplicates = await duplicate_problems(
        access,
        _emails_of(specs),
        (values.get("document_type"), values.get("document_number")),
        None,
    )
    if duplicates:
        raise Rejected(duplicates)

    async def write() -> Contact:
        # The location is locked before the insert's foreign-key check takes its key-share lock.
        async with change(viewer, locations=[location.id] if data.is_preferred else []) as unit:
            contact = await Contact.create(
                **values,
                account_id=account.id,
                location_id=location.id,
                owner_id=owner_id if owner_id is not None else account.owner_id,
                created_by_id=viewer.id,
                capture_source=CaptureSource.API,
            )
            if data.is_preferred:
                await make_preferred(unit, contact)
            await _write_channels(contact, specs)
            await refresh_search(contact)
            await unit.record(
                AuditAction.CREATED, contact, contact.full_name,
                audit.diff({}, audit.snapshot(contact, AUDITED_FIELDS)),
            )  # fmt: skip
            return contact

    return await guard_unique(write)


async def update_contact(access: Access, data: Any) -> Contact:
    viewer = access.user
    problems = Problems()
    contact = await access.find(problems, Contact, data.id, "id")
    if contact is None:
        raise Rejected(problems.items)
    moving = check.given(data.account_id) or check.given(data.location_id)
    account, location = (
        await _resolve_placement(access, problems, data.account_id, data.location_id, contact)
        if moving
        else (None, None)
    )
    # New numbers are read where the contact will be; the stored ones are not read again.
    region = await region_of_site(
        location.id if moving and location else contact.location_id,
        account.id if moving and account else contact.account_id,
    )
    values = _check_fields(problems, data, region, contact)
    specs = _check_channels(problems, data, region)
    if check.given(data.owner_id):
        values["owner_id"] = (
            None if data.owner_id is None else await access.owner_id(problems, data.owner_id)
        )
    if values.get("document_number") and not (values.get("document_type") or contact.document_type):
        problems.add(ProblemCode.REQUIRED, "documentType", "Give the type of the document.")
    if problems:
        raise Rejected(problems.items)
    document = (
        values.get("document_type", contact.document_type),
        values.get("document_number", contact.document_number),
    )
    emails = _emails_of(specs or [])
    duplicates = await duplicate_problems(
        access, emails if contact.status == RecordStatus.ACTIVE else {}, document, contact.id
    )
    if duplicates:
        raise Rejected(duplicates)

    async def write() -> Contact:
        placed = [contact.location_id, *([location.id] if moving else [])]
        async with change(viewer, locations=placed) as unit:
            before = audit.snapshot(contact, AUDITED_FIELDS)
            if moving and location.id != contact.location_id:
                # Moving away un-prefers: rule 1 is per location.
                values["is_preferred"] = False
            if moving:
                values["account_id"] = account.id
                values["location_id"] = location.id
            for name, value in values.items():
                setattr(contact, name, value)
            await contact.save_changes(*values)
            if check.given(data.is_preferred) and data.is_preferred is not None:
                if data.is_preferred:
                    await make_preferred(unit, contact)
                else:
                    await Contact.filter(id=contact.id).update(is_preferred=False)
                    contact.is_preferred = False
            if specs is not None:
                await _replace_channels(contact, data, specs)
            for kind in _cleared_kinds(data):
                await Channel.filter(contact_id=contact.id, kind=kind, is_primary=True).delete()
                await channel_rules.promote_oldest(contact.id, kind)
            await refresh_search(contact)
            changes = audit.diff(before, audit.snapshot(contact, AUDITED_FIELDS))
            await unit.record(AuditAction.UPDATED, contact, contact.full_name, changes)
            return contact

    return await guard_unique(write)


async def _replace_channels(contact: Contact, data: Any, specs: list[ChannelSpec]) -> None:
    """``channels`` replaces the whole set; a shorthand alone replaces its kind's primary."""
    if check.given(getattr(data, "channels", None)) and data.channels is not None:
        await Channel.filter(contact_id=contact.id).delete()
        await _write_channels(contact, specs)
        return
    for spec in specs:
        current = await Channel.get_or_none(contact_id=contact.id, kind=spec.kind, is_primary=True)
        if current is not None:
            current.value, current.normalized, current.e164 = (
                spec.value.value, spec.value.normalized, spec.value.e164
            )  # fmt: skip
            await current.save()
        else:
            await channel_rules.add_channel_row(contact, spec.kind, spec.value, None, True)


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
            contact.status = target
            if not active:
                contact.is_preferred = False  # an inactive contact cannot be the default one
            await contact.save_changes("status", "is_preferred")
            await Channel.filter(contact_id=contact.id).update(contact_active=active)
            await unit.record(
                AuditAction.ACTIVATED if active else AuditAction.DEACTIVATED,
                contact, contact.full_name,
                {"status": {"from": "INACTIVE" if active else "ACTIVE", "to": target.value}},
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
        await make_preferred(unit, contact)
        await unit.record(
            AuditAction.UPDATED, contact, contact.full_name,
            {"isPreferred": {"from": was, "to": True}},
        )  # fmt: skip
    return contact
