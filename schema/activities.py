"""Activities: the root list, inputs, payloads and mutations."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import UNSET

from engine.connection import After, Before, Connection, First, Last, OrderDirection, page_args
from engine.lookahead import page_columns
from engine.relations import related
from engine.types import GraphInfo, Node, RowType, documented_enum
from models import enums
from models.registry import ENTITIES
from resolvers import activities as work
from resolvers.access import Area
from resolvers.activities import ACTIVITY_ORDER_KEYS
from resolvers.listing import ordering
from schema.common import Search, mutation, payload, sort_keys

if TYPE_CHECKING:
    from schema.accounts import Account
    from schema.contacts import Contact
    from schema.locations import Location
    from schema.users import User
from schema.inputs import id_input, plain

field = strawberry.field

AccountRef = Annotated["Account", strawberry.lazy("schema.accounts")]
LocationRef = Annotated["Location", strawberry.lazy("schema.locations")]
ContactRef = Annotated["Contact", strawberry.lazy("schema.contacts")]
UserRef = Annotated["User", strawberry.lazy("schema.users")]

ActivityKind = documented_enum(
    enums.ActivityKind,
    "Kind of activity. Calls and meetings are events.",
    {
        "CALL": "A phone call (event).",
        "MEETING": "A meeting or visit (event).",
        "TASK": "A task to do.",
        "NOTE": "A note; has no status.",
        "EMAIL": "An email to send or sent.",
    },
)

ActivityStatus = documented_enum(
    enums.ActivityStatus,
    "Status of an activity; which values fit depends on its kind.",
    {
        "PLANNED": "Event planned (calls and meetings).",
        "HELD": "Event took place (calls and meetings).",
        "NOT_HELD": "Event did not take place (calls and meetings).",
        "NOT_STARTED": "Not started (tasks and emails).",
        "IN_PROGRESS": "In progress (tasks and emails).",
        "COMPLETED": "Completed (tasks and emails).",
        "CANCELLED": "Cancelled (tasks and emails).",
    },
)

CallDirection = documented_enum(
    enums.CallDirection,
    "Direction of a call.",
    {"INBOUND": "The contact called.", "OUTBOUND": "We called.", "MISSED": "A missed call."},
)


@strawberry.type(description="A call, meeting, task, note or email with a contact or account.")
class Activity(RowType, Node, entity=ENTITIES["Activity"]):
    kind: ActivityKind = field(description="Call, meeting, task, note or email.")
    subject: str = field(description="Short title.")
    body: str | None = field(description="Details.")
    status: ActivityStatus | None = field(description="Status; notes have none.")
    starts_at: datetime | None = field(description="Start of a call or meeting.")
    ends_at: datetime | None = field(description="End of a call or meeting.")
    due_at: datetime | None = field(description="Due date of a task or email.")
    completed_at: datetime | None = field(description="When a task or email was completed.")
    duration_seconds: int | None = field(description="Length of a call or meeting, seconds.")
    call_direction: CallDirection | None = field(description="Direction of a call.")
    created_at: datetime = field(description="When the activity was recorded.")
    updated_at: datetime = field(description="When the activity last changed.")

    account: AccountRef = related(
        "account_id", "Account", required=True, description="The account the activity is with."
    )
    location: LocationRef | None = related(
        "location_id", "Location", description="The location the activity is about."
    )
    contact: ContactRef | None = related(
        "contact_id", "Contact", description="The contact the activity is with."
    )
    owner: UserRef | None = related(
        "owner_id", "User", description="The user responsible for the activity."
    )


class ActivityOrderField(Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


documented_enum(
    ActivityOrderField,
    "What activities can be sorted by; ties break on the activity's id.",
    {"CREATED_AT": "When the activity was recorded.", "UPDATED_AT": "Time of the last change."},
)
assert {f.value for f in ActivityOrderField} == ACTIVITY_ORDER_KEYS.keys()


@strawberry.input(description="One sort key of the activity list.")
class ActivityOrder:
    field: ActivityOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="Ascending (default) or descending."
    )


@strawberry.input(description="Which activities to list; every condition given must hold.")
class ActivityFilter:
    account_id: strawberry.ID | None = field(default=None, description="Only this account's.")
    location_id: strawberry.ID | None = field(default=None, description="Only this location's.")
    contact_id: strawberry.ID | None = field(default=None, description="Only this contact's.")
    owner_id: strawberry.ID | None = field(default=None, description="Only this user's.")
    kind: ActivityKind | None = field(default=None, description="Only activities of this kind.")
    status: ActivityStatus | None = field(default=None, description="Only with this status.")
    call_direction: CallDirection | None = field(
        default=None, description="Only calls in this direction."
    )
    created_after: datetime | None = field(default=None, description="Recorded at or after.")
    created_before: datetime | None = field(default=None, description="Recorded before.")


@strawberry.input(
    description="A new activity. Give at least one of accountId, locationId, contactId: a "
    "contact brings its account and location, a location its account, an account alone its "
    "main location; without a contact, the location's preferred contact is used."
)
class CreateActivityInput:
    account_id: strawberry.ID | None = field(
        default=None, description="The account; must be the contact's if both are given."
    )
    location_id: strawberry.ID | None = field(
        default=None, description="The location; must be one of the account's."
    )
    contact_id: strawberry.ID | None = field(
        default=None, description="The contact; default: the location's preferred contact."
    )
    kind: ActivityKind = field(description="Call, meeting, task, note or email.")
    subject: str = field(description="Short title; required, at most 200 characters.")
    body: str | None = field(default=None, description="Details; at most 10000 characters.")
    status: ActivityStatus | None = field(
        default=None,
        description="Must fit the kind; default PLANNED for calls and meetings, NOT_STARTED "
        "for tasks and emails, none for notes.",
    )
    starts_at: datetime | None = field(default=None, description="Start of a call or meeting.")
    ends_at: datetime | None = field(default=None, description="End; not before `startsAt`.")
    due_at: datetime | None = field(default=None, description="Due date of a task or email.")
    completed_at: datetime | None = field(
        default=None, description="Completion time; default now when the status is COMPLETED."
    )
    duration_seconds: int | None = field(
        default=None, description="Length in seconds, 0 to 604800 (one week)."
    )
    call_direction: CallDirection | None = field(
        default=None, description="Direction of a call; calls only."
    )
    owner_id: strawberry.ID | None = field(
        default=None, description="Responsible user; default: the signed-in user."
    )


@strawberry.input(
    description="Changes to an activity; fields left out stay as they are. Sending any of "
    "accountId, locationId, contactId places the activity anew from the ids sent, exactly as "
    "createActivity does."
)
class UpdateActivityInput:
    id: strawberry.ID = field(description="The activity to change.")
    account_id: strawberry.ID | None = field(default=UNSET, description="Move to this account.")
    location_id: strawberry.ID | None = field(
        default=UNSET, description="Move to this location of the account."
    )
    contact_id: strawberry.ID | None = field(default=UNSET, description="Move to this contact.")
    kind: ActivityKind | None = field(
        default=UNSET,
        description="New kind; a status that no longer fits becomes the new kind's default.",
    )
    subject: str | None = field(default=UNSET, description="Short title; not blank.")
    body: str | None = field(default=UNSET, description="Details.")
    status: ActivityStatus | None = field(default=UNSET, description="Must fit the kind.")
    starts_at: datetime | None = field(default=UNSET, description="Start of a call or meeting.")
    ends_at: datetime | None = field(default=UNSET, description="End; not before `startsAt`.")
    due_at: datetime | None = field(default=UNSET, description="Due date of a task or email.")
    completed_at: datetime | None = field(default=UNSET, description="Completion time.")
    duration_seconds: int | None = field(default=UNSET, description="Length in seconds.")
    call_direction: CallDirection | None = field(
        default=UNSET, description="Direction of a call; calls only."
    )
    owner_id: strawberry.ID | None = field(
        default=UNSET, description="Responsible user; null for none."
    )


DeleteActivityInput = id_input(
    "DeleteActivityInput", "Names an activity to delete.", "The activity."
)


_activity_payload = partial(payload, activity=(Activity, "The activity after the change."))
CreateActivityPayload = _activity_payload("CreateActivityPayload", "Result of createActivity.")
UpdateActivityPayload = _activity_payload("UpdateActivityPayload", "Result of updateActivity.")
DeleteActivityPayload = _activity_payload(
    "DeleteActivityPayload", "Result of deleteActivity: the activity as it was."
)

OrderBy = Annotated[
    list[ActivityOrder] | None,
    strawberry.argument(description="Sort keys, first wins; default CREATED_AT, newest first."),
]
FilterArg = Annotated[ActivityFilter | None, strawberry.argument(description="Which activities.")]


@strawberry.type
class ActivityQuery:
    @field(description="Calls, meetings, tasks, notes and emails, newest first by default.")
    async def activities(
        self, info: GraphInfo, filter: FilterArg = None, order_by: OrderBy = None,
        search: Search = None, first: First = None, after: After = None, last: Last = None,
        before: Before = None,
    ) -> Connection[Activity]:  # fmt: skip
        access = info.context.access
        order = ordering(
            sort_keys(order_by), ACTIVITY_ORDER_KEYS, "CREATED_AT", default_descending=True
        )
        args = page_args(first, after, last, before)
        columns = page_columns(info, Activity)
        page = await work.list_activities(access, plain(filter), search, order, args, columns)
        return Connection.of(page, Activity.from_rows)


@strawberry.type
class ActivityMutation:
    create_activity = mutation(
        work.create_activity,
        CreateActivityInput,
        CreateActivityPayload,
        area=Area.ACTIVITIES,
        returns={"activity": "Activity"},
        description="Record a call, meeting, task, note or email.",
        argument="The new activity.",
    )

    update_activity = mutation(
        work.update_activity,
        UpdateActivityInput,
        UpdateActivityPayload,
        area=Area.ACTIVITIES,
        returns={"activity": "Activity"},
        description="Change an activity; only the fields sent change.",
        argument="The changes.",
    )

    delete_activity = mutation(
        lambda access, data: work.delete_activity(access, data.id),
        DeleteActivityInput,
        DeleteActivityPayload,
        area=Area.ACTIVITIES,
        returns={"activity": "Activity"},
        description="Delete an activity; its audit event keeps its values.",
        argument="The activity.",
    )
