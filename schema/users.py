"""Users, teams and API tokens: the root lists, inputs, payloads and admin mutations."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry import UNSET

from engine.connection import After, Before, Connection, First, Last, OrderDirection, page_args
from engine.guard import guarded_fields
from engine.relations import related
from engine.types import GraphInfo, Node, RowType, documented_enum
from models import enums
from models.registry import ENTITIES
from resolvers import users as work
from resolvers.errors import Rejected
from resolvers.listing import ordering
from resolvers.users import USER_ORDER_KEYS
from schema.common import mutation, sort_keys
from schema.errors import UserError, user_errors
from schema.inputs import id_input, plain

field = strawberry.field

Role = documented_enum(
    enums.Role,
    "What an internal user may do.",
    {
        "ADMIN": "Everything, including users, teams and tokens.",
        "MANAGER": "Sees and edits all accounts and contacts.",
        "AGENT": "Works the accounts and contacts of their own or their team.",
        "PARTNER": "An integration with a scoped token.",
    },
)


@strawberry.type(description="An internal user of the CRM.")
class User(RowType, Node, entity=ENTITIES["User"]):
    name: str = field(description="Full name.")
    email: str = field(description="Sign-in email address.")
    role: Role = field(description="What the user may do.")
    is_active: bool = field(description="Whether the user may sign in.")
    created_at: datetime = field(description="When the user was created.")
    team: Team | None = related("team_id", "Team", description="The user's team.")


@strawberry.type(description="A team of users; agents see what their team owns.")
class Team(RowType, Node, entity=ENTITIES["Team"]):
    name: str = field(description="Team name.")
    created_at: datetime = field(description="When the team was created.")


@strawberry.type(description="An API token. The secret is shown once, at creation.")
class ApiToken(RowType, Node, entity=ENTITIES["ApiToken"]):
    name: str = field(description="What the token is for.")
    scopes: list[str] = field(description="Granted scopes; empty means the user's full rights.")
    allowed_fields: list[str] | None = field(
        description="The only fields the token may read (`Type.field`); null: every field."
    )
    expires_at: datetime | None = field(description="When the token stops working.")
    revoked_at: datetime | None = field(description="When the token was revoked.")
    last_used_at: datetime | None = field(description="Last request made with the token.")
    created_at: datetime = field(description="When the token was created.")
    user: User = related(
        "user_id", "User", required=True, description="The user the token acts as."
    )


class UserOrderField(Enum):
    NAME = "NAME"
    EMAIL = "EMAIL"
    CREATED_AT = "CREATED_AT"


documented_enum(
    UserOrderField,
    "What users can be sorted by; ties break on the user's creation order.",
    {"NAME": "Full name.", "EMAIL": "Email address.", "CREATED_AT": "Creation time."},
)
assert {f.value for f in UserOrderField} == USER_ORDER_KEYS.keys()


@strawberry.input(description="One sort key of the user list.")
class UserOrder:
    field: UserOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="Ascending (default) or descending."
    )


@strawberry.input(description="Which users to list.")
class UserFilter:
    role: Role | None = field(default=None, description="Only users with this role.")
    team_id: strawberry.ID | None = field(default=None, description="Only this team's members.")
    is_active: bool | None = field(
        default=None, description="Only users who may (true) or may not (false) sign in."
    )


@strawberry.input(description="A new team.")
class CreateTeamInput:
    name: str = field(description="Team name; unique, at most 100 characters.")


@strawberry.input(description="A new internal user.")
class CreateUserInput:
    name: str = field(description="Full name; at most 150 characters.")
    email: str = field(description="Email address; unique among users, stored lower-cased.")
    role: Role = field(description="What the user may do.")
    team_id: strawberry.ID | None = field(default=None, description="The user's team.")


@strawberry.input(description="Changes to a user; fields left out stay as they are.")
class UpdateUserInput:
    id: strawberry.ID = field(description="The user to change.")
    name: str | None = field(default=UNSET, description="Full name.")
    email: str | None = field(default=UNSET, description="Email address; unique among users.")
    role: Role | None = field(default=UNSET, description="What the user may do.")
    team_id: strawberry.ID | None = field(
        default=UNSET, description="The user's team; null removes the user from their team."
    )
    is_active: bool | None = field(
        default=UNSET, description="Whether the user may sign in; false locks every token out."
    )


@strawberry.input(description="A new API token.")
class CreateApiTokenInput:
    user_id: strawberry.ID | None = field(
        default=None,
        description="The user the token acts as; default: the viewer. Admins only for others.",
    )
    name: str = field(description="What the token is for; at most 100 characters.")
    scopes: list[str] | None = field(
        default=None,
        description="`<area>:read` or `<area>:write`, area one of accounts, contacts, "
        "activities, audit, users. None: the user's full rights. Never more than the role.",
    )
    allowed_fields: list[str] | None = field(
        default=None,
        description="Optional allowlist of the fields the token may read, as `Type.field` "
        "(e.g. `Contact.fullName`, `Account.name`); `id` is always allowed. Other fields of "
        "the node types answer FORBIDDEN at their path. None: every field.",
    )
    expires_at: datetime | None = field(
        default=None, description="When the token stops working; in the future. None: never."
    )


RevokeApiTokenInput = id_input("RevokeApiTokenInput", "Names an API token.", "The token to revoke.")


_ERRORS = "Why nothing was written, if so."


@strawberry.type(description="Result of createTeam.")
class CreateTeamPayload:
    team: Team | None = field(description="The new team.")
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


@strawberry.type(description="Result of createUser.")
class CreateUserPayload:
    user: User | None = field(description="The new user.")
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


@strawberry.type(description="Result of updateUser.")
class UpdateUserPayload:
    user: User | None = field(description="The user after the change.")
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


@strawberry.type(description="Result of createApiToken.")
class CreateApiTokenPayload:
    api_token: ApiToken | None = field(description="The new token.")
    secret: str | None = field(
        description="The token's secret, to send as `Authorization: Bearer <secret>`. "
        "Shown only this once: it is stored as a hash and cannot be recovered."
    )
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


@strawberry.type(description="Result of revokeApiToken.")
class RevokeApiTokenPayload:
    api_token: ApiToken | None = field(description="The token, now revoked.")
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


UserOrderBy = Annotated[
    list[UserOrder] | None,
    strawberry.argument(description="Sort keys, first wins; default NAME ascending."),
]
UserFilterArg = Annotated[UserFilter | None, strawberry.argument(description="Which users.")]
UserSearch = Annotated[
    str | None,
    strawberry.argument(
        description="Free text over names and emails; accent- and case-insensitive."
    ),
]
TeamSearch = Annotated[
    str | None,
    strawberry.argument(description="Free text over team names; accent- and case-insensitive."),
]


@strawberry.type
class UserQuery:
    @field(description="Internal users of the CRM.")
    async def users(
        self, info: GraphInfo, filter: UserFilterArg = None, order_by: UserOrderBy = None,
        search: UserSearch = None, first: First = None, after: After = None, last: Last = None,
        before: Before = None,
    ) -> Connection[User]:  # fmt: skip
        access = info.context.access
        order = ordering(sort_keys(order_by), USER_ORDER_KEYS, "NAME")
        page = await work.list_users(
            access, plain(filter), search, order, page_args(first, after, last, before)
        )
        return Connection.of(page, User.from_rows)

    @field(description="Teams of users, by name.")
    async def teams(
        self, info: GraphInfo, search: TeamSearch = None, first: First = None,
        after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[Team]:  # fmt: skip
        access = info.context.access
        page = await work.list_teams(access, search, page_args(first, after, last, before))
        return Connection.of(page, Team.from_rows)


def _input(description: str):
    return strawberry.argument(description=description)


@strawberry.type
class UserMutation:
    create_team = mutation(
        work.create_team,
        CreateTeamInput,
        CreateTeamPayload,
        returns={"team": "Team"},
        description="Create a team. Admins only.",
        argument="The new team.",
    )

    create_user = mutation(
        work.create_user,
        CreateUserInput,
        CreateUserPayload,
        returns={"user": "User"},
        description="Create an internal user. Admins only.",
        argument="The new user.",
    )

    update_user = mutation(
        work.update_user,
        UpdateUserInput,
        UpdateUserPayload,
        returns={"user": "User"},
        description="Change a user; only the fields sent change. Admins only.",
        argument="The changes.",
    )

    @strawberry.mutation(
        description="Create an API token; its secret is returned once, in this payload."
    )
    async def create_api_token(
        self, info: GraphInfo, input: Annotated[CreateApiTokenInput, _input("The new token.")]
    ) -> CreateApiTokenPayload:
        access = info.context.access
        try:
            token, secret = await work.create_api_token(
                access, plain(input), guarded_fields(info.schema)
            )
        except Rejected as rejected:
            return CreateApiTokenPayload(
                api_token=None, secret=None, errors=user_errors(rejected.problems)
            )
        return CreateApiTokenPayload(api_token=ApiToken.from_row(token), secret=secret)

    revoke_api_token = mutation(
        lambda access, data: work.revoke_api_token(access, data.id),
        RevokeApiTokenInput,
        RevokeApiTokenPayload,
        returns={"api_token": "ApiToken"},
        description="Revoke an API token: it stops working at once. Own tokens, or admins.",
        argument="The token.",
    )
