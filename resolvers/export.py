"""CSV export of contacts: the rows of the ``contacts`` list, every one of them, streamed.

The filter and search are the list's own (``contacts_queryset``), so the export shows
exactly what the caller may see (rule 8) and what the list would page through. Columns
are named like the GraphQL fields, so what the export writes an import can read back.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import Enum
from typing import Any

from tortoise.queryset import QuerySet

from models import Account, Channel, Contact, Location, User
from models.enums import ChannelKind, ContactRole, LeadSource, RecordStatus
from resolvers.access import Access, Area
from resolvers.contacts import contacts_queryset
from resolvers.errors import BadInput
from resolvers.listing import MAX_SEARCH_LENGTH, plain_text
from resolvers.validation import camel, is_phone_number

BATCH = 500
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")


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
PARAMETERS = {camel(f.name): f.name for f in fields(ContactFilter)} | {"search": "search"}


def parse_parameters(params: Mapping[str, str]) -> tuple[ContactFilter, str | None]:
    """The filter and search of ``?status=ACTIVE&search=jose…``; BadInput names the culprit."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise BadInput(
            f"Unknown parameter `{unknown[0]}`; use {', '.join(sorted(PARAMETERS))}.",
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


# (column, allowlist coordinate, value of a row)
Column = tuple[str, str, Callable[["_Row"], Any]]


@dataclass(slots=True)
class _Row:
    contact: Contact
    account: Account | None
    location: Location | None
    owner: User | None
    primary: dict[ChannelKind, str]


COLUMNS: tuple[Column, ...] = (
    ("contactNo", "Contact.contactNo", lambda r: r.contact.contact_no),
    ("salutation", "Contact.salutation", lambda r: r.contact.salutation),
    ("firstName", "Contact.firstName", lambda r: r.contact.first_name),
    ("lastName", "Contact.lastName", lambda r: r.contact.last_name),
    ("jobTitle", "Contact.jobTitle", lambda r: r.contact.job_title),
    ("role", "Contact.role", lambda r: r.contact.role),
    ("email", "Contact.email", lambda r: r.primary.get(ChannelKind.EMAIL)),
    ("phone", "Contact.phone", lambda r: r.primary.get(ChannelKind.PHONE)),
    ("mobile", "Contact.mobile", lambda r: r.primary.get(ChannelKind.MOBILE)),
    ("homePhone", "Contact.homePhone", lambda r: r.contact.home_phone),
    ("birthday", "Contact.birthday", lambda r: r.contact.birthday),
    ("documentType", "Contact.documentType", lambda r: r.contact.document_type),
    ("documentNumber", "Contact.documentNumber", lambda r: r.contact.document_number),
    ("isVip", "Contact.isVip", lambda r: r.contact.is_vip),
    ("isPreferred", "Contact.isPreferred", lambda r: r.contact.is_preferred),
    ("portalUser", "Contact.portalUser", lambda r: r.contact.portal_user),
    ("emailOptOut", "Contact.emailOptOut", lambda r: r.contact.email_opt_out),
    ("leadSource", "Contact.leadSource", lambda r: r.contact.lead_source),
    ("status", "Contact.status", lambda r: r.contact.status),
    ("tags", "Contact.tags", lambda r: ";".join(r.contact.tags or [])),
    ("accountNo", "Account.accountNo", lambda r: r.account and r.account.account_no),
    ("accountName", "Account.name", lambda r: r.account and r.account.name),
    ("locationName", "Location.name", lambda r: r.location and r.location.name),
    ("ownerEmail", "User.email", lambda r: r.owner and r.owner.email),
    ("createdAt", "Contact.createdAt", lambda r: r.contact.created_at),
)


def columns_for(access: Access) -> tuple[Column, ...]:
    """The columns this caller may read: all, or those its token's allowlist names."""
    return tuple(c for c in COLUMNS if access.allows_field(*c[1].split(".", 1)))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    # A spreadsheet runs a cell starting with = + - @ as a formula (OWASP CSV injection): it
    # gets a leading quote, unless it is wholly a number (-12.5) or a phone number (+51 …).
    if text[:1] in _FORMULA_STARTS and not (
        text[:1] in "+-" and (_NUMBER.match(text) or is_phone_number(text))
    ):
        return "'" + text
    return text


def _line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


ROWS_PER_POINT = 100


async def export_cost(access: Access, contact_filter: ContactFilter, search: str | None) -> int:
    """What an export costs in rate-limit points: one, and one per 100 rows it will write."""
    rows = await contacts_queryset(access, contact_filter, search).count()
    return 1 + -(-rows // ROWS_PER_POINT)


def contact_csv(
    access: Access, contact_filter: ContactFilter, search: str | None
) -> AsyncIterator[str]:
    """The CSV text: a header, then a chunk per batch of contacts, in contact-number order.

    Everything that can refuse the request (scope, malformed ids) does so here, before the
    first byte is streamed.
    """
    access.require_read(Area.CONTACTS)
    query = contacts_queryset(access, contact_filter, search)
    return _stream(access, query, columns_for(access))


async def _stream(
    access: Access, query: QuerySet[Contact], columns: tuple[Column, ...]
) -> AsyncIterator[str]:
    """Keyset batches of 500: five statements each (contacts, primary channels, accounts,
    locations, owners), never one per contact."""
    yield _line([name for name, _, _ in columns])
    last_id = 0
    while True:
        batch = await query.filter(id__gt=last_id).order_by("id").limit(BATCH)
        if not batch:
            return
        last_id = batch[-1].id
        rows = await _rows(access, batch)
        yield "".join(_line([_cell(value(row)) for _, _, value in columns]) for row in rows)
        if len(batch) < BATCH:
            return


async def _rows(access: Access, batch: list[Contact]) -> list[_Row]:
    ids = [contact.id for contact in batch]
    primary: dict[int, dict[ChannelKind, str]] = {pk: {} for pk in ids}
    for channel in await Channel.filter(contact_id__in=ids, is_primary=True):
        primary[channel.contact_id][ChannelKind(channel.kind)] = channel.value
    accounts = await _by_id(access.rows(Account), {c.account_id for c in batch})
    locations = await _by_id(access.rows(Location), {c.location_id for c in batch})
    owners = await _by_id(User.all(), {c.owner_id for c in batch if c.owner_id is not None})
    return [
        _Row(
            c,
            accounts.get(c.account_id),
            locations.get(c.location_id),
            owners.get(c.owner_id),
            primary[c.id],
        )
        for c in batch
    ]


async def _by_id(query: Any, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {row.id: row for row in await query.filter(id__in=list(ids))}
