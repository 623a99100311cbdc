"""CSV and XLSX export of contacts: the rows of the ``contacts`` list, every one, streamed.

The filter and search are the list's own (``contacts_queryset``), so the export shows
exactly what the caller may see (rule 8) and what the list would page through. The columns
are the import's (``resolvers.porting.columns``): what the export writes, the import reads
back unchanged. Contacts are read in keyset batches with their channels, accounts,
locations and addresses per batch, so memory stays flat however many rows there are.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from enum import Enum
from operator import attrgetter
from types import SimpleNamespace
from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from models import Account, Channel, Contact, CustomFieldDefinition, Location, User
from models.enums import (
    ChannelKind,
    ContactRole,
    CustomFieldEntity,
    LeadSource,
    LocationKind,
    RecordStatus,
)
from resolvers.access import Access, Area
from resolvers.contacts import contacts_queryset
from resolvers.custom_fields import custom_field_condition, definitions_of, with_custom_field
from resolvers.errors import BadInput, Forbidden
from resolvers.listing import MAX_SEARCH_LENGTH, plain_text
from resolvers.porting.columns import (
    CUSTOM_FIELD,
    EXPORTED,
    CellError,
    Column,
    column_for,
    custom_field_header,
    escape_cell,
    parse_custom_field,
)
from resolvers.validation import camel

BATCH = 500
# Custom field columns beyond these many (keys in alphabetical order) are not exported.
MAX_CUSTOM_FIELD_COLUMNS = 200
MAX_REQUESTED_COLUMNS = len(EXPORTED) + MAX_CUSTOM_FIELD_COLUMNS
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t"}
CSV_OPTIONS = ("delimiter", "bom")


@dataclass(slots=True)
class ContactFilter:
    """The ``ContactFilter`` input of the list, read from query parameters."""

    status: RecordStatus | None = None
    include_inactive: bool = False
    account_id: str | None = None
    location_id: str | None = None
    role: ContactRole | None = None
    is_vip: bool | None = None
    is_preferred: bool | None = None
    owner_id: str | None = None
    lead_source: LeadSource | None = None
    tag: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    # The list's ``customField`` filter, from a ``cf.<key>=<value>`` parameter
    # (``custom_field_filter``): the SQL condition, not a parameter of its own.
    custom_field: Any = None


def _boolean(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError("true or false")
    return text == "true"


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ValueError("a date-time with a time zone, e.g. 2026-01-31T00:00:00Z")
    return value


def _expected(parse: Callable[[str], Any], error: ValueError) -> str:
    if isinstance(parse, type) and issubclass(parse, Enum):
        return "one of " + ", ".join(member.value for member in parse)
    return str(error)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "status": RecordStatus,
    "include_inactive": _boolean,
    "role": ContactRole,
    "is_vip": _boolean,
    "is_preferred": _boolean,
    "lead_source": LeadSource,
    "created_after": _instant,
    "created_before": _instant,
}
PARAMETERS = {
    camel(f.name): f.name for f in fields(ContactFilter) if f.name != "custom_field"
} | {"search": "search"}
CUSTOM_FIELD_PARAMETER = "cf."


def parse_parameters(
    params: Mapping[str, str], options: Iterable[str] = ()
) -> tuple[ContactFilter, str | None]:
    """The filter and search of ``?status=ACTIVE&search=jose…``; BadInput names the culprit.
    ``options`` are the other parameters the caller reads itself."""
    known = set(PARAMETERS) | set(options)
    unknown = sorted(name for name in set(params) - known
                     if not name.startswith(CUSTOM_FIELD_PARAMETER))  # fmt: skip
    if unknown:
        raise BadInput(
            f"Unknown parameter `{unknown[0]}`; use {', '.join(sorted(known))} or "
            "cf.<key> (a custom field equal to the value).",
            argument=unknown[0],
        )
    for parameter, text in params.items():
        plain_text(text, parameter)
    contact_filter = ContactFilter()
    for parameter, name in PARAMETERS.items():
        if parameter not in params or name == "search":
            continue
        text = params[parameter]
        parse = _PARSERS.get(name, str)
        try:
            setattr(contact_filter, name, parse(text))
        except ValueError as error:
            raise BadInput(
                f"`{parameter}` is '{text[:40]}'; expected {_expected(parse, error)}.",
                argument=parameter,
            ) from None
    search = params.get("search")
    if search is not None and len(search) > MAX_SEARCH_LENGTH:
        raise BadInput(f"`search` is longer than {MAX_SEARCH_LENGTH}.", argument="search")
    return contact_filter, search


async def custom_field_filter(params: Mapping[str, str]) -> Any:
    """The list's ``customField`` filter from ``cf.<key>=<value>`` (the export's own column
    name): equal to the value, read as the definition's type reads a ``cf.<key>`` cell (a
    MULTI_SELECT's list holds any of the options given); one such parameter at a time."""
    given = {name: text for name, text in params.items()
             if name.startswith(CUSTOM_FIELD_PARAMETER)}  # fmt: skip
    if not given:
        return None
    if len(given) > 1:
        raise BadInput("Filter on one custom field at a time (one `cf.<key>` parameter).",
                       argument=sorted(given)[1])  # fmt: skip
    [(parameter, text)] = given.items()
    key = parameter.removeprefix(CUSTOM_FIELD_PARAMETER)
    definition = (await definitions_of(CustomFieldEntity.CONTACT)).get(key)
    if definition is None:
        raise BadInput(f"`{parameter[:70]}`: no custom field '{key[:64]}' is defined for "
                       "contacts.", argument=parameter[:70])  # fmt: skip
    try:
        value = parse_custom_field(definition.type, text)
    except CellError as error:
        raise BadInput(f"`{parameter}`: {error.message}", argument=parameter) from None
    if value is None:
        raise BadInput(f"`{parameter}`: give the value to compare with.", argument=parameter)
    many = isinstance(value, list)
    wanted = SimpleNamespace(key=key, equals=None if many else value,
                             in_=value if many else None, gt=None, lt=None)  # fmt: skip
    return await custom_field_condition(CustomFieldEntity.CONTACT, wanted)


def _listed(access: Access, contact_filter: ContactFilter, search: str | None) -> QuerySet:
    """The list's rows. A custom-field condition narrows them through a subquery of ids: as
    an annotation it would be a column Tortoise expects in every model row it reads."""
    query = contacts_queryset(access, contact_filter, search)
    if contact_filter.custom_field is None:
        return query
    ids = with_custom_field(Contact.all(), contact_filter.custom_field).values("id")
    return query.filter(id__in=Subquery(ids))


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What the caller asked of the file beyond the list's filter: its columns, and for CSV
    the separator and a byte order mark (for spreadsheets in Spanish locales)."""

    columns: tuple[str, ...] | None = None
    delimiter: str = ","
    bom: bool = False


def parse_options(params: Mapping[str, str], *, csv_file: bool) -> ExportOptions:
    """``columns=a,b,c``, ``delimiter=semicolon``, ``bom=true``; BadInput names the culprit."""
    options: dict[str, Any] = {}
    if csv_file and "delimiter" in params:
        text = params["delimiter"]
        if text not in DELIMITERS:
            raise BadInput(f"`delimiter` is '{text[:40]}'; expected one of "
                           f"{', '.join(DELIMITERS)}.", argument="delimiter")  # fmt: skip
        options["delimiter"] = DELIMITERS[text]
    if csv_file and "bom" in params:
        try:
            options["bom"] = _boolean(params["bom"])
        except ValueError:
            raise BadInput(f"`bom` is '{params['bom'][:40]}'; expected true or false.",
                           argument="bom") from None  # fmt: skip
    if "columns" in params:
        options["columns"] = _requested_columns(params["columns"])
    return ExportOptions(**options)


def _requested_columns(text: str) -> tuple[str, ...]:
    names = [name.strip() for name in text.split(",")]
    if len(names) > MAX_REQUESTED_COLUMNS:
        raise BadInput(f"`columns` names {len(names)} columns; at most {MAX_REQUESTED_COLUMNS}.",
                       argument="columns")  # fmt: skip
    keys: list[str] = []
    for name in names:
        match = column_for(name) if name else None
        if match is None or match.family != "export" or not match.column.exported:
            shown = ", ".join(column.key for column in EXPORTED)
            raise BadInput(f"Unknown column `{name[:70]}` in `columns`; use {shown}, or "
                           "cf.<key> for a custom field.", argument="columns")  # fmt: skip
        if match.key not in keys:
            keys.append(match.key)
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class OutColumn:
    """A column of this export: its header, its column, and the custom field it holds."""

    header: str
    column: Column
    custom_field: str | None = None


def _allowed(access: Access, column: Column) -> bool:
    return access.allows_field(*column.allowlist.split(".", 1))


def _chosen(access: Access, options: ExportOptions) -> list[OutColumn] | None:
    """The columns the caller named, checked against its token; None: every column."""
    if options.columns is None:
        return None
    chosen = []
    for key in options.columns:
        match = column_for(key)
        assert match is not None  # checked by parse_options
        if not _allowed(access, match.column):
            raise Forbidden(f"This token may not read the column `{key}`.")
        chosen.append(OutColumn(match.key, match.column, match.custom_field))
    return chosen


async def _columns(
    access: Access, query: QuerySet[Contact], chosen: list[OutColumn] | None
) -> list[OutColumn]:
    if chosen is not None:
        return chosen
    columns = [OutColumn(c.key, c) for c in EXPORTED if _allowed(access, c)]
    if _allowed(access, CUSTOM_FIELD):
        keys = await custom_field_keys()
        columns += [OutColumn(custom_field_header(k), CUSTOM_FIELD, k) for k in keys]
    return columns


async def custom_field_keys() -> list[str]:
    """The contacts' custom fields, a ``cf.<key>`` column each, by key: one statement.

    The columns are the definitions (docs/custom-fields.md), not the keys rows hold. An
    archived definition has no column: its values stay readable through the API, and a
    file written here imports back (the import refuses writes to archived fields)."""
    keys = await CustomFieldDefinition.filter(
        entity=CustomFieldEntity.CONTACT, archived=False
    ).order_by("key").limit(MAX_CUSTOM_FIELD_COLUMNS).values_list("key", flat=True)
    return [str(key) for key in keys]


@dataclass(slots=True)
class _Row:
    """A contact and what its columns read, by ``Column.where``."""

    contact: Contact
    account: Account | None
    location: Location | None
    owner: User | None
    channels: dict[ChannelKind, list[str]]  # primary first, then oldest first
    address: Location | None  # the contact's own HOME address


def _getter(out: OutColumn) -> Callable[[_Row], Any]:
    """How this column's value is read from a row, decided once per export."""
    column = out.column
    where, name, index = column.where, column.field, column.index
    key = out.custom_field
    if key is not None:
        return lambda row: (row.contact.custom_fields or {}).get(key)
    if where == "channel":
        kind = ChannelKind(name)

        def channel(row: _Row) -> str | None:
            values = row.channels.get(kind)
            return values[index] if values is not None and index < len(values) else None

        return channel
    holder = attrgetter(where)

    def value(row: _Row) -> Any:
        found = holder(row)
        return None if found is None else getattr(found, name)

    return value


def _cells_of(columns: list[OutColumn]) -> Callable[[_Row], list[str]]:
    readers = [(_getter(out), out.column.format) for out in columns]

    def cells(row: _Row) -> list[str]:
        return [escape_cell(format_cell(read(row))) for read, format_cell in readers]

    return cells


ROWS_PER_POINT = 100


# A sheet holds 1,048,576 rows, the header one of them.
XLSX_MAX_ROWS = 1_048_575


async def export_cost(
    access: Access, contact_filter: ContactFilter, search: str | None, *, xlsx: bool = False
) -> int:
    """What an export costs in rate-limit points: one, and one per 100 rows it will write.
    An XLSX export of more rows than a sheet holds is refused here, before any byte."""
    query = _listed(access, contact_filter, search)
    rows = await query.count()
    if xlsx and rows > XLSX_MAX_ROWS:
        raise BadInput(
            f"{rows} contacts match; a sheet holds at most {XLSX_MAX_ROWS}. Export them as "
            "CSV, or narrow the export with the list's filters."
        )
    return 1 + -(-rows // ROWS_PER_POINT)


def contact_csv(
    access: Access,
    contact_filter: ContactFilter,
    search: str | None,
    options: ExportOptions | None = None,
) -> AsyncIterator[str]:
    """The CSV text: a header, then a chunk per batch of contacts, in contact-number order.

    Everything that can refuse the request (scope, malformed ids, columns) does so here,
    before the first byte is streamed.
    """
    options = options or ExportOptions()
    access.require_read(Area.CONTACTS)
    query = _listed(access, contact_filter, search)
    return _csv(access, query, _chosen(access, options), options)


def contact_xlsx(
    access: Access,
    contact_filter: ContactFilter,
    search: str | None,
    options: ExportOptions | None = None,
) -> AsyncIterator[bytes]:
    """The XLSX workbook, one sheet, every cell text. Refusals come here, before any byte."""
    options = options or ExportOptions()
    access.require_read(Area.CONTACTS)
    query = _listed(access, contact_filter, search)
    return _xlsx(access, query, _chosen(access, options))


def template_csv(options: ExportOptions) -> str:
    """The import template: the header of the export's columns that the import reads."""
    return ("\ufeff" if options.bom else "") + _line(template_columns(), options.delimiter)


def template_columns() -> list[str]:
    return [column.key for column in EXPORTED if column.imported]


def template_xlsx() -> bytes:
    buffer = io.BytesIO()
    workbook = _workbook(buffer, {"in_memory": True})
    workbook.add_worksheet("contacts").write_row(0, 0, template_columns())
    workbook.close()
    return buffer.getvalue()


def _workbook(target: Any, options: dict[str, Any]) -> Any:
    import xlsxwriter  # only an XLSX export pays for loading it

    # Every cell a string as written: never a formula, a number or a link made of it.
    text_only = {"strings_to_formulas": False, "strings_to_numbers": False,
                 "strings_to_urls": False}  # fmt: skip
    return xlsxwriter.Workbook(target, {**text_only, **options})


def _line(values: list[str], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


async def _csv(
    access: Access,
    query: QuerySet[Contact],
    chosen: list[OutColumn] | None,
    options: ExportOptions,
) -> AsyncIterator[str]:
    columns = await _columns(access, query, chosen)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=options.delimiter, lineterminator="\r\n")
    yield ("\ufeff" if options.bom else "") + _line([c.header for c in columns], options.delimiter)
    async for rows in _batches(access, query, columns):
        writer.writerows(rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


XLSX_CHUNK = 1 << 16


async def _xlsx(
    access: Access, query: QuerySet[Contact], chosen: list[OutColumn] | None
) -> AsyncIterator[bytes]:
    """XlsxWriter's constant-memory mode writes each row to a temporary file as it comes;
    the workbook is zipped once the last row is in, then streamed from disk. Everything is
    in a directory of this export's own, removed however the export ends."""
    columns = await _columns(access, query, chosen)
    with tempfile.TemporaryDirectory(prefix="crm-export-") as directory:
        name = os.path.join(directory, "contacts.xlsx")
        workbook = _workbook(name, {"constant_memory": True, "tmpdir": directory})
        sheet = workbook.add_worksheet("contacts")
        sheet.write_row(0, 0, [c.header for c in columns])
        written = 1
        async for rows in _batches(access, query, columns):
            await asyncio.to_thread(_append, sheet, written, rows)
            written += len(rows)
        await asyncio.to_thread(workbook.close)
        with open(name, "rb") as handle:
            while chunk := await asyncio.to_thread(handle.read, XLSX_CHUNK):
                yield chunk


def _append(sheet: Any, first: int, rows: list[list[str]]) -> None:
    for number, row in enumerate(rows, start=first):
        sheet.write_row(number, 0, row)


async def _batches(
    access: Access, query: QuerySet[Contact], columns: list[OutColumn]
) -> AsyncIterator[list[list[str]]]:
    """Keyset batches of 500: five statements each at most (contacts, channels, accounts,
    locations with the contacts' addresses, owners), never one per contact."""
    wheres = {out.column.where for out in columns}
    cells = _cells_of(columns)
    last_id = 0
    while True:
        batch = await query.filter(id__gt=last_id).order_by("id").limit(BATCH)
        if not batch:
            return
        last_id = batch[-1].id
        rows = await _rows(access, batch, wheres)
        yield [cells(row) for row in rows]
        if len(batch) < BATCH:
            return


async def _rows(access: Access, batch: list[Contact], wheres: set[str]) -> list[_Row]:
    ids = [contact.id for contact in batch]
    channels: dict[int, dict[ChannelKind, list[str]]] = {pk: {} for pk in ids}
    if "channel" in wheres:
        ordered = Channel.filter(contact_id__in=ids).order_by(
            "contact_id", "kind", "-is_primary", "created_at", "id"
        )
        for channel in await ordered:
            kinds = channels[channel.contact_id]
            kinds.setdefault(ChannelKind(channel.kind), []).append(channel.value)
    accounts = (
        await _by_id(access.rows(Account), {c.account_id for c in batch})
        if "account" in wheres
        else {}
    )
    locations: dict[int, Location] = {}
    addresses: dict[int, Location] = {}
    if wheres & {"location", "address"}:
        wanted = Q(id__in=list({c.location_id for c in batch})) if "location" in wheres else Q()
        if "address" in wheres:
            home = Q(contact_id__in=ids, kind=LocationKind.HOME)
            wanted = wanted | home if "location" in wheres else home
        found = await access.rows(Location).filter(wanted).order_by("-is_default", "id")
        for location in found:
            locations[location.id] = location
            if location.contact_id is not None and location.kind == LocationKind.HOME:
                addresses.setdefault(location.contact_id, location)
    owner_ids = {c.owner_id for c in batch if c.owner_id is not None}
    owners = await _by_id(User.all(), owner_ids) if "owner" in wheres else {}
    return [
        _Row(
            c,
            accounts.get(c.account_id),
            locations.get(c.location_id),
            owners.get(c.owner_id) if c.owner_id is not None else None,
            channels[c.id],
            addresses.get(c.id),
        )
        for c in batch
    ]


async def _by_id(query: Any, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {row.id: row for row in await query.filter(id__in=list(ids))}
