"""The one write path of contacts: every way a contact is created or changed goes through
``create_contacts`` or ``update_contacts``.

- ``createContact`` / ``updateContact``: one item, ``atomic`` (``create_contact``,
  ``update_contact`` below);
- ``createContacts`` / ``updateContacts``: up to 100 items, the limit of the GraphQL mutation
  (``schema/contacts.py``), not of this module;
- the import: chunks of a few hundred rows, with ``capture_source=IMPORT`` and
  ``audit_action=IMPORTED``, naming its rows in messages through ``describe``.

Items are the input objects the mutations get (``resolvers.inputs.Input``); each item's
``ItemResult`` holds its contact or its problems, with paths from the item
(``["email"]``; the batch mutation puts ``["contacts", "<index>"]`` in front).

A batch costs the same statements whatever its size (``tests/test_contact_batches.py``
counts them):

1. the lookups of the whole batch, a statement each: the contacts an update changes;
   accounts and locations (rule 7, rule 8 through ``Access.rows``), which also give each
   item the region its numbers are read in; then each item's input checks, which read
   nothing (``contacts._check_fields``, ``contacts._check_channels``: the same functions
   for every path); owners (``Access.owner_ids``); emails and documents already taken
   (rule 4, ``contacts.duplicates_of``); then the collisions between items (the same email
   or document twice, the same contact twice, two preferred contacts at one location);
2. one unit of work (``unit_of_work.change``) for the items without problems: the locks in
   the lock order (locations, then contacts), fresh ids (``Unit.new_ids``: contactNo is the
   id), bulk inserts of the contacts and their channels (rule 3 in ``channels.channel_set``),
   updates as one ``CASE`` statement per table, rule 1 for every preferred item at once
   (``contacts.make_preferred``), the audit events and outbox rows (``Unit.record_many``).

``atomic``: one item with a problem, and nothing is written (every item's problems are
reported). Otherwise the good items are written and the bad ones reported. A unique index
that fires under a race (another request took an email between the check and the write)
sends the batch back through the checks once more, which then name the item and the other
contact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pypika_tortoise.functions import Cast
from pypika_tortoise.terms import Case, ValueWrapper
from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.models import Model

from models import Account, Channel, Contact, Location
from models.enums import (
    CONTACT_ADDRESS_KINDS,
    AuditAction,
    CaptureSource,
    ChannelKind,
    CustomFieldEntity,
    LocationKind,
    RecordStatus,
)
from resolvers import audit
from resolvers import channels as channel_rules
from resolvers import contacts as rules
from resolvers import validation as check
from resolvers.access import Access
from resolvers.custom_fields import definitions_of
from resolvers.errors import Problem, ProblemCode, Problems, Rejected
from resolvers.ids import expect_id
from resolvers.unit_of_work import change

# Write attempts of a batch whose unique index fired under a race (see the docstring).
ATTEMPTS = 3


@dataclass(slots=True)
class ItemResult:
    """One item of a batch: its contact as written, or why nothing was written for it."""

    contact: Contact | None = None
    problems: list[Problem] = field(default_factory=list)


def describe_item(index: int) -> str:
    """How a message names another item of the batch."""
    return f"item {index} of this batch"


@dataclass(slots=True, eq=False)
class _Item:
    """An item on its way through the plan."""

    index: int
    data: Any
    problems: Problems = field(default_factory=Problems)
    values: dict[str, Any] = field(default_factory=dict)
    specs: list[rules.ChannelSpec] | None = None
    current: Contact | None = None  # the contact an update changes
    account_pk: int | None = None
    location_pk: int | None = None
    account: Account | None = None
    location: Location | None = None
    owner_pk: int | None = None
    region: str = ""  # where its phone numbers are read (the region rule)
    contact: Contact | None = None

    @property
    def moving(self) -> bool:
        """Whether the item places its contact: every create, an update that sends
        ``accountId`` or ``locationId``."""
        return self.current is None or (
            check.given(self.data.account_id) or check.given(self.data.location_id)
        )

    @property
    def preferred(self) -> bool | None:
        """True: make it preferred; False: not preferred; None: leave it."""
        wanted = getattr(self.data, "is_preferred", None)
        if self.current is None:
            return bool(wanted)
        return wanted if check.given(wanted) else None

    @property
    def final_location(self) -> int | None:
        if self.moving:
            return self.location.id if self.location is not None else None
        return self.current.location_id

    def claims(self) -> rules.Claims:
        if self.current is None:
            emails = rules._emails_of(self.specs or [])
            document = (self.values.get("document_type"), self.values.get("document_number"))
            return rules.Claims(emails, document)
        contact = self.current
        active = contact.status == RecordStatus.ACTIVE
        document = (
            self.values.get("document_type", contact.document_type),
            self.values.get("document_number", contact.document_number),
        )
        return rules.Claims(rules._emails_of(self.specs or []) if active else {}, document,
                            contact.id)  # fmt: skip


# ---------------------------------------------------------------- the two entry points


async def create_contacts(
    access: Access,
    items: Sequence[Any],
    *,
    atomic: bool,
    capture_source: CaptureSource = CaptureSource.API,
    audit_action: AuditAction = AuditAction.CREATED,
    describe: Callable[[int], str] = describe_item,
    checked: Sequence[tuple[dict[str, Any], list[rules.ChannelSpec]]] | None = None,
) -> list[ItemResult]:
    """Create a contact per item (``CreateContactInput`` values), in one statement plan.

    ``checked``: each item's values and channels as ``rules._check_fields`` and
    ``rules._check_channels`` gave them to the caller, in the item's region (the import,
    which checks its rows to plan them); they are not checked a second time."""
    work = [_Item(index, data) for index, data in enumerate(items)]
    await _place(access, work)
    definitions = await definitions_of(CustomFieldEntity.CONTACT)  # required ones: every create
    for item in work:
        if checked is not None:
            item.values, item.specs = dict(checked[item.index][0]), checked[item.index][1]
            continue
        item.values = rules._check_fields(item.problems, item.data, item.region,
                                          definitions=definitions)  # fmt: skip
        item.specs = rules._check_channels(item.problems, item.data, item.region) or []
    await _owners(access, work)

    async def write(good: list[_Item]) -> None:
        await _insert(access, good, capture_source, audit_action)

    return await _checked_and_written(access, work, atomic, describe, write)


async def update_contacts(
    access: Access,
    items: Sequence[Any],
    *,
    atomic: bool,
    audit_action: AuditAction = AuditAction.UPDATED,
    describe: Callable[[int], str] = describe_item,
) -> list[ItemResult]:
    """Change a contact per item (``UpdateContactInput`` values), in one statement plan."""
    work = [_Item(index, data) for index, data in enumerate(items)]
    pks = [expect_id(item.data.id, "Contact", "id", item.problems) for item in work]
    wanted = sorted({pk for pk in pks if pk is not None})
    found = {row.id: row for row in await access.rows(Contact).filter(id__in=wanted)} if wanted \
        else {}  # fmt: skip
    seen: dict[int, int] = {}
    for item, pk in zip(work, pks, strict=True):
        if pk is None:
            continue
        item.current = found.get(pk)
        if item.current is None:
            item.problems.add(ProblemCode.NOT_FOUND, "id", "No contact has this id.")
        elif pk in seen:
            item.problems.add(ProblemCode.BATCH_CONFLICT, "id",
                              f"This contact is also {describe(seen[pk])}: change a contact "
                              "once per batch.")  # fmt: skip
            item.current = None
        else:
            seen[pk] = item.index
    work_found = [item for item in work if item.current is not None]
    await _place(access, work_found)
    definitions = {}
    if any(check.given(getattr(item.data, "custom_fields", None)) for item in work_found):
        definitions = await definitions_of(CustomFieldEntity.CONTACT)
    for item in work_found:
        item.values = rules._check_fields(item.problems, item.data, item.region, item.current,
                                          definitions)  # fmt: skip
        item.specs = rules._check_channels(item.problems, item.data, item.region)
    await _owners(access, work_found)
    for item in work_found:
        if item.values.get("document_number") and not (
            item.values.get("document_type") or item.current.document_type
        ):
            item.problems.add(ProblemCode.REQUIRED, "documentType",
                              "Give the type of the document.")  # fmt: skip

    async def write(good: list[_Item]) -> None:
        await _apply(access, good, audit_action)

    return await _checked_and_written(access, work, atomic, describe, write)


async def create_contact(access: Access, data: Any) -> Contact:
    """createContact; raises Rejected with every problem found, having written nothing."""
    [result] = await create_contacts(access, [data], atomic=True)
    if result.problems:
        raise Rejected(result.problems)
    return result.contact


async def update_contact(access: Access, data: Any) -> Contact:
    """updateContact; raises Rejected with every problem found, having written nothing."""
    [result] = await update_contacts(access, [data], atomic=True)
    if result.problems:
        raise Rejected(result.problems)
    return result.contact


# ---------------------------------------------------------------- checks of the whole batch


async def _place(access: Access, work: list[_Item]) -> None:
    """Account and location of each item that places its contact; rule 7: the location is
    one of the account's (by default its main one). And every item's region, where its
    numbers are read: its site's country, else its account's main location's, else the
    server's default (``check.region_of``, as ``locations.region_of_site`` for one).
    Two statements for the batch."""
    placing = [item for item in work if item.moving]
    main_of: set[int] = set()  # accounts whose MAIN location a placement or a region reads
    location_pks: set[int] = set()
    for item in work:
        data, current = item.data, item.current
        if current is not None:
            location_pks.add(current.location_id)
            main_of.add(current.account_id)
        if not item.moving:
            continue
        if check.given(data.account_id) and data.account_id is not None:
            item.account_pk = expect_id(data.account_id, "Account", "accountId", item.problems)
        elif current is not None:
            item.account_pk = current.account_id
        else:
            item.problems.add(ProblemCode.REQUIRED, "accountId",
                              "A contact belongs to an account.")  # fmt: skip
        if item.account_pk is not None:
            main_of.add(item.account_pk)
        if check.given(data.location_id) and data.location_id is not None:
            item.location_pk = expect_id(data.location_id, "Location", "locationId",
                                         item.problems)  # fmt: skip
        elif current is not None and item.account_pk == current.account_id:
            item.location_pk = current.location_id
        if item.location_pk is not None:
            location_pks.add(item.location_pk)
    account_pks = sorted({item.account_pk for item in placing if item.account_pk is not None})
    accounts = {row.id: row for row in await access.rows(Account).filter(id__in=account_pks)} \
        if account_pks else {}  # fmt: skip
    locations: dict[int, Location] = {}
    mains: dict[int, Location] = {}
    if location_pks or main_of:
        condition = Q(id__in=sorted(location_pks)) | Q(
            account_id__in=sorted(main_of), kind=LocationKind.MAIN
        )
        for row in await access.rows(Location).filter(condition):
            locations[row.id] = row
            if row.kind == LocationKind.MAIN:
                mains[row.account_id] = row
    for item in placing:
        if item.account_pk is not None:
            item.account = accounts.get(item.account_pk)
            if item.account is None:
                item.problems.add(ProblemCode.NOT_FOUND, "accountId", "No account has this id.")
        explicit = check.given(item.data.location_id) and item.data.location_id is not None
        if item.location_pk is not None:
            item.location = locations.get(item.location_pk)
            if item.location is None and explicit:
                item.problems.add(ProblemCode.NOT_FOUND, "locationId",
                                  "No location has this id.")  # fmt: skip
        elif item.account is not None:
            item.location = mains.get(item.account.id)
        account, location = item.account, item.location
        if account is not None and location is None and not item.problems:
            message = f"{account.name} has no main location: give a locationId."
            item.problems.add(ProblemCode.REQUIRED, "locationId", message)
        if account is not None and location is not None:
            if location.account_id != account.id:
                item.problems.add(
                    ProblemCode.LOCATION_MISMATCH,
                    "locationId",
                    f"This location belongs to another account, not to {account.name}.",
                )
            elif location.kind in CONTACT_ADDRESS_KINDS and location.contact_id is not None:
                item.problems.add(
                    ProblemCode.INVALID_KIND,
                    "locationId",
                    "This is a contact's own address, not a site of the account.",
                )
    for item in work:
        # New numbers are read where the contact will be; stored ones are not read again.
        current = item.current
        site = item.location if item.moving else None
        if site is None and current is not None:
            site = locations.get(current.location_id)
        account_id = item.account.id if item.moving and item.account is not None else (
            current.account_id if current is not None else None
        )  # fmt: skip
        main = mains.get(account_id) if account_id is not None else None
        item.region = check.region_of(
            site.country if site is not None else None,
            main.country if main is not None and main is not site else None,
        )


async def _owners(access: Access, work: list[_Item]) -> None:
    """The ``ownerId`` of each item that sends one, checked in one statement."""
    sending = [item for item in work
               if check.given(item.data.owner_id) and item.data.owner_id is not None]  # fmt: skip
    pks = await access.owner_ids([(item.problems, item.data.owner_id) for item in sending])
    for item, pk in zip(sending, pks, strict=True):
        item.owner_pk = pk
        if item.current is not None:
            item.values["owner_id"] = pk
    for item in work:
        if (
            item.current is not None
            and check.given(item.data.owner_id)
            and (item.data.owner_id is None)
        ):
            item.values["owner_id"] = None


async def _checked_and_written(
    access: Access,
    work: list[_Item],
    atomic: bool,
    describe: Callable[[int], str],
    write: Callable[[list[_Item]], Any],
) -> list[ItemResult]:
    """Rule 4 against the database and between items, rule 1 between items, then the write
    of the items left without problems (none of them if ``atomic`` and any has one)."""
    await _duplicates(access, work)
    _collisions(work, describe)
    for _ in range(ATTEMPTS):
        good = [item for item in work if not item.problems]
        if not good or (atomic and len(good) < len(work)):
            break
        try:
            await write(good)
            break
        except IntegrityError as error:
            problem = rules.unique_violation(error)
            if problem is None:
                raise
            for item in good:
                item.contact = None
            # Committed meanwhile: the checks now see it, and name the item that collides.
            await _duplicates(access, good)
            if not any(item.problems for item in good):
                for item in good:
                    item.problems.items.append(problem)
    return [ItemResult(item.contact, item.problems.items) for item in work]


async def _duplicates(access: Access, work: list[_Item]) -> None:
    """Rule 4 against what is stored, for the items without problems so far."""
    candidates = [item for item in work if not item.problems]
    found = await rules.duplicates_of(access, [item.claims() for item in candidates])
    for item, problems in zip(candidates, found, strict=True):
        item.problems.items.extend(problems)


def _collisions(work: list[_Item], describe: Callable[[int], str]) -> None:
    """Items that would break a rule together though each is fine alone: the same email or
    document pair twice (rule 4), two preferred contacts at one location (rule 1). The
    later item is refused, naming the earlier one."""
    emails: dict[str, int] = {}
    documents: dict[tuple[Any, str], int] = {}
    preferred: dict[int, int] = {}
    for item in work:
        if item.problems:
            continue
        problems = Problems()
        claims = item.claims()
        for email, path in claims.emails.items():
            if email in emails:
                other = describe(emails[email])
                problems.add(ProblemCode.DUPLICATE_EMAIL, path,
                             f"This email address is also given by {other}.")  # fmt: skip
        kind, number = claims.document
        pair = (kind, number) if kind is not None and number else None
        if pair is not None and pair in documents:
            other = describe(documents[pair])
            problems.add(ProblemCode.DUPLICATE_DOCUMENT, claims.document_path,
                         f"{kind} {number} is also given by {other}.")  # fmt: skip
        location = item.final_location
        if item.preferred and location in preferred:
            problems.add(ProblemCode.BATCH_CONFLICT, "isPreferred",
                         f"{describe(preferred[location]).capitalize()} also makes its contact "
                         "this location's preferred one: one per location.")  # fmt: skip
        if problems:
            item.problems.items.extend(problems.items)
            continue
        for email in claims.emails:
            emails[email] = item.index
        if pair is not None:
            documents[pair] = item.index
        if item.preferred:
            preferred[location] = item.index


# ---------------------------------------------------------------- writes


async def _insert(
    access: Access, good: list[_Item], capture_source: CaptureSource, audit_action: AuditAction
) -> None:
    viewer = access.user
    preferred = [item for item in good if item.preferred]
    # The locations are locked before the inserts' foreign-key checks take key-share locks.
    async with change(viewer, locations=[item.location.id for item in preferred]) as unit:
        ids = await unit.new_ids(Contact, len(good))
        contacts: list[Contact] = []
        channels: list[Channel] = []
        for pk, item in zip(ids, good, strict=True):
            account = item.account
            contact = Contact(
                id=pk,
                **item.values,
                account_id=account.id,
                location_id=item.location.id,
                owner_id=item.owner_pk if item.owner_pk is not None else account.owner_id,
                created_by_id=viewer.id,
                capture_source=capture_source,
            )
            own = channel_rules.channel_set(
                contact, [(s.kind, s.value, s.label, s.primary) for s in item.specs or []]
            )
            contact.search_text = contact.search_document(own)
            contacts.append(contact)
            channels.extend(own)
            item.contact = contact
        await Contact.bulk_create(contacts, using_db=unit.connection)
        if channels:
            await Channel.bulk_create(channels, using_db=unit.connection)
        await rules.make_preferred(unit, [item.contact for item in preferred])
        await unit.record_many([
            (audit_action, contact, contact.full_name,
             audit.diff({}, audit.snapshot(contact, rules.AUDITED_FIELDS)))
            for contact in contacts
        ])  # fmt: skip


async def _apply(access: Access, good: list[_Item], audit_action: AuditAction) -> None:
    locations = {item.current.location_id for item in good}
    locations |= {item.location.id for item in good if item.moving}
    contacts = [item.current for item in good]
    async with change(access.user, locations=locations,
                      contacts=[contact.id for contact in contacts]) as unit:  # fmt: skip
        before = {contact.id: audit.snapshot(contact, rules.AUDITED_FIELDS) for contact in contacts}
        changes: dict[int, dict[str, Any]] = {}
        for item in good:
            contact, values = item.current, dict(item.values)
            if item.moving:
                if item.location.id != contact.location_id:
                    values["is_preferred"] = False  # moving away un-prefers: rule 1 is per location
                values["account_id"] = item.account.id
                values["location_id"] = item.location.id
            if item.preferred is False:
                values["is_preferred"] = False
            for name, value in values.items():
                setattr(contact, name, value)
            changes[contact.id] = values
            item.contact = contact
        written_at = await update_rows(unit.connection, Contact, changes)
        for contact in contacts:
            contact.updated_at = written_at
        await rules.make_preferred(unit, [item.current for item in good if item.preferred])
        await _replace_channels(unit.connection, good)
        await _refresh_search(unit.connection, contacts)
        await unit.record_many([
            (audit_action, contact, contact.full_name,
             audit.diff(before[contact.id], audit.snapshot(contact, rules.AUDITED_FIELDS)))
            for contact in contacts
        ])  # fmt: skip


async def _replace_channels(connection: BaseDBAsyncClient, good: list[_Item]) -> None:
    """``channels`` replaces a contact's whole set; a shorthand alone replaces its kind's
    primary; a shorthand sent as null removes it (rule 3 promotes the next)."""
    whole = [item for item in good if check.given(getattr(item.data, "channels", None))
             and item.data.channels is not None]  # fmt: skip
    shorthand = [item for item in good if item.specs is not None and item not in whole]
    inserted: list[Channel] = []
    if whole:
        await Channel.filter(contact_id__in=[item.current.id for item in whole]).delete()
        for item in whole:
            inserted += channel_rules.channel_set(
                item.current, [(s.kind, s.value, s.label, s.primary) for s in item.specs]
            )
    if shorthand:
        primaries = {
            (row.contact_id, row.kind): row
            for row in await Channel.filter(
                contact_id__in=[item.current.id for item in shorthand], is_primary=True
            )
        }
        updated: dict[int, dict[str, Any]] = {}
        for item in shorthand:
            for spec in item.specs:
                row = primaries.get((item.current.id, spec.kind))
                if row is None:
                    inserted.append(channel_rules.new_channel(item.current, spec.kind, spec.value,
                                                              None, True))  # fmt: skip
                else:
                    value = spec.value
                    updated[row.id] = {"value": value.value, "normalized": value.normalized,
                                       "e164": value.e164}  # fmt: skip
        await update_rows(connection, Channel, updated)
    if inserted:
        await Channel.bulk_create(inserted, using_db=connection)
    cleared: list[tuple[int, ChannelKind]] = [
        (item.current.id, kind) for item in good for kind in rules._cleared_kinds(item.data)
    ]
    if cleared:
        removed = Q(*(Q(contact_id=pk, kind=kind) for pk, kind in cleared), join_type=Q.OR)
        await Channel.filter(removed, is_primary=True).delete()
        await channel_rules.promote_oldest_of(cleared)


async def _refresh_search(connection: BaseDBAsyncClient, contacts: list[Contact]) -> None:
    """The search text of changed contacts, from their channels as they are now."""
    channels: dict[int, list[Channel]] = {contact.id: [] for contact in contacts}
    for row in await Channel.filter(contact_id__in=list(channels)).order_by("id"):
        channels[row.contact_id].append(row)
    texts = {}
    for contact in contacts:
        contact.search_text = contact.search_document(channels[contact.id])
        texts[contact.id] = {"search_text": contact.search_text}
    await update_rows(connection, Contact, texts, touch=False)


async def update_rows(
    connection: BaseDBAsyncClient,
    model: type[Model],
    changes: Mapping[int, Mapping[str, Any]],
    *,
    touch: bool = True,
) -> datetime | None:
    """One UPDATE for many rows, each with its own values (``{id: {field: value}}``): a
    ``CASE id WHEN … THEN … ELSE column END`` per field, so a row keeps what is stored in
    the fields it does not change (a concurrent write to them is not overwritten with a
    stale copy). ``touch``: also set ``updated_at``, to the time returned."""
    if not changes:
        return None
    meta = model._meta
    table = meta.basetable
    postgres = connection.capabilities.dialect == "postgres"
    query = connection.query_class.update(table)
    names = dict.fromkeys(name for values in changes.values() for name in values)
    if not names and not touch:
        return None
    for name in names:
        field_object = meta.fields_map[name]
        column = field_object.source_field or name
        case = Case()
        for pk, values in changes.items():
            if name in values:
                value: Any = ValueWrapper(field_object.to_db_value(values[name], None))
                if postgres:  # parameters of a CASE need their type spelled out there
                    value = Cast(value, field_object.get_for_dialect("postgres", "SQL_TYPE"))
                case = case.when(table.id == pk, value)
        query = query.set(column, case.else_(table[column]))
    now = None
    if touch and "updated_at" in meta.fields_map:
        now = timezone.now()
        stored = meta.fields_map["updated_at"].to_db_value(now, None)
        query = query.set("updated_at", ValueWrapper(stored))
    query = query.where(table.id.isin(list(changes)))
    sql, parameters = query.get_parameterized_sql()
    await connection.execute_query(sql, parameters)
    return now
