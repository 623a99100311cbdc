"""Input checks shared by every write path. Each records a Problem and returns the clean value.

Every function takes a ``Problems`` to record into, the input ``path`` of the value (the
``UserError.field`` a client sees: ``"email"``, ``("channels", "0", "value")``), and the raw
value; it returns the value to store (``None`` when it recorded a problem). Single
mutations, batch mutations and the import call the same functions, so they refuse the same
values with the same codes and store the same canonical forms (docs/canonical-data.md):

- ``text(problems, path, value, max_length, required=, long=)``: trimmed text without
  control characters.
- ``phone(problems, path, value, region, required=)`` -> ``Phone(value, e164)``: a number
  valid in ``region`` (``phonenumbers.is_valid_number``; Mexico's ``+52 1`` folds), else
  ``INVALID_PHONE`` naming the region. ``value`` stays as typed; ``e164`` is what is compared.
  ``region_of(location_country, main_location_country)`` is the region rule.
- ``email(problems, path, value, required=)``: syntax as mail servers check it
  (``email-validator``, no DNS), else ``INVALID_EMAIL`` with the library's reason;
  ``email_key(value)`` is the case-insensitive form duplicates compare (``email_and_key``
  gives both from one parse).
- ``document(problems, path, kind, number)``: DNI (8 digits), RUC (11 digits, check digit),
  CE, RFC and CURP (official formats and check digits, ``python-stdnum``) in compact form,
  else ``INVALID_DOCUMENT``; passports and other documents are text.
- ``tax_id(problems, path, value, country)``: a RUC in PE, an RFC in MX, text elsewhere.
- ``country(problems, path, value)``: an ISO 3166-1 alpha-2 code that exists (``pycountry``).
- ``custom_fields(problems, path, value, definitions, …)``: the values against their
  definitions (docs/custom-fields.md), ``INVALID_CUSTOM_FIELD`` on ``[*path, key]``.
- ``url``, ``birthday``, ``integer``, ``tags``: as their names say.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Protocol

import pycountry
from email_validator import EmailNotValidError, validate_email
from stdnum.exceptions import ValidationError
from stdnum.mx import curp as mx_curp
from stdnum.mx import rfc as mx_rfc
from stdnum.pe import cui as pe_cui
from stdnum.pe import ruc as pe_ruc

from models.base import digits, fold
from models.canonical import e164, parse_phone, phone_region_used, region_of
from models.enums import CustomFieldType, DocumentType
from resolvers.errors import ProblemCode, Problems
from resolvers.inputs import NOT_SENT

__all__ = ["Phone", "region_of"]  # and every check below

Path = str | tuple[str, ...]

_PHONE = re.compile(r"^\+?[0-9 ()\-.]+$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
# A carné de extranjería: 9 digits today, older cards up to 12 letters and digits.
_CE = re.compile(r"^[A-Z0-9]{8,12}$")
# What text never holds: C0 and C1 control characters, DEL, and lone surrogates (no database
# stores them as UTF-8; PostgreSQL refuses NUL). Long text may hold tab and newline.
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_LONG_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
MAX_CUSTOM_FIELDS = 50
MAX_CUSTOM_FIELDS_BYTES = 8192


@cache  # a few dozen names, asked for on every field of every audit snapshot
def camel(name: str) -> str:
    """``job_title`` -> ``jobTitle``: a model field as the API (and ``UserError.field``) says it."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def given(value: Any) -> bool:
    """Whether an input field was sent at all (``NOT_SENT`` means: leave it as it is)."""
    return value is not NOT_SENT


def bad_characters(value: str, *, long: bool = False) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can.

    Every text input and every search or filter string is checked here: no control
    characters (NUL, ESC, …) and no lone surrogates; tab and newline only in ``long`` text
    (an activity's body, a custom field's value).
    """
    found = (_NOT_LONG_TEXT if long else _NOT_TEXT).search(value)
    if found is None:
        return None
    allowed = "only tab and newline are allowed" if long else "none is allowed here"
    return (
        f"Character {found.start() + 1} is U+{ord(found.group()):04X}, a control character: "
        f"{allowed}."
    )


def text(
    problems: Problems,
    path: Path,
    value: str | None,
    max_length: int,
    *,
    required: bool = False,
    long: bool = False,
) -> str | None:
    """Trimmed text; whitespace-only counts as empty (an error when ``required``).

    Short text has its runs of whitespace folded to one space; ``long`` text keeps its
    lines (``\\r\\n`` stored as ``\\n``) and tabs.
    """
    if value is None or value is NOT_SENT:
        if required:
            problems.add(ProblemCode.REQUIRED, path, "This value is required.")
        return None
    if long:
        value = value.replace("\r\n", "\n")
    cleaned = value.strip() if long else " ".join(value.split())
    if not cleaned:
        if required:
            problems.add(ProblemCode.BLANK, path, "This value must not be blank.")
        return None
    reason = bad_characters(value, long=long)
    if reason is not None:
        problems.add(ProblemCode.INVALID_CHARACTERS, path, reason)
        return None
    if len(cleaned) > max_length:
        problems.add(
            ProblemCode.TOO_LONG, path, f"At most {max_length} characters (got {len(cleaned)})."
        )
        return None
    return cleaned


def email(problems: Problems, path: Path, value: str | None, *, required: bool = False):
    """An address as typed, if mail servers would take its syntax (no DNS lookup)."""
    checked = email_and_key(problems, path, value, required=required)
    return None if checked is None else checked[0]


def email_and_key(
    problems: Problems, path: Path, value: str | None, *, required: bool = False
) -> tuple[str, str] | None:
    """``email``, with ``email_key``'s form of it, from one parse."""
    cleaned = text(problems, path, value, 254, required=required)
    if cleaned is None:
        return None
    try:
        normalized = validate_email(cleaned, check_deliverability=False).normalized
    except EmailNotValidError as error:
        problems.add(
            ProblemCode.INVALID_EMAIL, path, f"'{cleaned}' is not an email address: {error}"
        )
        return None
    return cleaned, normalized.casefold()


def email_key(value: str) -> str:
    """What two addresses compare by: ``Zoila.Segundo@Example.PE`` -> ``zoila.segundo@example.pe``
    (the ``normalized`` column of an EMAIL channel)."""
    try:
        normalized = validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        normalized = value
    return normalized.casefold()


def is_phone_number(value: str) -> bool:
    """Digits (6 to 15) with optional +, spaces, dashes, dots or parentheses, and nothing else:
    what looks like a phone number (for the export's formula guard and the search), valid or not."""
    return bool(_PHONE.match(value)) and 6 <= len(digits(value)) <= 15


@dataclass(frozen=True, slots=True)
class Phone:
    value: str  # as typed (trimmed)
    e164: str  # +51999888777


def phone(
    problems: Problems, path: Path, value: str | None, region: str, *, required: bool = False
) -> Phone | None:
    """A number valid in ``region`` (or with its own ``+`` country code), kept as typed."""
    cleaned = text(problems, path, value, 40, required=required)
    if cleaned is None:
        return None
    number = parse_phone(cleaned, region) if is_phone_number(cleaned) else None
    if number is None:
        used = phone_region_used(cleaned, region)
        problems.add(
            ProblemCode.INVALID_PHONE,
            path,
            f"'{cleaned}' is not a valid phone number of region {used}"
            + (" (its + country code)." if used != region else
               f" (read in {region}; a number of another country starts with + and its code).")
        )  # fmt: skip
        return None
    return Phone(cleaned, e164(number))


def url(problems: Problems, path: Path, value: str | None, max_length: int = 255):
    cleaned = text(problems, path, value, max_length)
    if cleaned is not None and not _URL.match(cleaned):
        problems.add(ProblemCode.INVALID_FORMAT, path, "Use an http:// or https:// address.")
        return None
    return cleaned


def country(problems: Problems, path: Path, value: str | None):
    """An ISO 3166-1 alpha-2 code that exists (``pe`` is taken as ``PE``; ``ZZ`` is refused)."""
    cleaned = text(problems, path, value, 2)
    if cleaned is None:
        return None
    code = cleaned.upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        problems.add(
            ProblemCode.INVALID_FORMAT,
            path,
            f"'{cleaned}' is not a country: use an ISO 3166-1 alpha-2 code such as PE or MX.",
        )
        return None
    return code


# The documents with an official format: how each is checked and its compact form.
def _dni(number: str) -> str:
    compact = pe_cui.validate(number)  # 8 digits, or 9 with the card's check digit
    return compact[:8]


def _ce(number: str) -> str:
    compact = "".join(number.upper().replace("-", "").split())
    if not _CE.match(compact):
        raise ValidationError("a carné de extranjería has 8 to 12 letters and digits")
    return compact


def _rfc(number: str) -> str:
    return mx_rfc.validate(number, validate_check_digits=True)


_DOCUMENTS = {
    DocumentType.DNI: (_dni, "a DNI is 8 digits"),
    DocumentType.RUC: (pe_ruc.validate, "a RUC is 11 digits starting 10, 15, 17 or 20, "
                                        "with a valid check digit"),
    DocumentType.CE: (_ce, "a carné de extranjería has 8 to 12 letters and digits"),
    DocumentType.RFC: (_rfc, "an RFC is 12 (company) or 13 (person) characters with a valid "
                             "date and check digit"),
    DocumentType.CURP: (mx_curp.validate, "a CURP is 18 characters with a valid date, state "
                                          "and check digit"),
}  # fmt: skip


def document(
    problems: Problems, path: Path, kind: DocumentType | None, number: str | None
) -> str | None:
    """A document number of ``kind`` in its compact form (``20100070970``); passports and
    other kinds stay text. ``number`` has been through ``text`` already."""
    if number is None or kind not in _DOCUMENTS:
        return number
    check_number, rule = _DOCUMENTS[kind]
    try:
        return check_number(number)
    except ValidationError as error:
        problems.add(
            ProblemCode.INVALID_DOCUMENT,
            path,
            f"'{number}' is not a valid {kind.value}: {rule} ({error}).",
        )
        return None


# The tax id of an account by its country; elsewhere it is text.
TAX_IDS = {"PE": DocumentType.RUC, "MX": DocumentType.RFC}


def tax_id(problems: Problems, path: Path, value: str | None, country: str) -> str | None:
    """An account's tax id: a RUC in Peru, an RFC in Mexico (compact), text elsewhere."""
    cleaned = text(problems, path, value, 32)
    return document(problems, path, TAX_IDS.get(country), cleaned)


def birthday(problems: Problems, path: Path, value: date | None, today: date | None = None):
    if value is None:
        return None
    today = today or datetime.now(UTC).date()
    if value > today:
        problems.add(ProblemCode.INVALID_DATE, path, "A birthday cannot be in the future.")
        return None
    if value.year < 1900:
        problems.add(ProblemCode.INVALID_DATE, path, "A birthday before 1900 is not plausible.")
        return None
    return value


def integer(problems: Problems, path: Path, value: int | None, low: int, high: int):
    if value is not None and not low <= value <= high:
        problems.add(ProblemCode.OUT_OF_RANGE, path, f"Must be between {low} and {high}.")
        return None
    return value


def tags(problems: Problems, path: Path, value: list[str] | None) -> list[str]:
    if not value:
        return []
    if len(value) > MAX_TAGS:
        problems.add(ProblemCode.OUT_OF_RANGE, path, f"At most {MAX_TAGS} tags.")
        return []
    cleaned: list[str] = []
    keys: set[str] = set()
    for index, tag in enumerate(value):
        item = text(problems, (*_as_tuple(path), str(index)), tag, MAX_TAG_LENGTH, required=True)
        # "VIP" and "vip" are one tag (filters compare folded): the first spelling stays.
        if item is not None and fold(item) not in keys:
            keys.add(fold(item))
            cleaned.append(item)
    return cleaned


class CustomFieldRule(Protocol):
    """What a value check reads of a custom field definition (``models.CustomFieldDefinition``)."""

    key: str
    label: str
    type: CustomFieldType
    options: list[str]
    required: bool
    archived: bool


MAX_CUSTOM_TEXT = 2000


def custom_fields(
    problems: Problems,
    path: Path,
    value: Any,
    definitions: Mapping[str, CustomFieldRule],
    *,
    entity: str,
    region: str,
    current: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A row's custom fields checked against its entity's ``definitions`` (key -> definition).

    ``value`` replaces the object (``current``: what an update's row holds; None on create).
    Each key must be defined (``INVALID_CUSTOM_FIELD`` on ``[*path, key]`` otherwise), each
    value of its type (SELECT: one of the options; MULTI_SELECT: a list of them; DATE: an ISO
    date; URL, EMAIL, PHONE: as the other fields of those kinds), null clears a key. Required
    fields: present on create, not cleared on update. Archived definitions: their stored
    values are kept (carried over from ``current``), a write that changes one is refused.
    The object keeps its size limits (fields, bytes).
    """
    stored = dict(current or {})
    if value is None:
        value = {}
    if not isinstance(value, dict):
        problems.add(ProblemCode.INVALID_FORMAT, path, "Custom fields must be a JSON object.")
        return {}
    if len(value) > MAX_CUSTOM_FIELDS:
        problems.add(ProblemCode.OUT_OF_RANGE, path, f"At most {MAX_CUSTOM_FIELDS} fields.")
        return {}
    before = len(problems.items)
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        reason = bad_characters(key)
        if reason is not None:
            problems.add(ProblemCode.INVALID_CHARACTERS, path, f"A custom field name: {reason}")
            continue
        where = (*_as_tuple(path), key[:64])
        definition = definitions.get(key)
        if definition is None:
            problems.add(ProblemCode.INVALID_CUSTOM_FIELD, where,
                         f"No custom field '{key[:64]}' is defined for {entity}: an "
                         "admin or a manager defines it first "
                         "(createCustomFieldDefinition).")  # fmt: skip
            continue
        if definition.archived:
            if key in stored and stored[key] == item:
                continue  # sent back as it is: kept below
            problems.add(ProblemCode.INVALID_CUSTOM_FIELD, where,
                         f"The custom field '{key}' is archived: its value is kept and "
                         "readable, but cannot be set or changed.")  # fmt: skip
            continue
        if item is None:
            continue
        checked = custom_value(problems, where, definition, item, region)
        if checked is not None:
            cleaned[key] = checked
    for key, definition in definitions.items():
        if definition.archived:
            if key in stored:
                cleaned[key] = stored[key]
            continue
        if definition.required and key not in cleaned and (current is None or key in stored):
            if key in value and value[key] is not None:
                continue  # refused above for its value
            where = (*_as_tuple(path), key)
            problems.add(ProblemCode.INVALID_CUSTOM_FIELD, where,
                         f"The custom field '{key}' ({definition.label}) is required.")  # fmt: skip
    if len(problems.items) > before:
        return {}
    if len(json.dumps(cleaned, default=str)) > MAX_CUSTOM_FIELDS_BYTES:
        problems.add(
            ProblemCode.TOO_LONG, path, f"At most {MAX_CUSTOM_FIELDS_BYTES} bytes of custom fields."
        )
        return {}
    return cleaned


def custom_value(
    problems: Problems, path: Path, definition: CustomFieldRule, item: Any, region: str
) -> Any:
    """One custom field value of ``definition``'s type, as stored (None: refused)."""
    kind = definition.type

    def refuse(expected: str) -> None:
        shown = json.dumps(item, default=str, ensure_ascii=False)[:60]
        problems.add(ProblemCode.INVALID_CUSTOM_FIELD, path,
                     f"The custom field '{definition.key}' is {kind.value}: {expected} "
                     f"(got {shown}).")  # fmt: skip

    if kind == CustomFieldType.NUMBER:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            refuse("a number")
            return None
        return item
    if kind == CustomFieldType.BOOLEAN:
        if not isinstance(item, bool):
            refuse("true or false")
            return None
        return item
    if kind == CustomFieldType.MULTI_SELECT:
        if not isinstance(item, list) or not all(isinstance(v, str) for v in item):
            refuse("a list of its options")
            return None
        outside = [v for v in item if v not in definition.options]
        if outside:
            refuse(f"each value one of {', '.join(definition.options)}")
            return None
        return list(dict.fromkeys(item))
    if not isinstance(item, str):
        refuse("text" if kind == CustomFieldType.TEXT else "a string")
        return None
    if kind == CustomFieldType.SELECT:
        if item not in definition.options:
            refuse(f"one of {', '.join(definition.options)}")
            return None
        return item
    if kind == CustomFieldType.DATE:
        try:
            return date.fromisoformat(item.strip()).isoformat()
        except ValueError:
            refuse("a date as YYYY-MM-DD")
            return None
    if kind == CustomFieldType.URL:
        return url(problems, path, item, 500)
    if kind == CustomFieldType.EMAIL:
        return email(problems, path, item)
    if kind == CustomFieldType.PHONE:
        number = phone(problems, path, item, region)
        return None if number is None else number.value
    return text(problems, path, item, MAX_CUSTOM_TEXT, long=True)


def _as_tuple(path: Path) -> tuple[str, ...]:
    return (path,) if isinstance(path, str) else path
