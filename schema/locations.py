"""Locations (an account's sites, a contact's own addresses): the node type, the root
list, inputs, payloads and mutations."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import UNSET

from engine.connection import After, Before, Connection, First, Last, OrderDirection, page_args
from engine.lookahead import page_columns
from engine.relations import pages, related
from engine.types import GraphInfo, Node, RowType, documented_enum
from models import enums
from models.registry import ENTITIES
from resolvers import activities as activity_work
from resolvers import audit_log
from resolvers import contacts as contact_work
from resolvers import locations as location_work
from resolvers.access import Area
from resolvers.listing import ordering
from resolvers.locations import LOCATION_ORDER_KEYS
from schema.common import INCLUDE_INACTIVE, mutation, sort_keys
from schema.errors import UserError
from schema.inputs import id_input, plain

if TYPE_CHECKING:
    from schema.accounts import Account
    from schema.activities import Activity
    from schema.audit import AuditEvent
    from schema.contacts import Contact

field = strawberry.field
_ERRORS = "Why nothing was written, if so."

AccountRef = Annotated["Account", strawberry.lazy("schema.accounts")]
ContactRef = Annotated["Contact", strawberry.lazy("schema.contacts")]
ActivityRef = Annotated["Activity", strawberry.lazy("schema.activities")]
AuditEventRef = Annotated["AuditEvent", strawberry.lazy("schema.audit")]

LocationKind = documented_enum(
    enums.LocationKind,
    "What a location is for.",
    {
        "MAIN": "The account's main profile; every account has exactly one.",
        "OUTLET": "A point of sale (punto de venta).",
        "BRANCH": "A branch office (sucursal).",
        "WAREHOUSE": "A warehouse (almacén).",
        "SHIPPING": "A shipping address (dirección de envío).",
        "BILLING": "A billing address (dirección de facturación).",
        "HOME": "A contact's home address.",
        "OTHER": "Any other kind of place.",
    },
)


@strawberry.type(
    description="A site of an account (main profile, outlet, branch…) or a contact's address."
)
class Location(RowType, Node, entity=ENTITIES["Location"]):
    kind: LocationKind = field(description="What the location is for.")
    name: str = field(description="Name of the site, e.g. 'Punto de venta Miraflores'.")
    street: str | None = field(description="Street (calle / avenida).")
    exterior_number: str | None = field(description="Exterior number (número exterior).")
    interior_number: str | None = field(description="Interior number (número interior).")
    neighborhood: str | None = field(description="Neighbourhood (colonia).")
    district: str | None = field(description="District (distrito).")
    city: str | None = field(description="City or municipality (municipio / delegación).")
    province: str | None = field(description="Province (provincia).")
    state: str | None = field(description="State or region (departamento / estado).")
    country: str | None = field(description="Country, ISO 3166-1 alpha-2 (PE, MX).")
    postal_code: str | None = field(description="Postal code (código postal).")
    reference: str | None = field(description="How to find it, e.g. 'frente al parque'.")
    is_default: bool = field(description="The default address of its kind.")
    created_at: datetime = field(description="When the location was created.")
    updated_at: datetime = field(description="When the location last changed.")

    account: AccountRef = related(
        "account_id", "Account", required=True, description="The account the location belongs to."
    )
    contact: ContactRef | None = related(
        "contact_id", "Contact",
        description="The contact whose own address this is (HOME, SHIPPING, BILLING only).",
    )  # fmt: skip
    contacts: Connection[ContactRef] = pages(
        partial(contact_work.contacts_pages_of, parent_column="location_id"), "Contact",
        include_inactive=INCLUDE_INACTIVE, description="Contacts at this location, by last name.",
    )  # fmt: skip
    preferred_contact: ContactRef | None = related(
        "id", "Contact", loader="preferred_contact_by_location",
        description="The location's preferred contact: the default for new activities.",
    )  # fmt: skip
    activities: Connection[ActivityRef] = pages(
        partial(activity_work.activities_pages_of, parent_column="location_id"), "Activity",
        description="Activities at this location, newest first.",
    )  # fmt: skip
    audit_events: Connection[AuditEventRef] = pages(
        partial(audit_log.events_pages_of, resource_type="Location"), "AuditEvent",
        description="The location's change history, newest first.",
    )  # fmt: skip


LocationSearch = Annotated[
    str | None,
    strawberry.argument(
        description="Free text over the name and address (street, neighbourhood, district, "
        "city, province, state, postal code, reference); accent- and case-insensitive."
    ),
]


# ---------------------------------------------------------------- ordering and filters


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


@strawberry.input(description="One sort key of the location list.")
class LocationOrder:
    field: LocationOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="Ascending (default) or descending."
    )


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
        default=False,
        description="Make it the default of its kind (un-defaults the other); a contact's "
        "default SHIPPING address is its `defaultShippingAddress`.",
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
    is_default: bool | None = field(
        default=UNSET,
        description="The default of its kind (un-defaults the other); a contact's default "
        "SHIPPING address is its `defaultShippingAddress`.",
    )


DeleteLocationInput = id_input(
    "DeleteLocationInput", "Names a location.", "The location to delete."
)


# ---------------------------------------------------------------- payloads


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


# ---------------------------------------------------------------- root list

LocationOrderBy = Annotated[
    list[LocationOrder] | None,
    strawberry.argument(description="Sort keys, first wins; default NAME ascending."),
]
LocationFilterArg = Annotated[
    LocationFilter | None, strawberry.argument(description="Which locations.")
]


@strawberry.type
class LocationQuery:
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


@strawberry.type
class LocationMutation:
    create_location = mutation(
        location_work.create_location,
        CreateLocationInput,
        CreateLocationPayload,
        area=Area.ACCOUNTS,
        returns={"location": "Location"},
        description="Add a location (outlet, branch, address…) to an account.",
        argument="The new location.",
    )

    update_location = mutation(
        location_work.update_location,
        UpdateLocationInput,
        UpdateLocationPayload,
        area=Area.ACCOUNTS,
        returns={"location": "Location"},
        description="Change a location; only the fields sent change.",
        argument="The changes.",
    )

    delete_location = mutation(
        lambda access, data: location_work.delete_location(access, data.id),
        DeleteLocationInput,
        DeleteLocationPayload,
        area=Area.ACCOUNTS,
        returns={"location": "Location"},
        description="Delete a location; never the MAIN one, nor one that still has contacts.",
        argument="The location.",
    )
