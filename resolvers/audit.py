"""What an audit event says about a change: snapshots of a row and their diff.

Events are written only by the unit of work (resolvers/unit_of_work.py), inside the change's
own transaction (rule 6).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from tortoise.models import Model

from resolvers.validation import camel


def snapshot(row: Model, fields: tuple[str, ...]) -> dict[str, Any]:
    """JSON-ready values of ``fields``, to diff before and after a change."""
    return {camel(name): _plain(getattr(row, name)) for name in fields}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: {"from": before.get(name), "to": value}
        for name, value in after.items()
        if before.get(name) != value
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
