"""The audit trail's root list: who changed what, and when."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from models.enums import Role
from resolvers import audit_log as work
from resolvers.audit_log import AUDIT_ORDER_KEYS
from resolvers.listing import ordering
from schema.base import GraphInfo, documented_enum
from schema.contacts import sort_keys
from schema.inputs import plain
from schema.pagination import After, Before, Connection, First, Last, OrderDirection, page_args
from schema.types import AuditAction, AuditEvent

field = strawberry.field

# The audit trail names records of every account: only roles that see everything read it.
AUDIT_READERS = frozenset({Role.ADMIN, Role.MANAGER})


class AuditPeriod(Enum):
    TODAY = "TODAY"
    THIS_WEEK = "THIS_WEEK"
    THIS_MONTH = "THIS_MONTH"
    THIS_YEAR = "THIS_YEAR"


documented_enum(
    AuditPeriod,
    "A calendar period up to now, in UTC.",
    {
        "TODAY": "Since midnight today.",
        "THIS_WEEK": "Since Monday of this week.",
        "THIS_MONTH": "Since the first of this month.",
        "THIS_YEAR": "Since the first of January.",
    },
)


class AuditEventOrderField(Enum):
    OCCURRED_AT = "OCCURRED_AT"


documented_enum(
    AuditEventOrderField,
    "What audit events can be sorted by; ties break on the event's creation order.",
    {"OCCURRED_AT": "When the change happened."},
)
assert {f.value for f in AuditEventOrderField} == AUDIT_ORDER_KEYS.keys()


@strawberry.input(description="One sort key of the audit trail.")
class AuditEventOrder:
    field: AuditEventOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.DESC, description="Descending (default: newest first) or ascending."
    )


@strawberry.input(description="Which audit events to list.")
class AuditEventFilter:
    action: AuditAction | None = field(default=None, description="Only this kind of change.")
    resource_type: str | None = field(
        default=None, description="Only changes to this type of record, e.g. Contact."
    )
    occurred_after: datetime | None = field(default=None, description="At or after this time.")
    occurred_before: datetime | None = field(default=None, description="Before this time.")
    period: AuditPeriod | None = field(
        default=None, description="Only within this calendar period (combines with the range)."
    )


AuditOrderBy = Annotated[
    list[AuditEventOrder] | None,
    strawberry.argument(description="Sort keys; default newest first."),
]
AuditFilterArg = Annotated[
    AuditEventFilter | None, strawberry.argument(description="Which events.")
]
AuditSearch = Annotated[
    str | None,
    strawberry.argument(
        description="Free text over the actor's and the record's names; accent- and "
        "case-insensitive ('jose' finds changes to 'José Pérez')."
    ),
]


@strawberry.type
class AuditQuery:
    @field(description="The audit trail: every change, newest first. Admins and managers.")
    async def audit_events(
        self, info: GraphInfo, filter: AuditFilterArg = None, order_by: AuditOrderBy = None,
        search: AuditSearch = None, first: First = None, after: After = None, last: Last = None,
        before: Before = None,
    ) -> Connection[AuditEvent]:  # fmt: skip
        access = info.context.access.require_auditor()
        order = ordering(sort_keys(order_by), AUDIT_ORDER_KEYS, "OCCURRED_AT", True)
        page = await work.list_events(
            access, plain(filter), search, order, page_args(first, after, last, before)
        )
        return Connection.of(page, AuditEvent.from_rows)
