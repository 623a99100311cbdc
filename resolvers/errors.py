"""What can go wrong in the work, in terms the API layer turns into errors.

``Problem`` is a validation or business-rule failure: it becomes a ``UserError`` in the
mutation's payload and nothing is written. ``BadInput``, ``NotFound`` and ``Forbidden`` are
coded GraphQL errors: the request itself was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from engine.errors import BadInput, Forbidden, RequestError, Unauthenticated

__all__ = ["BadInput", "Forbidden", "Problem", "ProblemCode", "Problems", "Rejected",
           "RequestError", "Unauthenticated"]  # fmt: skip


class ProblemCode(StrEnum):
    REQUIRED = "REQUIRED"
    BLANK = "BLANK"
    TOO_LONG = "TOO_LONG"
    INVALID_CHARACTERS = "INVALID_CHARACTERS"
    INVALID_FORMAT = "INVALID_FORMAT"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_DOCUMENT = "INVALID_DOCUMENT"
    INVALID_DATE = "INVALID_DATE"
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    DUPLICATE_EMAIL = "DUPLICATE_EMAIL"
    DUPLICATE_DOCUMENT = "DUPLICATE_DOCUMENT"
    DUPLICATE_NAME = "DUPLICATE_NAME"
    LOCATION_MISMATCH = "LOCATION_MISMATCH"
    CONTACT_MISMATCH = "CONTACT_MISMATCH"
    LOCATION_IN_USE = "LOCATION_IN_USE"
    MAIN_LOCATION = "MAIN_LOCATION"
    TARGET_REQUIRED = "TARGET_REQUIRED"
    INVALID_STATUS = "INVALID_STATUS"
    INVALID_KIND = "INVALID_KIND"
    INACTIVE = "INACTIVE"
    ALREADY_IN_STATE = "ALREADY_IN_STATE"
    LAST_ADMIN = "LAST_ADMIN"
    BATCH_CONFLICT = "BATCH_CONFLICT"
    INVALID_CUSTOM_FIELD = "INVALID_CUSTOM_FIELD"
    # An imported file refused as a whole (resolvers/porting/reader.py), or one of its rows.
    EMPTY_FILE = "EMPTY_FILE"
    UNSUPPORTED_FILE = "UNSUPPORTED_FILE"
    UNREADABLE_FILE = "UNREADABLE_FILE"
    HEADER_ONLY = "HEADER_ONLY"
    NO_KNOWN_COLUMNS = "NO_KNOWN_COLUMNS"
    UNKNOWN_COLUMN = "UNKNOWN_COLUMN"
    DUPLICATE_COLUMN = "DUPLICATE_COLUMN"
    TOO_MANY_COLUMNS = "TOO_MANY_COLUMNS"
    TOO_MANY_ROWS = "TOO_MANY_ROWS"
    DUPLICATE_ROW = "DUPLICATE_ROW"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    FILE_TYPE_NOT_ALLOWED = "FILE_TYPE_NOT_ALLOWED"


@dataclass(frozen=True, slots=True)
class Problem:
    code: ProblemCode
    field: tuple[str, ...]
    message: str


@dataclass(slots=True)
class Problems:
    """Collects every problem of an input, so a client fixes them all in one round."""

    items: list[Problem] = field(default_factory=list)

    def add(self, code: ProblemCode, path: str | tuple[str, ...], message: str) -> None:
        self.items.append(Problem(code, (path,) if isinstance(path, str) else path, message))

    def __bool__(self) -> bool:
        return bool(self.items)


class Rejected(Exception):
    """Raised inside a transaction to roll it back and answer with these problems."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems

    @classmethod
    def one(cls, code: ProblemCode, path: str | tuple[str, ...], message: str) -> Rejected:
        problems = Problems()
        problems.add(code, path, message)
        return cls(problems.items)
