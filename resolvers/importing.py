"""importContacts: a file of contacts read in chunks, checked, matched and written.

The file is spooled to disk and read by ``resolvers.porting.reader`` a chunk at a time, so a
100k-row file never sits whole in memory. Each chunk of ``CHUNK`` rows is checked with the
same functions as ``createContact`` / ``updateContact``, matched against the contacts the
caller sees in a few statements (by contact number, by email, by document), and written in
one unit of work together with its row errors and the import's progress: another request
reading the import through ``node(id:)`` sees its ``rowsProcessed`` grow chunk by chunk. A dry
run takes the same path and writes only the import's record and its row errors.

The import runs in a task the request awaits shielded: a client that hangs up does not stop
it; the import goes on to its end and its record says how it went.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from tortoise import connections
from tortoise.expressions import Q
from tortoise.functions import Lower
from tortoise.transactions import in_transaction

from models import Account, Channel, Contact, ContactImport, ImportRowError, Location, Team, User
from models.enums import (
    AuditAction,
    CaptureSource,
    ChannelKind,
    CustomFieldEntity,
    ImportStatus,
    LocationKind,
    OnMatch,
)
from resolvers import audit
from resolvers import contacts as contact_rules
from resolvers import validation as check
from resolvers.access import Access, Area
from resolvers.accounts import AUDITED_FIELDS as ACCOUNT_FIELDS
from resolvers.channels import ChannelValue
from resolvers.contact_writes import create_contacts, update_contacts
from resolvers.contacts import ChannelSpec
from resolvers.custom_fields import Definitions, definitions_of
from resolvers.errors import Problem, ProblemCode, Problems, Rejected
from resolvers.ids import encode_id, expect_id
from resolvers.importing_rows import CONTACT_FIELDS, RowInput, TableColumns, read_row, same_text
from resolvers.inputs import NOT_SENT, Input
from resolvers.locations import AUDITED_FIELDS as LOCATION_FIELDS
from resolvers.porting.reader import FileRefused, Table, open_table
from resolvers.unit_of_work import change

CHUNK = 500
MAX_ROWS = 100_000
PAYLOAD_ROW_ERRORS = 1000
MAX_FILE_NAME = 255
MAX_HEADER = 255  # ImportRowError.field
MAX_MESSAGE = 500  # ImportRowError.message
SPOOL_BLOCK = 1024 * 1024
ANALYZE_FROM = 2_000  # rows written before PostgreSQL's statistics are first refreshed
HOME_NAME = "Domicilio"  # the name of a contact's HOME address an import adds
# Every field of CreateContactInput / UpdateContactInput, as the write core reads them.
CREATE_FIELDS = (
    *CONTACT_FIELDS,
    "account_id",
    "location_id",
    "owner_id",
    "is_preferred",
    "email",
    "phone",
    "mobile",
    "channels",
)
UPDATE_FIELDS = ("id", *CREATE_FIELDS)

# Imports running now, held so that a task whose request went away is not collected.
_RUNNING: set[asyncio.Task] = set()


@dataclass(frozen=True, slots=True)
class Options:
    dry_run: bool
    on_match: OnMatch
    create_accounts: bool
    owner_id: int | None
    team_id: int | None
    # The owner of what the import creates when the row and the account do not say.
    default_owner_id: int


@dataclass(slots=True)
class Outcome:
    record: ContactImport
    row_errors: list[ImportRowError]


@dataclass(slots=True)
class _FileState:
    """What earlier rows of the file said, for the rules across rows: an email, a document or
    a contact once per file; an account created once per name."""

    emails: dict[str, int] = field(default_factory=dict)  # -> the row that has it
    documents: dict[tuple[str, str], int] = field(default_factory=dict)
    contacts: dict[int, int] = field(default_factory=dict)
    # A dry run's accounts "created" by earlier chunks: key -> name (a real run finds them).
    new_accounts: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- the request


async def import_contacts(access: Access, data: Any) -> Outcome:
    """importContacts. Raises Rejected (nothing written) for a file refused as a whole."""
    options = await _options(access, data)
    upload = data.file
    file_name = _file_name(getattr(upload, "filename", None))
    path = await asyncio.to_thread(_spool, upload)
    table = None
    try:
        table = await asyncio.to_thread(_open, path, file_name)
        ignored = _unknown_columns(table)
        async with in_transaction() as connection:
            record = await ContactImport.create(
                dry_run=options.dry_run,
                file_name=file_name,
                rows_total=table.rows_total,
                row_error_count=len(ignored),
                created_by_id=access.user.id,
                using_db=connection,
            )
            if ignored:
                for error in ignored:
                    error.contact_import_id = record.id
                await ImportRowError.bulk_create(ignored, using_db=connection)
    except BaseException:
        if table is not None:
            table.close()
        os.unlink(path)
        raise
    task = asyncio.create_task(_run(access, options, table, record, path))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    # Shielded: a request cancelled because its client hung up leaves the import running.
    return await asyncio.shield(task)


async def _options(access: Access, data: Any) -> Options:
    problems = Problems()
    if data.create_accounts:
        access.require_write(Area.ACCOUNTS)
    owner_id = None
    if data.owner_id is not None:
        owner_id = await access.owner_id(problems, data.owner_id)
    team_id = None
    if data.team_id is not None:
        team_id = expect_id(data.team_id, "Team", "teamId", problems)
        if team_id is not None and not await Team.filter(id=team_id).exists():
            problems.add(ProblemCode.NOT_FOUND, "teamId", "No team has this id.")
            team_id = None
        if team_id is not None and team_id != access.user.team_id:
            access.require_supervisor("import for another team")
    default_owner = owner_id if owner_id is not None else access.user.id
    if team_id is not None and not problems:
        owner = await User.get(id=default_owner)
        if owner.team_id != team_id:
            path = "ownerId" if owner_id is not None else "teamId"
            problems.add(
                ProblemCode.OUT_OF_RANGE,
                path,
                "The owner of the imported records must be a member of the team: give as "
                "`ownerId` a member of the team.",
            )
    if problems:
        raise Rejected(problems.items)
    return Options(
        dry_run=bool(data.dry_run),
        on_match=OnMatch(data.on_match),
        create_accounts=bool(data.create_accounts),
        owner_id=owner_id,
        team_id=team_id,
        default_owner_id=default_owner,
    )


def _file_name(name: str | None) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned or check.bad_characters(cleaned) is not None:
        return "upload"
    return cleaned[-MAX_FILE_NAME:]


def _spool(upload: Any) -> str:
    """The upload copied to a file of our own, a block at a time (the request's copy goes
    when the request ends; the import may outlive it)."""
    source = upload.file
    source.seek(0)
    # openpyxl opens a workbook only by its extension: a ZIP's copy is named as one.
    suffix = ".xlsx" if source.read(4) == b"PK\x03\x04" else ".csv"
    source.seek(0)
    handle, path = tempfile.mkstemp(prefix="crm-import-", suffix=suffix)
    with os.fdopen(handle, "wb") as target:
        shutil.copyfileobj(source, target, SPOOL_BLOCK)
    return path


def _open(path: str, file_name: str) -> Table:
    """The file as a table, or Rejected with what is wrong with the file as a whole (a file
    with no known column among them; unknown columns beside known ones are not)."""
    try:
        return open_table(Path(path), file_name, max_rows=MAX_ROWS)
    except FileRefused as refused:
        raise Rejected.one(ProblemCode(refused.code), "file", refused.message) from None


def _unknown_columns(table: Table) -> list[ImportRowError]:
    """Each header the import does not know, reported once as an error of the header row
    (row 1), never per row; the column is ignored and the rest of the file imported."""
    return [
        ImportRowError(
            row_number=1,
            field=header[:MAX_HEADER],
            code=ProblemCode.UNKNOWN_COLUMN.value,
            message=(
                f"The column '{header[:200]}' is not one the import knows: it was ignored. "
                "Rename it (`cf.<key>` for a custom field) to import it; "
                "docs/import-export.md lists the columns."
            )[:MAX_MESSAGE],
        )
        for header in table.unknown
    ]


# ---------------------------------------------------------------- the run


async def _run(
    access: Access, options: Options, table: Table, record: ContactImport, path: str
) -> Outcome:
    try:
        state = _FileState()
        columns = TableColumns(table)
        rows = table.rows()
        statistics = _Statistics()
        while True:
            chunk = await asyncio.to_thread(_take, rows, CHUNK)
            if not chunk:
                break
            await process_chunk(access, options, columns, state, record, chunk)
            if not options.dry_run:
                await statistics.after(record.created + record.updated)
        record.status = ImportStatus.SUCCEEDED
        record.finished_at = datetime.now(UTC)
        await record.save(update_fields=["status", "finished_at"])
    except BaseException:
        await _failed(record)
        raise
    finally:
        table.close()
        os.unlink(path)
    first_errors = (
        await ImportRowError.filter(contact_import_id=record.id)
        .order_by("row_number", "id")
        .limit(PAYLOAD_ROW_ERRORS)
    )
    return Outcome(record, first_errors)


class _Statistics:
    """PostgreSQL plans a chunk's lookups from the tables' statistics; an import that makes
    a table many times larger than when it was last analysed would have them planned as
    scans of a small table (a 100k-row import into an empty database spent most of its time
    there). The written tables are analysed again each time the import's rows double."""

    TABLES = ("contact", "channel", "location", "account")

    def __init__(self) -> None:
        self.next = ANALYZE_FROM

    async def after(self, written: int) -> None:
        if written < self.next:
            return
        self.next = 2 * written
        db = connections.get("default")
        if db.capabilities.dialect == "postgres":
            await db.execute_script(f"ANALYZE {', '.join(self.TABLES)}")


async def _failed(record: ContactImport) -> None:
    """The import's record says it stopped; what its committed chunks wrote stays."""
    try:
        await ContactImport.filter(id=record.id).update(
            status=ImportStatus.FAILED, finished_at=datetime.now(UTC)
        )
    except Exception:  # the database itself may be what failed: the original error wins
        return


def _take(rows: Iterator, size: int) -> list:
    return list(islice(rows, size))


async def process_chunk(
    access: Access,
    options: Options,
    columns: TableColumns,
    state: _FileState,
    record: ContactImport,
    chunk: list[tuple[int, dict[str, str]]],
) -> None:
    """One chunk: checked, matched, written with its row errors and the progress."""
    plan = await _plan(access, options, columns, state, chunk)
    await write_chunk(access, options, record, plan)


# ---------------------------------------------------------------- planning a chunk


def account_key(name: str) -> str:
    """Account names are matched ignoring case and runs of spaces."""
    return " ".join(name.split()).casefold()


@dataclass(slots=True)
class _Create:
    row: RowInput
    account_id: int | None  # None: the account this import creates under ``account_key``
    account_key: str | None
    location_id: int | None
    owner_id: int | None  # None: the account's owner
    contact: Contact | None = None  # once written


@dataclass(slots=True)
class _Update:
    row: RowInput
    contact: Contact
    values: dict[str, Any]
    channels: dict[ChannelKind, list[str]]  # the kinds whose channels the row replaces
    all_channels: list[Channel]  # the contact's channels before
    preferred: bool
    address: dict[str, Any] | None  # the fields of its HOME address that change
    home: Location | None
    account_key: str | None  # moving to an account this import creates


@dataclass(slots=True)
class _Plan:
    rows: int = 0
    creates: list[_Create] = field(default_factory=list)
    updates: list[_Update] = field(default_factory=list)
    unchanged: int = 0
    skipped: int = 0
    errors: list[ImportRowError] = field(default_factory=list)
    # Accounts to create: key -> the name as the first row writes it.
    new_accounts: dict[str, str] = field(default_factory=dict)

    def fail(self, row: RowInput, problems: list[Problem]) -> None:
        self.errors.extend(row.error(problem) for problem in problems)


@dataclass(slots=True)
class _Placement:
    account_id: int | None = None
    account_key: str | None = None
    account_name: str | None = None  # of the account to create
    location_id: int | None = None
    owner_id: int | None = None  # the account's owner


async def _plan(
    access: Access,
    options: Options,
    columns: TableColumns,
    state: _FileState,
    chunk: list[tuple[int, dict[str, str]]],
) -> _Plan:
    plan = _Plan(rows=len(chunk))
    rows: list[RowInput] = []
    for number, cells in chunk:
        row = read_row(columns, number, cells)
        if row.problems:
            plan.fail(row, row.problems)
        else:
            rows.append(row)
    found = await _Lookups.of(access, options, rows)
    for row in rows:
        problems = Problems()
        contact = found.match(row, problems)
        if problems:
            plan.fail(row, problems.items)
            continue
        placement = found.placement(row, contact, options, state, plan, problems)
        if not problems:
            region = found.region(placement, contact)
            problems.items.extend(row.checked(region, contact, found.definitions))
        if not problems:
            _in_file(row, contact, state, problems)
        if problems:
            plan.fail(row, problems.items)
            continue
        if contact is not None and options.on_match is OnMatch.SKIP:
            _remember(row, contact, state)
            plan.skipped += 1
            continue
        owner_id = found.owner(row, problems)
        problems.items.extend(found.duplicates(row, contact))
        if problems:
            plan.fail(row, problems.items)
            continue
        _remember(row, contact, state)
        if owner_id is None:
            owner_id = options.owner_id
        if contact is None:
            if placement.account_key is not None and placement.account_key not in plan.new_accounts:
                plan.new_accounts[placement.account_key] = placement.account_name or ""
            plan.creates.append(
                _Create(
                    row,
                    placement.account_id,
                    placement.account_key,
                    placement.location_id,
                    owner_id if owner_id is not None else placement.owner_id,
                )
            )
            continue
        update = _changes(row, contact, found, placement, owner_id)
        if update is None:
            plan.unchanged += 1
        else:
            if update.account_key is not None and update.account_key not in plan.new_accounts:
                plan.new_accounts[update.account_key] = placement.account_name or ""
            plan.updates.append(update)
    if options.dry_run:
        state.new_accounts.update(plan.new_accounts)
    return plan


def _in_file(row: RowInput, contact: Contact | None, state: _FileState, problems: Problems):
    """An email, a document, a contact: once per file; the later row is the error."""
    for email, header in row.emails().items():
        first = state.emails.get(email)
        if first is not None:
            problems.add(
                ProblemCode.DUPLICATE_EMAIL,
                header,
                f"Row {first} of the file has this email address too.",
            )
    document = row.document()
    if document is not None and document in state.documents:
        problems.add(
            ProblemCode.DUPLICATE_DOCUMENT,
            row.header("documentNumber"),
            f"Row {state.documents[document]} of the file has this document too.",
        )
    if contact is not None and contact.id in state.contacts and not problems:
        problems.add(
            ProblemCode.DUPLICATE_ROW,
            (),
            f"Row {state.contacts[contact.id]} of the file is for the same contact "
            f"({contact.contact_no}).",
        )


def _remember(row: RowInput, contact: Contact | None, state: _FileState) -> None:
    for email in row.emails():
        state.emails[email] = row.number
    document = row.document()
    if document is not None:
        state.documents[document] = row.number
    if contact is not None:
        state.contacts[contact.id] = row.number


def _changes(
    row: RowInput, contact: Contact, found: _Lookups, placement: _Placement, owner_id: int | None
) -> _Update | None:
    """What the row changes on its contact: only the columns the file has and the row fills;
    None when the contact already holds every value."""
    values = {
        name: value
        for name, value in row.values.items()
        if name != "custom_fields" and getattr(contact, name) != value
    }
    if row.custom_fields:
        stored = contact.custom_fields or {}
        if any(not same_text(stored.get(k), v) for k, v in row.custom_fields.items()):
            values["custom_fields"] = {**stored, **row.values.get("custom_fields", {})}
    moving = placement.account_key is not None or (
        placement.account_id is not None and placement.account_id != contact.account_id
    )
    elsewhere = placement.location_id is not None and placement.location_id != contact.location_id
    if moving or elsewhere:
        if not moving:
            values["location_id"] = placement.location_id
        else:
            values["account_id"] = placement.account_id
            values["location_id"] = placement.location_id
        values["is_preferred"] = False  # rule 1 is per location: moving away un-prefers
    if owner_id is not None and owner_id != contact.owner_id:
        values["owner_id"] = owner_id
    channels = found.channels.get(contact.id, [])
    replaced = {
        kind: wanted
        for kind, wanted in row.channels.items()
        if not _same_channels(_of_kind(channels, kind), wanted)
    }
    preferred = bool(row.preferred) and (not contact.is_preferred or "is_preferred" in values)
    if row.preferred is False and contact.is_preferred and "is_preferred" not in values:
        values["is_preferred"] = False
    home = found.homes.get(contact.id)
    address = None
    if row.address:
        address = {
            name: value
            for name, value in row.address.items()
            if home is None or getattr(home, name) != value
        }
        address = address or None
    if not values and not replaced and not preferred and address is None:
        return None
    return _Update(
        row, contact, values, replaced, channels, preferred, address, home, placement.account_key
    )


def _same_channels(stored: list[Channel], wanted: list[ChannelValue]) -> bool:
    """The same channels in the same order, compared as rule 4 compares them (an email by
    its comparison form, a phone by its E.164 digits)."""
    return [c.normalized for c in stored] == [v.normalized for v in wanted]


def _of_kind(channels: list[Channel], kind: ChannelKind) -> list[Channel]:
    """A contact's channels of a kind as the export lists them: the primary first."""
    return sorted(
        (c for c in channels if c.kind == kind),
        key=lambda c: (not c.is_primary, c.created_at, c.id),
    )


class _Lookups:
    """What a chunk's rows name, fetched in a few statements for the whole chunk."""

    def __init__(self) -> None:
        self.by_number: dict[int, Contact] = {}
        self.by_email: dict[str, int] = {}  # an active contact's email -> its id (any caller's)
        self.by_document: dict[tuple[str, str], int] = {}
        self.visible: dict[int, Contact] = {}
        self.channels: dict[int, list[Channel]] = {}
        self.homes: dict[int, Location] = {}
        self.accounts: dict[int, Account] = {}
        self.accounts_by_name: dict[str, list[Account]] = {}
        self.locations: dict[tuple[int, str], Location] = {}
        self.main_locations: dict[int, Location] = {}
        self.sites: dict[int, Location] = {}
        self.owners: dict[str, User] = {}
        self.may_own: dict[int, bool] = {}
        self.definitions: Definitions = {}

    @classmethod
    async def of(cls, access: Access, options: Options, rows: list[RowInput]) -> _Lookups:
        found = cls()
        numbers = {row.contact_no for row in rows if row.contact_no is not None}
        emails = {email for row in rows for email in row.emails()}
        documents = {row.document() for row in rows} - {None}
        if emails:
            for contact_id, normalized in await Channel.filter(
                kind=ChannelKind.EMAIL, normalized__in=list(emails), contact_active=True
            ).values_list("contact_id", "normalized"):
                found.by_email[normalized] = contact_id
        if documents:
            for contact_id, kind, number in await Contact.filter(
                document_type__in=list({d[0] for d in documents}),
                document_number__in=list({d[1] for d in documents}),
            ).values_list("id", "document_type", "document_number"):
                found.by_document[(str(kind), number)] = contact_id
        wanted = numbers | set(found.by_email.values()) | set(found.by_document.values())
        if wanted:
            for contact in await access.rows(Contact).filter(id__in=list(wanted)):
                found.visible[contact.id] = contact
            found.by_number = {pk: found.visible[pk] for pk in numbers if pk in found.visible}
        if found.visible:
            ids = list(found.visible)
            for channel in await Channel.filter(contact_id__in=ids):
                found.channels.setdefault(channel.contact_id, []).append(channel)
            if any(row.address for row in rows):
                for home in await Location.filter(
                    contact_id__in=ids, kind=LocationKind.HOME
                ).order_by("-is_default", "id"):
                    found.homes.setdefault(home.contact_id, home)
        await found._accounts(access, options, rows)
        await found._owners(access, rows)
        # The contacts' custom fields, once per chunk: every row's cf.<key> cells are read by them.
        found.definitions = await definitions_of(CustomFieldEntity.CONTACT)
        return found

    async def _accounts(self, access: Access, options: Options, rows: list[RowInput]) -> None:
        numbers = {row.account_no for row in rows if row.account_no is not None}
        names = {account_key(row.account_name) for row in rows if row.account_name}
        accounts = access.rows(Account)
        if options.team_id is not None:
            accounts = accounts.filter(owner__team_id=options.team_id)
        if numbers:
            for account in await accounts.filter(id__in=list(numbers)):
                self.accounts[account.id] = account
        if names:
            named = accounts.annotate(lower_name=Lower("name")).filter(lower_name__in=list(names))
            for account in await named:
                self.accounts[account.id] = account
                self.accounts_by_name.setdefault(account_key(account.name), []).append(account)
        # Main locations: of the accounts named, and of the matched contacts' own accounts.
        ids = set(self.accounts) | {c.account_id for c in self.visible.values()}
        if not ids:
            return
        # With them the matched contacts' own sites: a row's numbers are read in its
        # site's country (the region rule).
        sites = {c.location_id for c in self.visible.values()}
        main = Location.filter(
            Q(account_id__in=list(ids), kind=LocationKind.MAIN) | Q(id__in=list(sites))
        )
        for location in await main:
            self.sites[location.id] = location
            if location.kind == LocationKind.MAIN:
                self.main_locations[location.account_id] = location
        location_names = {row.location_name for row in rows if row.location_name}
        if location_names:
            sites = Location.filter(
                account_id__in=list(ids), name__in=list(location_names), contact_id=None
            )
            for location in await sites.order_by("id"):
                self.locations.setdefault((location.account_id, location.name), location)
                self.sites[location.id] = location

    async def _owners(self, access: Access, rows: list[RowInput]) -> None:
        emails = {row.owner_email for row in rows if row.owner_email}
        if not emails:
            return
        users = await User.filter(email__in=list(emails))
        self.owners = {user.email.casefold(): user for user in users}
        self.may_own = {user.id: access._may_give_to(user.id, user.team_id) for user in users}

    # ------------------------------------------------------------ per row, from memory

    def match(self, row: RowInput, problems: Problems) -> Contact | None:
        """The visible contact the row is for: by contact number, else email, else document."""
        if row.contact_no is not None:
            contact = self.by_number.get(row.contact_no)
            if contact is None:
                problems.add(
                    ProblemCode.NOT_FOUND, row.header("contactNo"), "No contact has this number."
                )
            return contact
        for email in row.emails():
            pk = self.by_email.get(email)
            if pk is not None and pk in self.visible:
                return self.visible[pk]
        document = row.document()
        pk = self.by_document.get(document) if document is not None else None
        if pk is not None and pk in self.visible:
            return self.visible[pk]
        return None

    def duplicates(self, row: RowInput, contact: Contact | None) -> list[Problem]:
        """Rule 4 against the database: another contact's email or document. The message names
        the other contact only to a caller who sees it (rule 8)."""
        problems = Problems()
        mine = None if contact is None else contact.id
        for email, header in row.emails().items():
            other = self.by_email.get(email)
            if other is not None and other != mine:
                message = self._taken("email address", other, "another active contact")
                problems.add(ProblemCode.DUPLICATE_EMAIL, header, message)
        document = row.document()
        other = self.by_document.get(document) if document is not None else None
        if other is not None and other != mine:
            problems.add(
                ProblemCode.DUPLICATE_DOCUMENT,
                row.header("documentNumber"),
                self._taken("document", other, "another contact"),
            )
        return problems.items

    def _taken(self, what: str, other: int, anyone: str) -> str:
        seen = self.visible.get(other)
        if seen is None:
            return f"This {what} already belongs to {anyone}."
        return f"This {what} already belongs to {seen.full_name} ({seen.contact_no})."

    def placement(
        self,
        row: RowInput,
        contact: Contact | None,
        options: Options,
        state: _FileState,
        plan: _Plan,
        problems: Problems,
    ) -> _Placement:
        """The account and location of the row's contact (an update: where it moves)."""
        place = _Placement()
        if row.account_no is not None:
            account = self.accounts.get(row.account_no)
            if account is None:
                problems.add(
                    ProblemCode.NOT_FOUND, row.header("accountNo"), "No account has this number."
                )
                return place
            place.account_id = account.id
        elif row.account_name:
            key = account_key(row.account_name)
            candidates = self.accounts_by_name.get(key, [])
            if len(candidates) > 1:
                problems.add(
                    ProblemCode.DUPLICATE_NAME,
                    row.header("accountName"),
                    f"{len(candidates)} accounts are named '{row.account_name}': give the "
                    "account number (accountNo) instead.",
                )
                return place
            if candidates:
                place.account_id = candidates[0].id
            elif key in plan.new_accounts or key in state.new_accounts or options.create_accounts:
                place.account_key, place.account_name = key, row.account_name
            else:
                problems.add(
                    ProblemCode.NOT_FOUND,
                    row.header("accountName"),
                    f"No account is named '{row.account_name}' (`createAccounts: true` "
                    "creates it).",
                )
                return place
        elif contact is None and options.create_accounts:
            # A person without a company (a mailing list's row): an account of their own,
            # named after them, as a "persona natural" customer.
            name = row.person_name()
            place.account_key, place.account_name = account_key(name), name
        elif contact is None:
            problems.add(
                ProblemCode.REQUIRED,
                row.header("accountName"),
                "A contact belongs to an account: fill the account column (or "
                "`createAccounts: true` makes one for the person).",
            )
            return place
        else:
            place.account_id = contact.account_id
        if place.account_id is not None:
            account = self.accounts.get(place.account_id)
            place.owner_id = account.owner_id if account is not None else None
            if row.location_name:
                location = self.locations.get((place.account_id, row.location_name))
                if location is None:
                    problems.add(
                        ProblemCode.NOT_FOUND,
                        row.header("locationName"),
                        "The account has no location of this name.",
                    )
                    return place
                place.location_id = location.id
            elif contact is not None and place.account_id == contact.account_id:
                place.location_id = contact.location_id
            else:
                main = self.main_locations.get(place.account_id)
                place.location_id = main.id if main is not None else None
        elif row.location_name and account_key(row.location_name) != place.account_key:
            # A new account has only its main location, named as the account.
            problems.add(
                ProblemCode.NOT_FOUND,
                row.header("locationName"),
                "A new account has only its main location.",
            )
        return place

    def region(self, place: _Placement, contact: Contact | None) -> str:
        """Where the row's numbers are read: its site's country, else its account's main
        location's, else the server's default (``check.region_of``, as createContact)."""
        site = self.sites.get(place.location_id) if place.location_id is not None else None
        main = self.main_locations.get(place.account_id) if place.account_id else None
        return check.region_of(
            site.country if site is not None else None,
            main.country if main is not None and main is not site else None,
        )

    def owner(self, row: RowInput, problems: Problems) -> int | None:
        if not row.owner_email:
            return None
        user = self.owners.get(row.owner_email)
        if user is None:
            problems.add(
                ProblemCode.NOT_FOUND, row.header("ownerEmail"), "No user has this email address."
            )
            return None
        if not self.may_own[user.id]:
            problems.add(
                ProblemCode.OUT_OF_RANGE,
                row.header("ownerEmail"),
                "Only a manager or an admin may give records to another team.",
            )
            return None
        return user.id


# ---------------------------------------------------------------- writing a chunk


async def write_chunk(access: Access, options: Options, record: ContactImport, plan: _Plan) -> None:
    """The chunk's writes: the accounts its rows create, its contacts through the batch write
    core (``resolvers.contact_writes``, ``IMPORT`` / ``IMPORTED``: the same checks and rules
    as every other write path), their HOME addresses; then its row errors and the import's
    counts in one short transaction of their own. A dry run writes only the latter."""
    if not options.dry_run:
        made = await _create_accounts(access, options, plan)
        await _write_creates(access, plan, made)
        await _write_updates(access, plan, made)
        await _write_addresses(access, plan)
    async with in_transaction() as connection:
        if plan.errors:
            plan.errors.sort(key=lambda error: error.row_number)
            for error in plan.errors:
                error.contact_import_id = record.id
            await ImportRowError.bulk_create(plan.errors, using_db=connection)
        record.rows_processed += plan.rows
        record.created += len(plan.creates)
        record.updated += len(plan.updates)
        record.unchanged += plan.unchanged
        record.skipped += plan.skipped
        record.row_error_count += len(plan.errors)
        await record.save(
            update_fields=[
                "rows_processed",
                "created",
                "updated",
                "unchanged",
                "skipped",
                "row_error_count",
            ],
            using_db=connection,
        )


async def _create_accounts(
    access: Access, options: Options, plan: _Plan
) -> dict[str, tuple[int, int]]:
    """The accounts the chunk's rows name that do not exist, each with its MAIN location,
    in one unit of work and a few statements: their (account id, main location id) by key."""
    if not plan.new_accounts:
        return {}
    names = list(plan.new_accounts.items())
    async with change(access.user) as unit:
        accounts = [
            Account(id=pk, name=name, owner_id=options.default_owner_id)
            for pk, (_, name) in zip(await unit.new_ids(Account, len(names)), names, strict=True)
        ]
        mains = [
            Location(
                id=pk,
                account_id=account.id,
                kind=LocationKind.MAIN,
                name=account.name,
                is_default=True,
            )
            for pk, account in zip(await unit.new_ids(Location, len(names)), accounts, strict=True)
        ]
        for row in (*accounts, *mains):
            row.search_text = row.search_document()
        await Account.bulk_create(accounts, using_db=unit.connection)
        await Location.bulk_create(mains, using_db=unit.connection)
        await unit.record_many(
            [
                (
                    AuditAction.CREATED,
                    account,
                    account.name,
                    audit.diff({}, audit.snapshot(account, ACCOUNT_FIELDS)),
                )
                for account in accounts
            ]
            + [
                (
                    AuditAction.CREATED,
                    main,
                    main.name,
                    audit.diff({}, audit.snapshot(main, LOCATION_FIELDS)),
                )
                for main in mains
            ]
        )
    return {key: (main.account_id, main.id) for (key, _), main in zip(names, mains, strict=True)}


def _channel_inputs(row: RowInput, kinds: Any = None) -> tuple[list[Input], list[str]]:
    """The row's channels as ``ChannelInput`` values (the first of a kind primary), and
    the header each one comes from."""
    inputs, headers = [], []
    for kind, values in row.channels.items():
        if kinds is not None and kind not in kinds:
            continue
        for index, value in enumerate(values):
            inputs.append(_channel_input(kind, value.value, None, index == 0))
            headers.append(row.channel_columns[kind][index])
    return inputs, headers


def _channel_input(kind: ChannelKind, value: str, label: str | None, primary: bool) -> Input:
    return Input(
        "ChannelInput", {"kind": kind, "value": value, "label": label, "is_primary": primary}
    )


def _written(
    plan: _Plan, rows: list[RowInput], results: list, channel_headers: list[list[str]]
) -> list[int]:
    """The indexes of the items written; the others' problems become their rows' errors."""
    written = []
    for index, (row, result) in enumerate(zip(rows, results, strict=True)):
        if result.problems:
            plan.fail(row, [_at_header(p, channel_headers[index]) for p in result.problems])
        else:
            written.append(index)
    return written


def _at_header(problem: Problem, channel_headers: list[str]) -> Problem:
    """A problem at ``["channels", "2", "value"]`` of an item: at that channel's header."""
    path = problem.field
    if len(path) >= 2 and path[0] == "channels" and path[1].isdigit():
        index = int(path[1])
        if index < len(channel_headers):
            return Problem(problem.code, (channel_headers[index],), problem.message)
    return problem


async def _write_creates(access: Access, plan: _Plan, made: dict[str, tuple[int, int]]) -> None:
    if not plan.creates:
        return
    items, headers = [], []
    for item in plan.creates:
        account_id, location_id = (
            made[item.account_key]
            if item.account_id is None
            else (item.account_id, item.location_id)
        )
        channels, channel_headers = _channel_inputs(item.row)
        items.append(
            Input(
                "CreateContactInput",
                {
                    **dict.fromkeys(CREATE_FIELDS, None),
                    **item.row.values,
                    "account_id": encode_id("Account", account_id),
                    "location_id": encode_id("Location", location_id) if location_id else None,
                    "owner_id": encode_id("User", item.owner_id) if item.owner_id else None,
                    "is_preferred": bool(item.row.preferred),
                    "channels": channels,
                },
            )
        )
        headers.append(channel_headers)
    rows = [item.row for item in plan.creates]
    results = await create_contacts(
        access,
        items,
        atomic=False,
        capture_source=CaptureSource.IMPORT,
        audit_action=AuditAction.IMPORTED,
        describe=lambda i: f"row {rows[i].number}",
        checked=[_checked(row) for row in rows],
    )
    written = _written(plan, rows, results, headers)
    for index in written:
        plan.creates[index].contact = results[index].contact
    plan.creates = [plan.creates[index] for index in written]


@functools.cache
def _blank_values() -> tuple[tuple[str, Any], ...]:
    """What createContact's checks store for the fields an input leaves empty."""
    data = Input("CreateContactInput", dict.fromkeys(CREATE_FIELDS, None))
    values = contact_rules._check_fields(Problems(), data, check.region_of(None, None))
    return tuple((name, value) for name, value in values.items() if value in (None, [], {}))


def _checked(row: RowInput) -> tuple[dict[str, Any], list[ChannelSpec]]:
    """A new contact's values and channels as the row's checks gave them (``row.checked``:
    createContact's functions, in the row's region), so that the batch core does not run
    them a second time. The channels in the order ``_channel_inputs`` sends them, the first
    of a kind primary, each at its ``channels`` index (the errors' headers)."""
    specs: list[ChannelSpec] = []
    for kind, values in row.channels.items():
        for index, value in enumerate(values):
            path = ("channels", str(len(specs)), "value")
            specs.append(ChannelSpec(kind, value, None, index == 0, path))
    return {**dict(_blank_values()), **row.values}, specs


async def _write_updates(access: Access, plan: _Plan, made: dict[str, tuple[int, int]]) -> None:
    if not plan.updates:
        return
    items, headers = [], []
    for item in plan.updates:
        sent: dict[str, Any] = {name: NOT_SENT for name in UPDATE_FIELDS}
        sent["id"] = encode_id("Contact", item.contact.id)
        values = dict(item.values)
        if item.account_key is not None:
            values["account_id"], values["location_id"] = made[item.account_key]
        for name, value in values.items():
            if name in ("account_id", "location_id", "owner_id"):
                kind = {"account_id": "Account", "location_id": "Location", "owner_id": "User"}[
                    name
                ]
                value = encode_id(kind, value)
            if name != "is_preferred":
                sent[name] = value
        if item.preferred:
            sent["is_preferred"] = True
        elif values.get("is_preferred") is False and "location_id" not in values:
            sent["is_preferred"] = False
        channel_headers: list[str] = []
        if item.channels:
            # ``channels`` replaces the whole set: the kinds the row leaves out are kept.
            kept = [
                _channel_input(c.kind, c.value, c.label, c.is_primary)
                for c in item.all_channels
                if c.kind not in item.channels
            ]
            fresh, fresh_headers = _channel_inputs(item.row, item.channels)
            sent["channels"] = [*fresh, *kept]
            channel_headers = fresh_headers
        items.append(Input("UpdateContactInput", sent))
        headers.append(channel_headers)
    rows = [item.row for item in plan.updates]
    results = await update_contacts(
        access,
        items,
        atomic=False,
        audit_action=AuditAction.IMPORTED,
        describe=lambda i: f"row {rows[i].number}",
    )
    written = _written(plan, rows, results, headers)
    for index in written:
        plan.updates[index].contact = results[index].contact
    plan.updates = [plan.updates[index] for index in written]


async def _write_addresses(access: Access, plan: _Plan) -> None:
    """The HOME address (the one the export writes) of the contacts written: added, or
    changed; one unit of work for the chunk, the new ones in a few statements."""
    added = [(c.contact, c.row.address) for c in plan.creates if c.row.address]
    added += [(u.contact, u.address) for u in plan.updates if u.address and u.home is None]
    changed = [(u.home, u.address) for u in plan.updates if u.address and u.home is not None]
    if not added and not changed:
        return
    async with change(access.user) as unit:
        homes = [
            Location(
                id=pk,
                **fields,
                account_id=contact.account_id,
                contact_id=contact.id,
                kind=LocationKind.HOME,
                name=HOME_NAME,
                is_default=False,
            )
            for pk, (contact, fields) in zip(
                await unit.new_ids(Location, len(added)), added, strict=True
            )
        ]
        for home in homes:
            home.search_text = home.search_document()
        if homes:
            await Location.bulk_create(homes, using_db=unit.connection)
        records = [
            (
                AuditAction.CREATED,
                home,
                home.name,
                audit.diff({}, audit.snapshot(home, LOCATION_FIELDS)),
            )
            for home in homes
        ]
        for home, fields in changed:
            before = audit.snapshot(home, LOCATION_FIELDS)
            for name, value in fields.items():
                setattr(home, name, value)
            home.search_text = home.search_document()
            await home.save(
                update_fields=[*fields, "search_text", "updated_at"], using_db=unit.connection
            )
            records.append(
                (
                    AuditAction.IMPORTED,
                    home,
                    home.name,
                    audit.diff(before, audit.snapshot(home, LOCATION_FIELDS)),
                )
            )
        await unit.record_many(records)
