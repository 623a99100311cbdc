"""Input checks shared by every mutation. Each records a Problem and returns the clean value."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from models.base import digits
from resolvers.errors import ProblemCode, Problems
from resolvers.inputs import NOT_SENT

Path = str | tuple[str, ...]

_EMAIL = re.compile(r"^[^@\s,;<>()\[\]\"]+@[^@\s,;<>()\[\]\"]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 ()\-.]+$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_COUNTRY = re.compile(r"^[A-Z]{2}$")
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
    cleaned = text(problems, path, value, 254, required=required)
    if cleaned is not None and not _EMAIL.match(cleaned):
        problems.add(ProblemCode.INVALID_EMAIL, path, f"'{cleaned}' is not an email address.")
        return None
    return cleaned


def is_phone_number(value: str) -> bool:
    """Digits (6 to 15) with optional +, spaces, dashes, dots or parentheses, and nothing else."""
    return bool(_PHONE.match(value)) and 6 <= len(digits(value)) <= 15


def phone(problems: Problems, path: Path, value: str | None, *, required: bool = False):
    cleaned = text(problems, path, value, 40, required=required)
    if cleaned is None:
        return None
    if not is_phone_number(cleaned):
        problems.add(
            ProblemCode.INVALID_PHONE,
            path,
            f"'{cleaned}' is not a phone number: use 6 to 15 digits, with optional +, spaces, "
            "dashes or parentheses.",
        )
        return None
    return cleaned


def url(problems: Problems, path: Path, value: str | None, max_length: int = 255):
    cleaned = text(problems, path, value, max_length)
    if cleaned is not None and not _URL.match(cleaned):
        problems.add(ProblemCode.INVALID_FORMAT, path, "Use an http:// or https:// address.")
        return None
    return cleaned


def country(problems: Problems, path: Path, value: str | None):
    cleaned = text(problems, path, value, 2)
    if cleaned is not None and not _COUNTRY.match(cleaned.upper()):
        problems.add(ProblemCode.INVALID_FORMAT, path, "Use an ISO 3166-1 alpha-2 code: PE, MX.")
        return None
    return cleaned.upper() if cleaned else None


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
    for index, tag in enumerate(value):
        item = text(problems, (*_as_tuple(path), str(index)), tag, MAX_TAG_LENGTH, required=True)
        if item is not None and item not in cleaned:
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
