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
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from tortoise.exceptions import IntegrityError

from models import Account, Channel, Contact, ContactImport, ImportRowError, Location, Team, User
from models.base import fold
from models.enums import (
    AuditAction,
    CaptureSource,
    ChannelKind,
    ImportStatus,
    LocationKind,
    OnMatch,
    RecordStatus,
)
from resolvers import audit
from resolvers import channels as channel_rules
from resolvers import contacts as contact_rules
from resolvers import validation as check
from resolvers.access import Access, Area
from resolvers.errors import Forbidden, Problem, ProblemCode, Problems, Rejected
from resolvers.ids import expect_id
from resolvers.importing_rows import RowInput, read_row
from resolvers.locations import new_location
from resolvers.porting.reader import FileRefused, Table, open_table
from resolvers.unit_of_work import Unit, change

CHUNK = 500
MAX_ROWS = 100_000
PAYLOAD_ROW_ERRORS = 1000
MAX_FILE_NAME = 255
SPOOL_BLOCK = 1024 * 1024

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

    emails: dict[str, int] = field(default_factory=dict)
    documents: dict[tuple[str, str], int] = field(default_factory=dict)
    contacts: dict[int, int] = field(default_factory=dict)
    # Folded account name -> account id (a dry run: a negative stand-in id).
    new_accounts: dict[str, int] = field(default_factory=dict)
    new_account_locations: dict[int, int] = field(default_factory=dict)


# ---------------------------------------------------------------- the request


async def import_contacts(access: Access, data: Any) -> Outcome:
    """importContacts. Raises Rejected (nothing written) for a file refused as a whole."""
    options = await _options(access, data)
    upload = data.file
    file_name = _file_name(getattr(upload, "filename", None))
    path = await asyncio.to_thread(_spool, upload)
    try:
        table = await asyncio.to_thread(_open, path, file_name)
        record = await ContactImport.create(
            dry_run=options.dry_run,
            file_name=file_name,
            rows_total=table.rows_total,
            created_by_id=access.user.id,
        )
    except BaseException:
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
                ProblemCode.OUT_OF_RANGE, path,
                "The owner of the imported records must be a member of the team: give as "
                "`ownerId` a member of the team.",
            )  # fmt: skip
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
    handle, path = tempfile.mkstemp(prefix="crm-import-")
    with os.fdopen(handle, "wb") as target:
        source = upload.file
        source.seek(0)
        shutil.copyfileobj(source, target, SPOOL_BLOCK)
    return path


def _open(path: str, file_name: str) -> Table:
    """The file as a table, or Rejected with every problem of the file as a whole."""
    try:
        table = open_table(path, file_name, max_rows=MAX_ROWS)
    except FileRefused as refused:
        raise Rejected.one(ProblemCode(refused.code), "file", refused.message) from None
    problems = Problems()
    for header in table.unknown:
        problems.add(
            ProblemCode.UNKNOWN_COLUMN, ("file", header),
            f"The column '{header}' is not one the import knows; rename or remove it "
            "(docs/import-export.md lists the columns).",
        )  # fmt: skip
    for header in table.duplicated:
        problems.add(
            ProblemCode.DUPLICATE_COLUMN, ("file", header),
            f"The column '{header}' appears more than once; keep one.",
        )  # fmt: skip
    if problems:
        raise Rejected(problems.items)
    if table.rows_total == 0:
        raise Rejected.one(ProblemCode.BLANK, "file", "The file has a header but no rows.")
    return table


# ---------------------------------------------------------------- the run


async def _run(
    access: Access, options: Options, table: Table, record: ContactImport, path: str
) -> Outcome:
    try:
        state = _FileState()
        rows = table.rows()
        while True:
            chunk = await asyncio.to_thread(_take, rows, CHUNK)
            if not chunk:
                break
            await process_chunk(access, options, table, state, record, chunk)
        record.status = ImportStatus.SUCCEEDED
        record.finished_at = datetime.now(UTC)
        await record.save(update_fields=["status", "finished_at"])
    except BaseException:
        await _failed(record)
        raise
    finally:
        os.unlink(path)
    first_errors = await ImportRowError.filter(contact_import_id=record.id).order_by(
        "row", "id"
    ).limit(PAYLOAD_ROW_ERRORS)
    return Outcome(record, first_errors)


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
    table: Table,
    state: _FileState,
    record: ContactImport,
    chunk: list[tuple[int, dict[str, str]]],
) -> None:
    """One chunk: checked, matched, written with its row errors and the progress. A unique
    index firing under a concurrent write (rule 4) plans the chunk again, once: the rows
    concerned then become row errors."""
    for attempt in (1, 2):
        saved = _copy_state(state)
        plan = await _plan(access, options, table, state, chunk)
        try:
            await write_chunk(access, options, record, plan)
            return
        except IntegrityError:
            _restore_state(state, saved)
            if attempt == 2:
                raise


def _copy_state(state: _FileState) -> _FileState:
    return _FileState(
        dict(state.emails), dict(state.documents), dict(state.contacts),
        dict(state.new_accounts), dict(state.new_account_locations),
    )  # fmt: skip


def _restore_state(state: _FileState, saved: _FileState) -> None:
    state.emails, state.documents, state.contacts = saved.emails, saved.documents, saved.contacts
    state.new_accounts = saved.new_accounts
    state.new_account_locations = saved.new_account_locations


# ---------------------------------------------------------------- planning a chunk


@dataclass(slots=True)
class _Create:
    row: RowInput
    account_id: int  # negative: an account this import creates (by folded name)
    account_name: str | None
    location_id: int | None
    owner_id: int | None


@dataclass(slots=True)
class _Update:
    row: RowInput
    contact: Contact
    values: dict[str, Any]
    channels: dict[ChannelKind, list[str]]  # kinds whose channels the row replaces
    preferred: bool


@dataclass(slots=True)
class _Plan:
    rows: int = 0
    creates: list[_Create] = field(default_factory=list)
    updates: list[_Update] = field(default_factory=list)
    unchanged: int = 0
    skipped: int = 0
    errors: list[ImportRowError] = field(default_factory=list)
    # Accounts to create: folded name -> the name as written (first row's spelling).
    new_accounts: dict[str, str] = field(default_factory=dict)

    def fail(self, row: RowInput, problems: list[Problem]) -> None:
        for problem in problems:
            self.errors.append(row.error(problem))


async def _plan(
    access: Access,
    options: Options,
    table: Table,
    state: _FileState,
    chunk: list[tuple[int, dict[str, str]]],
) -> _Plan:
    plan = _Plan(rows=len(chunk))
    rows: list[RowInput] = []
    for number, cells in chunk:
        row = read_row(table, number, cells)
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
        _in_file(row, contact, state, problems)
        if problems:
            plan.fail(row, problems.items)
            continue
        if contact is not None and options.on_match is OnMatch.SKIP:
            plan.skipped += 1
            continue
        placement = found.placement(row, contact, options, state, plan, problems)
        owner_id = found.owner(row, access, problems)
        duplicates = found.duplicates(access, row, contact)
        problems.items.extend(duplicates)
        if problems:
            plan.fail(row, problems.items)
            continue
        _remember(row, contact, state)
        if contact is None:
            account_id, account_name, location_id = placement
            plan.creates.append(
                _Create(row, account_id, account_name, location_id,
                        owner_id if owner_id is not None else options.owner_id)
            )  # fmt: skip
            continue
        update = _changes(row, contact, found.channels.get(contact.id, []), placement, owner_id,
                          options)  # fmt: skip
        if update is None:
            plan.unchanged += 1
        else:
            plan.updates.append(update)
    return plan


def _in_file(row: RowInput, contact: Contact | None, state: _FileState, problems: Problems):
    """An email, a document, a contact: once per file; the later row is the error."""
    for email, header in row.emails().items():
        first = state.emails.get(email)
        if first is not None:
            problems.add(ProblemCode.DUPLICATE_EMAIL, header,
                         f"Row {first} of the file has this email address too.")  # fmt: skip
    document = row.document()
    if document is not None and document in state.documents:
        problems.add(
            ProblemCode.DUPLICATE_DOCUMENT, row.header("document_number"),
            f"Row {state.documents[document]} of the file has this document too.",
        )  # fmt: skip
    if contact is not None and contact.id in state.contacts and not problems:
        problems.add(
            ProblemCode.DUPLICATE_ROW, (),
            f"Row {state.contacts[contact.id]} of the file is for the same contact "
            f"({contact.contact_no}).",
        )  # fmt: skip


def _remember(row: RowInput, contact: Contact | None, state: _FileState) -> None:
    for email in row.emails():
        state.emails[email] = row.number
    document = row.document()
    if document is not None:
        state.documents[document] = row.number
    if contact is not None:
        state.contacts[contact.id] = row.number


def _changes(
    row: RowInput,
    contact: Contact,
    channels: list[Channel],
    placement: tuple[int, str | None, int | None],
    owner_id: int | None,
    options: Options,
) -> _Update | None:
    """What the row changes on its contact: only the columns the file has and the row fills;
    None when the contact already holds every value."""
    values = {
        name: value for name, value in row.values.items() if getattr(contact, name) != value
    }
    account_id, _, location_id = placement
    if row.has_account and account_id != contact.account_id:
        values["account_id"] = account_id
        values["location_id"] = location_id
        values["is_preferred"] = False  # rule 1 is per location: moving away un-prefers
    elif location_id is not None and location_id != contact.location_id:
        values["location_id"] = location_id
        values["is_preferred"] = False
    owner = owner_id if owner_id is not None else options.owner_id
    if owner is not None and owner != contact.owner_id:
        values["owner_id"] = owner
    replaced: dict[ChannelKind, list[str]] = {}
    for kind, wanted in row.channels.items():
        if [c.value for c in _of_kind(channels, kind)] != wanted:
            replaced[kind] = wanted
    preferred = bool(row.preferred) and not (contact.is_preferred and "location_id" not in values)
    if row.preferred is False and contact.is_preferred:
        values["is_preferred"] = False
    if not values and not replaced and not preferred:
        return None
    return _Update(row, contact, values, replaced, preferred)


def _of_kind(channels: list[Channel], kind: ChannelKind) -> list[Channel]:
    """A contact's channels of a kind as the export lists them: the primary first."""
    return sorted(
        (c for c in channels if c.kind == kind), key=lambda c: (not c.is_primary, c.created_at, c.id)
    )


class _Lookups:
    """What a chunk's rows name, fetched in a few statements for the whole chunk."""

    def __init__(self) -> None:
        self.by_number: dict[int, Contact] = {}
        self.by_email: dict[str, int] = {}  # an active contact's email -> its id (any caller's)
        self.by_document: dict[tuple[str, str], int] = {}
        self.visible: dict[int, Contact] = {}
        self.channels: dict[int, list[Channel]] = {}
        self.accounts_by_no: dict[int, Account] = {}
        self.accounts_by_name: dict[str, list[Account]] = {}
        self.locations: dict[tuple[int, str], Location] = {}
        self.main_locations: dict[int, int] = {}
        self.owners: dict[str, User] = {}
        self.may_own: dict[int, bool] = {}

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
            for channel in await Channel.filter(contact_id__in=list(found.visible)):
                found.channels.setdefault(channel.contact_id, []).append(channel)
        await found._accounts(access, options, rows)
        await found._owners(access, rows)
        return found

    async def _accounts(self, access: Access, options: Options, rows: list[RowInput]) -> None:
        numbers = {row.account_no for row in rows if row.account_no is not None}
        names = {row.account_name.casefold() for row in rows if row.account_name}
        accounts = access.rows(Account)
        if options.team_id is not None:
            accounts = accounts.filter(owner__team_id=options.team_id)
        found: list[Account] = []
        if numbers:
            found += await accounts.filter(id__in=list(numbers))
            self.accounts_by_no = {a.id: a for a in found}
        if names:
            from tortoise.functions import Lower

            named = await accounts.annotate(lower_name=Lower("name")).filter(
                lower_name__in=list(names)
            )
            for account in named:
                self.accounts_by_name.setdefault(account.name.casefold(), []).append(account)
            found += named
        ids = {a.id for a in found}
        location_names = {row.location_name for row in rows if row.location_name}
        if ids:
            for location in await Location.filter(account_id__in=list(ids), contact_id=None).filter(
                kind=LocationKind.MAIN
            ):
                self.main_locations[location.account_id] = location.id
            if location_names:
                for location in await Location.filter(
                    account_id__in=list(ids), name__in=list(location_names), contact_id=None
                ).order_by("id"):
                    self.locations.setdefault((location.account_id, location.name), location)
        # A contact moved by its row keeps its location if the row names none: their mains.
        current = {c.account_id for c in self.visible.values()} - set(self.main_locations)
        if current:
            for location in await Location.filter(
                account_id__in=list(current), kind=LocationKind.MAIN
            ):
                self.main_locations[location.account_id] = location.id

    async def _owners(self, access: Access, rows: list[RowInput]) -> None:
        emails = {row.owner_email for row in rows if row.owner_email}
        if not emails:
            return
        users = await User.filter(email__in=list(emails))
        self.owners = {user.email: user for user in users}
        for user in users:
            self.may_own[user.id] = await access.may_own(user.id)

    # ------------------------------------------------------------ per row, from memory

    def match(self, row: RowInput, problems: Problems) -> Contact | None:
        """The visible contact the row is for: by contact number, else email, else document."""
        if row.contact_no is not None:
            contact = self.by_number.get(row.contact_no)
            if contact is None:
                problems.add(ProblemCode.NOT_FOUND, row.header("contact_no"),
                             "No contact has this number.")  # fmt: skip
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

    def duplicates(self, access: Access, row: RowInput, contact: Contact | None) -> list[Problem]:
        """Rule 4 against the database: another contact's email or document. The message names
        the other contact only to a caller who sees it (rule 8)."""
        problems = Problems()
        mine = None if contact is None else contact.id
        for email, header in row.emails().items():
            other = self.by_email.get(email)
            if other is not None and other != mine:
                seen = self.visible.get(other)
                problems.add(
                    ProblemCode.DUPLICATE_EMAIL, header,
                    f"This email address already belongs to {seen.full_name} ({seen.contact_no})."
                    if seen is not None
                    else "This email address already belongs to another active contact.",
                )  # fmt: skip
        document = row.document()
        other = self.by_document.get(document) if document is not None else None
        if other is not None and other != mine:
            seen = self.visible.get(other)
            problems.add(
                ProblemCode.DUPLICATE_DOCUMENT, row.header("document_number"),
                f"This document already belongs to {seen.full_name} ({seen.contact_no})."
                if seen is not None
                else "This document already belongs to another contact.",
            )  # fmt: skip
        return problems.items

    def placement(
        self,
        row: RowInput,
        contact: Contact | None,
        options: Options,
        state: _FileState,
        plan: _Plan,
        problems: Problems,
    ) -> tuple[int, str | None, int | None]:
        """(account id, name of an account to create, location id) of the row's contact."""
        account_id: int | None = None
        new_name: str | None = None
        if row.account_no is not None:
            account = self.accounts_by_no.get(row.account_no)
            if account is None:
                problems.add(ProblemCode.NOT_FOUND, row.header("account_no"),
                             "No account has this number.")  # fmt: skip
            else:
                account_id = account.id
        elif row.account_name:
            key = fold(row.account_name)
            candidates = self.accounts_by_name.get(row.account_name.casefold(), [])
            if len(candidates) > 1:
                problems.add(
                    ProblemCode.DUPLICATE_NAME, row.header("account_name"),
                    f"{len(candidates)} accounts are named '{row.account_name}': give the "
                    "account number (accountNo) instead.",
                )  # fmt: skip
            elif candidates:
                account_id = candidates[0].id
            elif key in state.new_accounts:
                account_id = state.new_accounts[key]
            elif key in plan.new_accounts:
                account_id, new_name = -1, plan.new_accounts[key]
            elif options.create_accounts:
                plan.new_accounts[key] = row.account_name
                account_id, new_name = -1, row.account_name
            else:
                problems.add(
                    ProblemCode.NOT_FOUND, row.header("account_name"),
                    f"No account is named '{row.account_name}' (`createAccounts: true` "
                    "creates it).",
                )  # fmt: skip
        elif contact is None:
            problems.add(ProblemCode.REQUIRED, (),
                         "A contact belongs to an account: fill the account column.")  # fmt: skip
        if problems:
            return (0, None, None)
        if account_id is None:  # an update that names no account: it stays where it is
            account_id = contact.account_id
            if row.location_name is None:
                return (account_id, None, None)
        location_id = None
        if account_id > 0:
            if row.location_name:
                location = self.locations.get((account_id, row.location_name))
                if location is None:
                    problems.add(ProblemCode.NOT_FOUND, row.header("location_name"),
                                 "The account has no location of this name.")  # fmt: skip
                else:
                    location_id = location.id
            elif contact is None or account_id != contact.account_id:
                location_id = self.main_locations.get(account_id)
            else:
                location_id = contact.location_id
        return (account_id, new_name, location_id)

    def owner(self, row: RowInput, access: Access, problems: Problems) -> int | None:
        if not row.owner_email:
            return None
        user = self.owners.get(row.owner_email)
        if user is None:
            problems.add(ProblemCode.NOT_FOUND, row.header("owner_email"),
                         "No user has this email address.")  # fmt: skip
            return None
        if not self.may_own[user.id]:
            problems.add(
                ProblemCode.OUT_OF_RANGE, row.header("owner_email"),
                "Only a manager or an admin may give records to another team.",
            )  # fmt: skip
            return None
        return user.id


# ---------------------------------------------------------------- writing a chunk


async def write_chunk(
    access: Access, options: Options, record: ContactImport, plan: _Plan
) -> None:
    """The chunk's writes in one unit of work: new accounts, new and updated contacts with
    their channels and ``IMPORTED`` audit events, the row errors and the import's counts.
    A dry run writes only the row errors and the counts.

    The one place that writes contacts for an import, through the single-contact rules of
    ``resolvers.contacts`` (rule 1, rule 3, the search text, the audit snapshot); the batch
    write core takes its place when it lands.
    """
    viewer = access.user
    preferred_at = sorted({
        u.values.get("location_id") or u.contact.location_id
        for u in plan.updates if u.preferred
    } | {c.location_id for c in plan.creates if c.row.preferred and c.location_id})  # fmt: skip
    async with change(viewer, locations=preferred_at) as unit:
        if not options.dry_run:
            accounts = await _create_accounts(unit, options, plan)
            for item in plan.creates:
                await _create(unit, options, item, accounts)
            for item in plan.updates:
                await _update(unit, item)
        if plan.errors:
            for error in plan.errors:
                error.contact_import_id = record.id
            await ImportRowError.bulk_create(plan.errors, batch_size=CHUNK,
                                             using_db=unit.connection)  # fmt: skip
        record.rows_processed += plan.rows
        record.created += len(plan.creates)
        record.updated += len(plan.updates)
        record.unchanged += plan.unchanged
        record.skipped += plan.skipped
        record.row_error_count += len(plan.errors)
        await record.save(
            update_fields=["rows_processed", "created", "updated", "unchanged", "skipped",
                           "row_error_count"],
            using_db=unit.connection,
        )  # fmt: skip


async def _create_accounts(unit: Unit, options: Options, plan: _Plan) -> dict[str, Account]:
    from resolvers.accounts import AUDITED_FIELDS as ACCOUNT_FIELDS

    made: dict[str, Account] = {}
    for key, name in plan.new_accounts.items():
        account = await Account.create(name=name, owner_id=options.default_owner_id)
        account.search_text = account.search_document()
        await Account.filter(id=account.id).update(search_text=account.search_text)
        await unit.record(
            AuditAction.CREATED, account, account.name,
            audit.diff({}, audit.snapshot(account, ACCOUNT_FIELDS)),
        )  # fmt: skip
        main = await new_location(
            unit,
            {"account_id": account.id, "kind": LocationKind.MAIN, "name": name, "is_default": True},
        )
        account.main_location_id = main.id  # type: ignore[attr-defined]
        made[key] = account
    return made


async def _create(unit: Unit, options: Options, item: _Create, made: dict[str, Account]) -> None:
    row = item.row
    if item.account_id < 0:
        account = made[fold(item.account_name or "")] if item.account_name else None
        account = account or next(a for k, a in made.items() if k == fold(row.account_name))
        account_id, location_id = account.id, account.main_location_id  # type: ignore[attr-defined]
        owner_default = account.owner_id
    else:
        account_id, location_id = item.account_id, item.location_id
        owner_default = (await Account.get(id=account_id)).owner_id
    contact = Contact(
        **row.values,
        account_id=account_id,
        location_id=location_id,
        owner_id=item.owner_id if item.owner_id is not None else owner_default,
        created_by_id=unit.actor.id if unit.actor else None,
        capture_source=CaptureSource.IMPORT,
    )
    await contact.save(using_db=unit.connection)
    if row.preferred:
        unit.require_lock(Location, location_id)
        await contact_rules.make_preferred(unit, contact)
    await _write_channels(contact, row.channels)
    await contact_rules.refresh_search(contact)
    await unit.record(
        AuditAction.IMPORTED, contact, contact.full_name,
        audit.diff({}, audit.snapshot(contact, contact_rules.AUDITED_FIELDS)),
    )  # fmt: skip


async def _update(unit: Unit, item: _Update) -> None:
    contact = item.contact
    before = audit.snapshot(contact, contact_rules.AUDITED_FIELDS)
    for name, value in item.values.items():
        setattr(contact, name, value)
    if item.values:
        await contact.save_changes(*item.values)
    if item.preferred:
        await contact_rules.make_preferred(unit, contact)
    for kind, values in item.channels.items():
        await Channel.filter(contact_id=contact.id, kind=kind).delete()
        await _write_channels(contact, {kind: values})
    await contact_rules.refresh_search(contact)
    changes = audit.diff(before, audit.snapshot(contact, contact_rules.AUDITED_FIELDS))
    for kind, values in item.channels.items():
        changes[f"channels.{kind.value}"] = {"to": values}
    await unit.record(AuditAction.IMPORTED, contact, contact.full_name, changes)


async def _write_channels(contact: Contact, channels: dict[ChannelKind, list[str]]) -> None:
    """Rule 3: the first of each kind, as the row lists them, is the primary."""
    rows = [
        Channel(
            contact_id=contact.id,
            kind=kind,
            value=value,
            normalized=channel_rules.normalize_channel(kind, value),
            is_primary=index == 0,
            contact_active=contact.status == RecordStatus.ACTIVE,
        )
        for kind, values in channels.items()
        for index, value in enumerate(values)
    ]
    if rows:
        await Channel.bulk_create(rows)
