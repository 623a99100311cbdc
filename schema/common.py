"""What every domain's schema shares: the record status, free-text search, sort keys."""

from __future__ import annotations

from typing import Annotated

import strawberry

from engine.connection import OrderDirection
from engine.types import documented_enum
from models import enums

RecordStatus = documented_enum(
    enums.RecordStatus,
    "Whether a record takes part in day-to-day work.",
    {"ACTIVE": "In use; shown in lists.", "INACTIVE": "Kept with its history, hidden from lists."},
)

Search = Annotated[
    str | None,
    strawberry.argument(
        description="Free text over names, emails, phone digits, document and contact numbers; "
        "accent- and case-insensitive ('jose perez' finds 'José Pérez')."
    ),
]

# The description of a nested list's ``includeInactive`` argument.
INCLUDE_INACTIVE = "Also list inactive contacts."


def sort_keys(order_by):
    """``(field, descending)`` of each sort key of an ``orderBy`` argument."""
    return [(o.field.value, o.direction == OrderDirection.DESC) for o in order_by or []]
