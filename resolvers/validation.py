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
- ``url``, ``birthday``, ``integer``, ``tags``, ``custom_fields``: as their names say.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import pycountry
from email_validator import EmailNotValidError, validate_email
from stdnum.exceptions import ValidationError
from stdnum.mx import curp as mx_curp
from stdnum.mx import rfc as mx_rfc
from stdnum.pe import cui as pe_cui
from stdnum.pe import ruc as pe_ruc

from models.base import digits, fold
from models.canonical import e164, parse_phone, phone_region_used, region_of
from models.enums import DocumentType
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


def custom_fields(problems: Problems, path: Path, value: Any) -> dict[str, Any]:
    """A flat JSON object of scalars, small enough to keep on every row."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(ProblemCode.INVALID_FORMAT, path, "Custom fields must be a JSON object.")
        return {}
    if len(value) > MAX_CUSTOM_FIELDS:
        problems.add(ProblemCode.OUT_OF_RANGE, path, f"At most {MAX_CUSTOM_FIELDS} fields.")
        return {}
    # String values are long text: lines kept, as in an activity's body.
    value = {k: v.replace("\r\n", "\n") if isinstance(v, str) else v for k, v in value.items()}
    for key, item in value.items():
        reason = bad_characters(key)
        if reason is not None:
            problems.add(ProblemCode.INVALID_CHARACTERS, path, f"A custom field name: {reason}")
            return {}
        if not key.strip() or len(key) > 64:
            problems.add(ProblemCode.INVALID_FORMAT, path, f"Bad custom field name '{key[:64]}'.")
            return {}
        reason = bad_characters(item, long=True) if isinstance(item, str) else None
        if reason is not None:
            problems.add(ProblemCode.INVALID_CHARACTERS, (*_as_tuple(path), key), reason)
            return {}
        if item is not None and not isinstance(item, str | int | float | bool):
            problems.add(
                ProblemCode.INVALID_FORMAT,
                (*_as_tuple(path), key),
                "Custom field values are strings, numbers, booleans or null.",
            )
            return {}
    if len(json.dumps(value)) > MAX_CUSTOM_FIELDS_BYTES:
        problems.add(
            ProblemCode.TOO_LONG, path, f"At most {MAX_CUSTOM_FIELDS_BYTES} bytes of custom fields."
        )
        return {}
    return value


def _as_tuple(path: Path) -> tuple[str, ...]:
    return (path,) if isinstance(path, str) else path
