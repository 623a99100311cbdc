"""The audit trail: every change writes its event inside the change's own transaction."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from tortoise.models import Model

from models import AuditEvent, User
from models.enums import AuditAction
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


async def record(
    action: AuditAction,
    resource_type: str,
    resource_id: int,
    resource_name: str,
    actor: User | None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event; call it inside the transaction that makes the change."""
    event = AuditEvent(
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=resource_name[:255],
        actor_id=actor.id if actor else None,
        actor_name=actor.name if actor else "",
        changes=changes or {},
    )
    event.search_text = event.search_document()
    await event.save()
    return event


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
