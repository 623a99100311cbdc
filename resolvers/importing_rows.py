"""One row of an imported file, read: its cells parsed by their columns
(``resolvers.porting.columns``) and checked by the same functions as createContact and
updateContact, with every problem named by the column's header as the file writes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models import ImportRowError
from models.enums import PHONE_CHANNEL_KINDS, ChannelKind, DocumentType
from resolvers import channels as channel_rules
from resolvers import contacts as contact_rules
from resolvers import validation as check
from resolvers.channels import ChannelValue
from resolvers.custom_fields import Definitions
from resolvers.errors import Problem, ProblemCode, Problems
from resolvers.inputs import NOT_SENT, Input
from resolvers.locations import ADDRESS_FIELDS, check_address
from resolvers.porting.columns import CellError, ColumnMatch, format_value, parse_custom_field
from resolvers.porting.reader import Table

# The contact fields ``contact_rules._check_fields`` reads, all of them (NOT_SENT: no column).
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "salutation",
    "job_title",
    "document_number",
    "home_phone",
    "image_url",
    "birthday",
    "tags",
    "custom_fields",
    "role",
    "document_type",
    "lead_source",
    "is_vip",
    "portal_user",
    "email_opt_out",
    "converted_from_lead",
)
ADDRESS_NAMES = (*(name for name, _ in ADDRESS_FIELDS), "country")
# Columns the import reads but leaves alone: a contact's status changes through
# activateContact / deactivateContact only (rule 4 holds there).
LEFT_ALONE = frozenset({"status"})
MAX_MESSAGE = 500
# The input fields of createContact whose columns have other names.
_INPUT_COLUMNS = {
    "accountId": ("accountNo", "accountName"),
    "locationId": ("locationName",),
    "ownerId": ("ownerEmail",),
    "id": ("contactNo",),
}


class TableColumns:
    """A file's recognised columns: the header each column key has in this file."""

    def __init__(self, table: Table) -> None:
        self.matches: dict[str, ColumnMatch] = {}
        self.headers: dict[str, str] = {}
        for header, match in zip(table.headers, table.columns, strict=False):
            if match is not None:
                self.matches[match.key] = match
                self.headers[match.key] = header
        self.has_account = bool({"accountNo", "accountName"} & self.matches.keys())


@dataclass(slots=True)
class RowInput:
    """A row's values, parsed and checked: what it says about its contact."""

    number: int
    columns: TableColumns
    cells: dict[str, Any] = field(default_factory=dict)  # column key -> parsed value
    problems: list[Problem] = field(default_factory=list)
    # Channels by kind in column order (the first is the primary), checked.
    channels: dict[ChannelKind, list[ChannelValue]] = field(default_factory=dict)
    channel_headers: dict[str, str] = field(default_factory=dict)  # normalized email -> header
    channel_columns: dict[ChannelKind, list[str]] = field(default_factory=dict)  # their headers
    # Phone-like cells (kind -> [(value, header)]): read once the row's region is known.
    phones: dict[ChannelKind, list[tuple[str, str]]] = field(default_factory=dict)
    address: dict[str, Any] = field(default_factory=dict)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    # The contact fields, checked for a create or an update (``checked``).
    values: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------ what the row names

    @property
    def contact_no(self) -> int | None:
        return self.cells.get("contactNo")

    @property
    def account_no(self) -> int | None:
        return self.cells.get("accountNo")

    @property
    def account_name(self) -> str | None:
        name = self.cells.get("accountName")
        return " ".join(name.split()) if name else None

    @property
    def location_name(self) -> str | None:
        name = self.cells.get("locationName")
        return " ".join(name.split()) if name else None

    @property
    def owner_email(self) -> str | None:
        email = self.cells.get("ownerEmail")
        return email.strip().casefold() if email else None

    @property
    def preferred(self) -> bool | None:
        return self.cells.get("isPreferred")

    @property
    def has_account(self) -> bool:
        return self.account_no is not None or bool(self.account_name)

    def emails(self) -> dict[str, str]:
        """The row's email addresses, compared case-insensitively, with their headers."""
        return self.channel_headers

    def document(self) -> tuple[str, str] | None:
        number = self.cells.get("documentNumber")
        kind = self.cells.get("documentType")
        if not number or kind is None:
            return None
        return (str(kind), " ".join(number.split()))

    def header(self, key: str) -> str:
        """The header, as the file writes it, of a column key (``email``), of a model or
        input field (``first_name``, ``postalCode``), or of a header already."""
        headers = self.columns.headers
        if key in headers:
            return headers[key]
        for alias in _INPUT_COLUMNS.get(key, ()):
            if alias in headers:
                return headers[alias]
        name = check.camel(key)
        if name in headers:
            return headers[name]
        if name in ("firstName", "lastName") and "fullName" in headers:
            return headers["fullName"]
        return key

    def error(self, problem: Problem) -> ImportRowError:
        """The row error of a problem, its path turned into the header it comes from."""
        path = problem.field
        header = None
        if path:
            if path[0] == "customFields" and len(path) > 1:
                header = self.columns.headers.get("cf." + path[1], path[1])
            else:
                header = self.header(path[0])
        return ImportRowError(
            row_number=self.number,
            field=header,
            code=problem.code.value,
            message=problem.message[:MAX_MESSAGE],
        )

    # ------------------------------------------------------------ checks once matched

    def person_name(self) -> str:
        """The row's first and last name as written (a person's own account is named so)."""
        full = self.cells.get("fullName")
        first, last = full if full is not None else (None, None)
        parts = (self.cells.get("firstName") or first, self.cells.get("lastName") or last)
        return " ".join(" ".join(part.split()) for part in parts if part)

    def checked(
        self, region: str, current: Any = None, definitions: Definitions | None = None
    ) -> list[Problem]:
        """The contact fields through createContact's (no ``current``) or updateContact's
        checks, and the phone-like channels, numbers read in ``region`` (the region rule of
        the row's site); the values land in ``values``, only those the row fills on an
        update. ``cf.<key>`` cells are read by their ``definitions``' types, then checked as
        every write checks them; on an update they change only the keys the file has."""
        problems = Problems()
        for kind, found in self.phones.items():
            values, headers = [], []
            for value, header in found:
                number = channel_rules.check_channel_value(problems, (header,), kind, value,
                                                           region)  # fmt: skip
                if number is not None:
                    values.append(number)
                    headers.append(header)
            self.channels[kind], self.channel_columns[kind] = values, headers
        sent: dict[str, Any] = dict.fromkeys(CONTACT_FIELDS, NOT_SENT)
        full_name = self.cells.get("fullName")
        if full_name is not None:
            sent["first_name"], sent["last_name"] = full_name
        for key, value in self.cells.items():
            name = _contact_field(self.columns.matches[key])
            if name in sent:
                sent[name] = value
        typed = self._typed_custom_fields(problems, definitions or {})
        if typed:
            stored = {} if current is None else dict(current.custom_fields or {})
            sent["custom_fields"] = {**stored, **typed}
        values = contact_rules._check_fields(problems, Input("ImportRow", sent), region, current,
                                             definitions)  # fmt: skip
        if current is not None:
            # Only the columns the file has; what the checks derive (``tag_keys``) goes along.
            values = {
                name: value
                for name, value in values.items()
                if sent.get(name, value) is not NOT_SENT
            }
        self.values = values
        return problems.items


    def _typed_custom_fields(self, problems: Problems, definitions: Definitions) -> dict[str, Any]:
        """The row's ``cf.<key>`` cells as their definitions' types (an empty cell leaves the
        key as it is); a key without a definition stays text, for the check to refuse."""
        typed: dict[str, Any] = {}
        for key, text in self.custom_fields.items():
            definition = definitions.get(key)
            try:
                value = text if definition is None else parse_custom_field(definition.type, text)
            except CellError as error:
                problems.add(error.code, ("customFields", key), error.message)
                continue
            if value is not None:
                typed[key] = value
        return typed


def _contact_field(match: ColumnMatch) -> str | None:
    column = match.column
    if column.where != "contact" or match.custom_field is not None:
        return None
    return column.field


def read_row(columns: TableColumns, number: int, cells: dict[str, str]) -> RowInput:
    """A row's cells parsed by their columns; the channels and the address checked."""
    row = RowInput(number, columns)
    problems = Problems()
    channel_cells: dict[ChannelKind, list[tuple[int, str, str]]] = {}
    address: dict[str, Any] = dict.fromkeys(ADDRESS_NAMES, NOT_SENT)
    for key, text in cells.items():
        match = columns.matches[key]
        column = match.column
        header = columns.headers[key]
        if not column.imported or column.field in LEFT_ALONE:
            continue
        long = match.custom_field is not None
        if not long:
            # A line break a spreadsheet keeps inside a short cell (an address on two
            # lines) is a space: short text is one line.
            text = " ".join(text.split())
        reason = check.bad_characters(text, long=long)
        if reason is not None:
            problems.add(ProblemCode.INVALID_CHARACTERS, header, reason)
            continue
        try:
            value = column.parse(text)
        except CellError as error:
            problems.add(error.code, header, error.message)
            continue
        if match.custom_field is not None:
            row.custom_fields[match.custom_field] = value
        elif column.where == "channel":
            channel_cells.setdefault(column.channel_kind, []).append((column.index, value, header))
        elif column.where == "address":
            address[column.field] = value
        else:
            row.cells[key] = value
    for kind, found in channel_cells.items():
        if kind in PHONE_CHANNEL_KINDS:
            row.phones[kind] = [(value, header) for _, value, header in sorted(found)]
            continue
        values: list[ChannelValue] = []
        headers: list[str] = []
        for _, value, header in sorted(found):
            # Not a phone: no region reads it.
            checked = channel_rules.check_channel_value(problems, (header,), kind, value, "")
            if checked is None:
                continue
            if kind == ChannelKind.EMAIL:
                row.channel_headers.setdefault(checked.normalized, header)
            values.append(checked)
            headers.append(header)
        row.channels[kind] = values
        row.channel_columns[kind] = headers
    if any(value is not NOT_SENT for value in address.values()):
        row.address = {
            name: value
            for name, value in check_address(
                problems, Input("ImportAddress", address), creating=False
            ).items()
        }
    if row.cells.get("documentNumber") and "documentType" not in row.cells:
        problems.add(
            ProblemCode.REQUIRED,
            columns.headers["documentNumber"],
            "Give the type of the document too (its column).",
        )
    document_type = row.cells.get("documentType")
    if document_type is not None and not isinstance(document_type, DocumentType):
        row.cells["documentType"] = DocumentType(document_type)
    row.problems = problems.items
    return row


def same_text(stored: Any, value: Any) -> bool:
    """A stored value and an imported one, as the export would write them."""
    return format_value(stored) == format_value(value)
