"""The audit trail's root list: who changed what, and when."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from engine.connection import After, Before, Connection, First, Last, OrderDirection, page_args
from engine.relations import related
from engine.types import GraphInfo, Node, RowType, documented_enum
from models import enums
from models.enums import Role
from models.registry import ENTITIES
from resolvers import audit_log as work
from resolvers.audit_log import AUDIT_ORDER_KEYS
from resolvers.ids import encode_id
from resolvers.listing import ordering
from schema.common import sort_keys
from schema.node import resolve_node

if TYPE_CHECKING:
    from schema.users import User
from schema.inputs import plain

field = strawberry.field

UserRef = Annotated["User", strawberry.lazy("schema.users")]

AuditAction = documented_enum(
    enums.AuditAction,
    "What happened to a record.",
    {
        "CREATED": "Created.",
        "UPDATED": "Changed.",
        "ACTIVATED": "Made active again.",
        "DEACTIVATED": "Deactivated (kept, hidden from lists).",
        "DELETED": "Deleted.",
        "MERGED": "Merged into another record.",
        "IMPORTED": "Created or changed by an import.",
    },
)


def _resource_id(self) -> strawberry.ID:
    return strawberry.ID(encode_id(self.row.resource_type, self.row.resource_id))


async def _resource(self, info: GraphInfo) -> Node | None:
    return await resolve_node(info, self.row.resource_type, self.row.resource_id)


@strawberry.type(description="One change in the audit trail.")
class AuditEvent(RowType, Node, entity=ENTITIES["AuditEvent"]):
    action: AuditAction = field(description="What happened.")
    resource_type: str = field(description="Type of the changed record, e.g. Contact.")
    resource_name: str = field(description="Name of the record when it changed.")
    occurred_at: datetime = field(description="When it happened.")
    changes: JSON = field(description="Changed fields: field -> {from, to}.")

    resource_id: strawberry.ID = field(
        resolver=_resource_id,
        description="Global id of the changed record (also when it has been deleted).",
    )
    resource: Node | None = field(
        resolver=_resource, description="The changed record; null once deleted."
    )
    actor: UserRef | None = related(
        "actor_id", "User", description="Who made the change; null for the system."
    )


# The audit trail names records of every account: only roles that see everything read it.
AUDIT_READERS = frozenset({Role.ADMIN, Role.MANAGER})


class AuditPeriod(Enum):
    TODAY = "TODAY"
    THIS_WEEK = "THIS_WEEK"
    THIS_MONTH = "THIS_MONTH"
    THIS_YEAR = "THIS_YEAR"


documented_enum(
    AuditPeriod,
    "A calendar period up to now, in days of the server's time zone (`CRM_TIME_ZONE`).",
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
