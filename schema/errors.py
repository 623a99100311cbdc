"""Errors a mutation reports in its payload."""

from __future__ import annotations

import strawberry

from engine.types import documented_enum
from requestlog import note_user_errors
from resolvers.errors import Problem, ProblemCode

UserErrorCode = documented_enum(
    ProblemCode,
    "Why an input was refused. Stable: clients may branch on it.",
    {
        "REQUIRED": "A required value is missing.",
        "BLANK": "The value is empty or only whitespace.",
        "TOO_LONG": "The value is longer than the field allows.",
        "INVALID_CHARACTERS": (
            "The text holds NUL or another control character; tab and newline are allowed "
            "only in long text (an activity's body, a custom field's value)."
        ),
        "INVALID_FORMAT": "The value does not have the expected format.",
        "INVALID_EMAIL": "The value is not an email address.",
        "INVALID_PHONE": (
            "The value is not a valid phone number of its region (the contact's location's "
            "country, else the account's, else the server's default); the message names it."
        ),
        "INVALID_DOCUMENT": (
            "The document number does not fit its type: DNI 8 digits, RUC 11 with a valid "
            "check digit, RFC and CURP by their official format and check digit."
        ),
        "INVALID_DATE": "The date is impossible here (for example a birthday in the future).",
        "INVALID_ID": "The id is malformed or names an object of another type.",
        "NOT_FOUND": "No object has this id.",
        "OUT_OF_RANGE": "The number is outside the allowed range.",
        "DUPLICATE_EMAIL": "Another active contact (or user) already has this email address.",
        "DUPLICATE_DOCUMENT": "Another contact already has this document type and number.",
        "DUPLICATE_NAME": "Another object already has this name.",
        "LOCATION_MISMATCH": "The location belongs to another account.",
        "CONTACT_MISMATCH": "The contact is not at the given account or location.",
        "LOCATION_IN_USE": "The location still has contacts.",
        "MAIN_LOCATION": "The main location of an account cannot be deleted or changed in kind.",
        "TARGET_REQUIRED": "At least one of account, location or contact is needed.",
        "INVALID_STATUS": "The status does not fit the activity's kind.",
        "INVALID_KIND": "The kind is not allowed here.",
        "INACTIVE": "The object is inactive and cannot take part in this change.",
        "ALREADY_IN_STATE": "The object is already in the requested state.",
        "LAST_ADMIN": "The change would leave no active admin to manage users and tokens.",
        "BATCH_CONFLICT": (
            "Two items of one batch collide though each is fine alone: the same contact "
            "twice, or two preferred contacts at one location."
        ),
        "INVALID_CUSTOM_FIELD": (
            "A custom field value does not fit its definition (type, options, required), its "
            "key is not defined, or its definition is archived (kept, not writable)."
        ),
        "EMPTY_FILE": "The uploaded file is empty.",
        "UNSUPPORTED_FILE": "The uploaded file is neither CSV nor XLSX (its bytes say so).",
        "UNREADABLE_FILE": "The file cannot be read: not UTF-8 or Windows-1252 text, or a "
        "damaged workbook.",
        "HEADER_ONLY": "The file has a header but no rows.",
        "NO_KNOWN_COLUMNS": "No column of the file is one the import knows.",
        "UNKNOWN_COLUMN": "A column of the file is not one the import knows (named once).",
        "DUPLICATE_COLUMN": "Two columns of the file hold the same field.",
        "TOO_MANY_COLUMNS": "The file has more columns than an import takes.",
        "TOO_MANY_ROWS": "The file has more rows than an import takes (the limit is in the "
        "message).",
        "DUPLICATE_ROW": "An earlier row of the same file is for the same contact.",
        "FILE_TOO_LARGE": "The uploaded file is larger than the server's upload limit.",
        "FILE_TYPE_NOT_ALLOWED": (
            "The file's bytes are not of an allowed type (PDF, images, office files by "
            "default), whatever its name says."
        ),
    },
    name="UserErrorCode",
)


@strawberry.type(description="A validation or business-rule failure; nothing was written.")
class UserError:
    code: UserErrorCode = strawberry.field(description="Machine-readable reason.")
    field: list[str] | None = strawberry.field(
        description="Path to the input field at fault, from the mutation's `input`."
    )
    message: str = strawberry.field(description="Human-readable explanation.")

    @classmethod
    def from_problem(cls, problem: Problem) -> UserError:
        return cls(code=problem.code, field=list(problem.field) or None, message=problem.message)


def user_errors(problems: list[Problem]) -> list[UserError]:
    """The payload's ``errors``; their codes go to the request's log line and metrics."""
    note_user_errors(str(p.code) for p in problems)
    return [UserError.from_problem(p) for p in problems]
