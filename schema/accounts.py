"""Accounts and locations: the root lists, inputs, payloads and mutations."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from resolvers import accounts as account_work
from resolvers import locations as location_work
from resolvers.access import Area
from resolvers.accounts import ACCOUNT_ORDER_KEYS
from resolvers.errors import Rejected
from resolvers.listing import ordering
from resolvers.locations import LOCATION_ORDER_KEYS
from schema.base import GraphInfo, documented_enum
from schema.contacts import sort_keys
from schema.errors import UserError, user_errors
from schema.inputs import id_input, plain
from schema.lookahead import page_columns
from schema.pagination import After, Before, Connection, First, Last, OrderDirection, page_args
from schema.types import Account, Location, LocationKind, RecordStatus

field = strawberry.field
_ERRORS = "Why nothing was written, if so."

AccountSearch = Annotated[
    str | None,
    strawberry.argument(
        description="Free text over names, legal name, tax id, email, phone digits and account "
        "number; accent- and case-insensitive ('andina' finds 'Distribuidora Andina')."
    ),
]
LocationSearch = Annotated[
    str | None,
    strawberry.argument(
        description="Free text over the name and address (street, neighbourhood, district, "
        "city, province, state, postal code, reference); accent- and case-insensitive."
    ),
]


# ---------------------------------------------------------------- ordering and filters


class AccountOrderField(Enum):
    NAME = "NAME"
    ACCOUNT_NO = "ACCOUNT_NO"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


documented_enum(
    AccountOrderField,
    "What accounts can be sorted by; ties break on the account number.",
    {
        "NAME": "Trade name.",
        "ACCOUNT_NO": "Account number (creation order).",
        "CREATED_AT": "Creation time.",
        "UPDATED_AT": "Time of the last change.",
    },
)
assert {f.value for f in AccountOrderField} == ACCOUNT_ORDER_KEYS.keys()


class LocationOrderField(Enum):
    NAME = "NAME"
    CITY = "CITY"
    CREATED_AT = "CREATED_AT"


documented_enum(
    LocationOrderField,
    "What locations can be sorted by; ties break on the creation order.",
    {
        "NAME": "Name of the site.",
        "CITY": "City, then name.",
        "CREATED_AT": "Creation time.",
    },
)
assert {f.value for f in LocationOrderField} == LOCATION_ORDER_KEYS.keys()


@strawberry.input(description="One sort key of the account list.")
class AccountOrder:
    field: AccountOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="Ascending (default) or descending."
    )


@strawberry.input(description="One sort key of the location list.")
class LocationOrder:
    field: LocationOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="Ascending (default) or descending."
    )


@strawberry.input(description="Which accounts to list. Inactive ones are hidden by default.")
class AccountFilter:
    status: RecordStatus | None = field(
        default=None, description="Only accounts with this status (INACTIVE shows hidden ones)."
    )
    include_inactive: bool = field(default=False, description="List inactive accounts too.")
    owner_id: strawberry.ID | None = field(default=None, description="Only this user's.")
    is_vip: bool | None = field(default=None, description="Only VIP (true) or non-VIP (false).")
    industry: str | None = field(default=None, description="Only this industry (exact).")
    tag: str | None = field(default=None, description="Only accounts with this tag.")
    created_after: datetime | None = field(default=None, description="Created at or after.")
    created_before: datetime | None = field(default=None, description="Created before.")


@strawberry.input(description="Which locations to list.")
class LocationFilter:
    account_id: strawberry.ID | None = field(default=None, description="Only this account's.")
    kind: LocationKind | None = field(default=None, description="Only locations of this kind.")
    country: str | None = field(default=None, description="Only this country (alpha-2, PE).")
    city: str | None = field(default=None, description="Only this city (exact).")
    state: str | None = field(default=None, description="Only this state or region (exact).")


# ---------------------------------------------------------------- inputs


@strawberry.input(description="The address of an account's main location.")
class LocationFieldsInput:
    name: str | None = field(default=None, description="Name of the site; default: the account's.")
    street: str | None = field(default=None, description="Street (calle / avenida).")
    exterior_number: str | None = field(default=None, description="Exterior number.")
    interior_number: str | None = field(default=None, description="Interior number.")
    neighborhood: str | None = field(default=None, description="Neighbourhood (colonia).")
    district: str | None = field(default=None, description="District (distrito).")
    city: str | None = field(default=None, description="City or municipality.")
    province: str | None = field(default=None, description="Province (provincia).")
    state: str | None = field(default=None, description="State or region (departamento).")
    country: str | None = field(default=None, description="ISO 3166-1 alpha-2 code: PE, MX.")
    postal_code: str | None = field(default=None, description="Postal code; at most 12.")
    reference: str | None = field(default=None, description="How to find it.")


@strawberry.input(description="A new account; its MAIN location is created with it.")
class CreateAccountInput:
    name: str = field(description="Trade name; required, at most 200 characters.")
    legal_name: str | None = field(default=None, description="Registered legal name.")
    tax_id: str | None = field(default=None, description="Tax id (RUC, RFC); at most 32.")
    industry: str | None = field(default=None, description="Industry or line of business.")
    website: str | None = field(default=None, description="http:// or https:// address.")
    email: str | None = field(default=None, description="General email address.")
    phone: str | None = field(default=None, description="General phone number.")
    is_vip: bool = field(default=False, description="High-priority customer.")
    owner_id: strawberry.ID | None = field(
        default=None, description="Responsible user; default: the viewer."
    )
    tags: list[str] | None = field(default=None, description="Free labels (at most 20).")
    custom_fields: JSON | None = field(default=None, description="Flat object of extra fields.")
    main_location: LocationFieldsInput | None = field(
        default=None, description="Address of the MAIN location; default: no address."
    )


@strawberry.input(description="Changes to an account; fields left out stay as they are.")
class UpdateAccountInput:
    id: strawberry.ID = field(description="The account to change.")
    name: str | None = field(default=UNSET, description="Trade name; cannot be cleared.")
    legal_name: str | None = field(default=UNSET, description="Registered legal name.")
    tax_id: str | None = field(default=UNSET, description="Tax id (RUC, RFC).")
    industry: str | None = field(default=UNSET, description="Industry or line of business.")
    website: str | None = field(default=UNSET, description="http:// or https:// address.")
    email: str | None = field(default=UNSET, description="General email address.")
    phone: str | None = field(default=UNSET, description="General phone number.")
    is_vip: bool | None = field(default=UNSET, description="High-priority customer.")
    status: RecordStatus | None = field(
        default=UNSET, description="INACTIVE hides the account from lists; it keeps its data."
    )
    owner_id: strawberry.ID | None = field(
        default=UNSET, description="Responsible user; null: nobody."
    )
    tags: list[str] | None = field(default=UNSET, description="Replace the labels.")
    custom_fields: JSON | None = field(default=UNSET, description="Replace the extra fields.")


@strawberry.input(description="A new location of an account (not a MAIN one).")
class CreateLocationInput:
    account_id: strawberry.ID = field(description="The account the location belongs to.")
    kind: LocationKind = field(description="What it is for; MAIN is refused (there is one).")
    name: str = field(description="Name of the site; required, at most 200 characters.")
    contact_id: strawberry.ID | None = field(
        default=None,
        description="Makes it this contact's own address (HOME, SHIPPING or BILLING); "
        "the contact must work for the account.",
    )
    street: str | None = field(default=None, description="Street (calle / avenida).")
    exterior_number: str | None = field(default=None, description="Exterior number.")
    interior_number: str | None = field(default=None, description="Interior number.")
    neighborhood: str | None = field(default=None, description="Neighbourhood (colonia).")
    district: str | None = field(default=None, description="District (distrito).")
    city: str | None = field(default=None, description="City or municipality.")
    province: str | None = field(default=None, description="Province (provincia).")
    state: str | None = field(default=None, description="State or region (departamento).")
    country: str | None = field(default=None, description="ISO 3166-1 alpha-2 code: PE, MX.")
    postal_code: str | None = field(default=None, description="Postal code; at most 12.")
    reference: str | None = field(default=None, description="How to find it.")
    is_default: bool = field(
        default=False, description="Make it the default of its kind (un-defaults the other)."
    )


@strawberry.input(description="Changes to a location; fields left out stay as they are.")
class UpdateLocationInput:
    id: strawberry.ID = field(description="The location to change.")
    kind: LocationKind | None = field(
        default=UNSET, description="What it is for; cannot change to or from MAIN."
    )
    name: str | None = field(default=UNSET, description="Name of the site; cannot be cleared.")
    street: str | None = field(default=UNSET, description="Street (calle / avenida).")
    exterior_number: str | None = field(default=UNSET, description="Exterior number.")
    interior_number: str | None = field(default=UNSET, description="Interior number.")
    neighborhood: str | None = field(default=UNSET, description="Neighbourhood (colonia).")
    district: str | None = field(default=UNSET, description="District (distrito).")
    city: str | None = field(default=UNSET, description="City or municipality.")
    province: str | None = field(default=UNSET, description="Province (provincia).")
    state: str | None = field(default=UNSET, description="State or region (departamento).")
    country: str | None = field(default=UNSET, description="ISO 3166-1 alpha-2 code: PE, MX.")
    postal_code: str | None = field(default=UNSET, description="Postal code; at most 12.")
    reference: str | None = field(default=UNSET, description="How to find it.")
    is_default: bool | None = field(default=UNSET, description="The default of its kind.")


DeleteLocationInput = id_input(
    "DeleteLocationInput", "Names a location.", "The location to delete."
)


# ---------------------------------------------------------------- payloads


@strawberry.type(description="Result of createAccount.")
class CreateAccountPayload:
    account: Account | None = field(description="The new account, with its MAIN location.")
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


@strawberry.type(description="Result of updateAccount.")
class UpdateAccountPayload:
    account: Account | None = field(description="The account after the change.")
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


@strawberry.type(description="Result of createLocation.")
class CreateLocationPayload:
    location: Location | None = field(description="The new location.")
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


@strawberry.type(description="Result of updateLocation.")
class UpdateLocationPayload:
    location: Location | None = field(description="The location after the change.")
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


@strawberry.type(description="Result of deleteLocation.")
class DeleteLocationPayload:
    location: Location | None = field(description="The location as it was before deletion.")
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


# ---------------------------------------------------------------- root lists

AccountOrderBy = Annotated[
    list[AccountOrder] | None,
    strawberry.argument(description="Sort keys, first wins; default NAME ascending."),
]
AccountFilterArg = Annotated[
    AccountFilter | None, strawberry.argument(description="Which accounts.")
]
LocationOrderBy = Annotated[
    list[LocationOrder] | None,
    strawberry.argument(description="Sort keys, first wins; default NAME ascending."),
]
LocationFilterArg = Annotated[
    LocationFilter | None, strawberry.argument(description="Which locations.")
]


@strawberry.type
class AccountQuery:
    @field(description="Accounts (customer companies), active ones unless the filter says so.")
    async def accounts(
        self, info: GraphInfo, filter: AccountFilterArg = None, order_by: AccountOrderBy = None,
        search: AccountSearch = None, first: First = None, after: After = None,
        last: Last = None, before: Before = None,
    ) -> Connection[Account]:  # fmt: skip
        access = info.context.access
        order = ordering(sort_keys(order_by), ACCOUNT_ORDER_KEYS, "NAME")
        args = page_args(first, after, last, before)
        columns = page_columns(info, Account)
        page = await account_work.list_accounts(access, plain(filter), search, order, args, columns)
        return Connection.of(page, Account.from_rows)

    @field(description="Locations of every account: sites and contacts' own addresses.")
    async def locations(
        self, info: GraphInfo, filter: LocationFilterArg = None,
        order_by: LocationOrderBy = None, search: LocationSearch = None, first: First = None,
        after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[Location]:  # fmt: skip
        access = info.context.access
        order = ordering(sort_keys(order_by), LOCATION_ORDER_KEYS, "NAME")
        args = page_args(first, after, last, before)
        columns = page_columns(info, Location)
        page = await location_work.list_locations(
            access, plain(filter), search, order, args, columns
        )
        return Connection.of(page, Location.from_rows)


# ---------------------------------------------------------------- mutations


def _input(description: str):
    return strawberry.argument(description=description)


async def _account_change(payload, action) -> object:
    try:
        row = await action()
    except Rejected as rejected:
        return payload(account=None, errors=user_errors(rejected.problems))
    return payload(account=Account.from_row(row))


async def _location_change(payload, action) -> object:
    try:
        row = await action()
    except Rejected as rejected:
        return payload(location=None, errors=user_errors(rejected.problems))
    return payload(location=Location.from_row(row))


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Create an account together with its MAIN location.")
    async def create_account(
        self, info: GraphInfo, input: Annotated[CreateAccountInput, _input("The new account.")]
    ) -> CreateAccountPayload:
        access = info.context.access.require_write(Area.ACCOUNTS)
        return await _account_change(
            CreateAccountPayload, lambda: account_work.create_account(access, plain(input))
        )

    @strawberry.mutation(description="Change an account; only the fields sent change.")
    async def update_account(
        self, info: GraphInfo, input: Annotated[UpdateAccountInput, _input("The changes.")]
    ) -> UpdateAccountPayload:
        access = info.context.access.require_write(Area.ACCOUNTS)
        return await _account_change(
            UpdateAccountPayload, lambda: account_work.update_account(access, plain(input))
        )


@strawberry.type
class LocationMutation:
    @strawberry.mutation(description="Add a location (outlet, branch, address…) to an account.")
    async def create_location(
        self, info: GraphInfo, input: Annotated[CreateLocationInput, _input("The new location.")]
    ) -> CreateLocationPayload:
        access = info.context.access.require_write(Area.ACCOUNTS)
        return await _location_change(
            CreateLocationPayload, lambda: location_work.create_location(access, plain(input))
        )

    @strawberry.mutation(description="Change a location; only the fields sent change.")
    async def update_location(
        self, info: GraphInfo, input: Annotated[UpdateLocationInput, _input("The changes.")]
    ) -> UpdateLocationPayload:
        access = info.context.access.require_write(Area.ACCOUNTS)
        return await _location_change(
            UpdateLocationPayload, lambda: location_work.update_location(access, plain(input))
        )

    @strawberry.mutation(
        description="Delete a location; never the MAIN one, nor one that still has contacts."
    )
    async def delete_location(
        self, info: GraphInfo, input: Annotated[DeleteLocationInput, _input("The location.")]
    ) -> DeleteLocationPayload:
        access = info.context.access.require_write(Area.ACCOUNTS)
        return await _location_change(
            DeleteLocationPayload, lambda: location_work.delete_location(access, input.id)
        )
