"""Contacts and channels: the root list, inputs, payloads and mutations."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from resolvers import contacts as work
from resolvers.access import Area
from resolvers.contacts import CONTACT_ORDER_KEYS
from resolvers.errors import Rejected
from resolvers.listing import ordering
from schema.base import GraphInfo, documented_enum
from schema.errors import UserError, user_errors
from schema.inputs import id_input, plain
from schema.lookahead import page_columns
from schema.pagination import After, Before, Connection, First, Last, OrderDirection, page_args
from schema.types import (
    Channel,
    ChannelKind,
    Contact,
    ContactRole,
    DocumentType,
    LeadSource,
    RecordStatus,
)

field = strawberry.field
Search = Annotated[
    str | None,
    strawberry.argument(
        description="Free text over names, emails, phone digits, document and contact numbers; "
        "accent- and case-insensitive ('jose perez' finds 'José Pérez')."
    ),
]


class ContactOrderField(Enum):
    LAST_NAME = "LAST_NAME"
    FIRST_NAME = "FIRST_NAME"
    CONTACT_NO = "CONTACT_NO"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


documented_enum(
    ContactOrderField,
    "What contacts can be sorted by; ties break on the next name, then the contact number.",
    {
        "LAST_NAME": "Family name, then given name.",
        "FIRST_NAME": "Given name, then family name.",
        "CONTACT_NO": "Contact number (creation order).",
        "CREATED_AT": "Creation time.",
        "UPDATED_AT": "Time of the last change.",
    },
)
assert {f.value for f in ContactOrderField} == CONTACT_ORDER_KEYS.keys()


@strawberry.input(description="One sort key of the contact list.")
class ContactOrder:
    field: ContactOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC, description="Ascending (default) or descending."
    )


@strawberry.input(description="Which contacts to list. Inactive ones are hidden by default.")
class ContactFilter:
    status: RecordStatus | None = field(
        default=None, description="Only contacts with this status (INACTIVE shows hidden ones)."
    )
    include_inactive: bool = field(default=False, description="List inactive contacts too.")
    account_id: strawberry.ID | None = field(default=None, description="Only this account's.")
    location_id: strawberry.ID | None = field(default=None, description="Only this location's.")
    role: ContactRole | None = field(default=None, description="Only contacts with this role.")
    is_vip: bool | None = field(default=None, description="Only VIP (true) or non-VIP (false).")
    is_preferred: bool | None = field(default=None, description="Only preferred contacts.")
    owner_id: strawberry.ID | None = field(default=None, description="Only this user's.")
    lead_source: LeadSource | None = field(default=None, description="Only from this source.")
    tag: str | None = field(default=None, description="Only contacts with this tag.")
    created_after: datetime | None = field(default=None, description="Created at or after.")
    created_before: datetime | None = field(default=None, description="Created before.")


@strawberry.input(description="A channel to give a contact.")
class ChannelInput:
    kind: ChannelKind = field(description="Email, phone, mobile, WhatsApp…")
    value: str = field(description="Address or number.")
    label: str | None = field(default=None, description="Free label, e.g. 'trabajo'.")
    is_primary: bool = field(
        default=False, description="Make it the primary of its kind (the first one always is)."
    )


@strawberry.input(description="A new contact.")
class CreateContactInput:
    account_id: strawberry.ID = field(description="The account the contact works for.")
    location_id: strawberry.ID | None = field(
        default=None, description="The location; default: the account's main location."
    )
    first_name: str = field(description="Given name(s); required.")
    last_name: str = field(description="Family name(s); required.")
    salutation: str | None = field(default=None, description="Sr., Sra., Lic., …")
    job_title: str | None = field(default=None, description="Position (cargo).")
    role: ContactRole | None = field(default=None, description="Role at the account.")
    email: str | None = field(default=None, description="Primary email (writes a channel).")
    phone: str | None = field(default=None, description="Primary phone (writes a channel).")
    mobile: str | None = field(default=None, description="Primary mobile (writes a channel).")
    home_phone: str | None = field(default=None, description="Home phone.")
    birthday: date | None = field(default=None, description="Date of birth; not in the future.")
    image_url: str | None = field(default=None, description="http(s) address of a photo.")
    document_type: DocumentType | None = field(default=None, description="Document kind.")
    document_number: str | None = field(default=None, description="Document number.")
    is_vip: bool = field(default=False, description="High-priority contact.")
    is_preferred: bool = field(
        default=False, description="Make it the location's preferred contact."
    )
    portal_user: bool = field(default=False, description="Has portal access.")
    email_opt_out: bool = field(default=False, description="Asked not to receive email.")
    lead_source: LeadSource | None = field(default=None, description="How it was obtained.")
    converted_from_lead: bool = field(default=False, description="Converted from a lead.")
    owner_id: strawberry.ID | None = field(
        default=None, description="Responsible user; default: the account's owner."
    )
    tags: list[str] | None = field(default=None, description="Free labels (at most 20).")
    custom_fields: JSON | None = field(default=None, description="Flat object of extra fields.")
    channels: list[ChannelInput] | None = field(default=None, description="Ways to reach it.")


@strawberry.input(description="Changes to a contact; fields left out stay as they are.")
class UpdateContactInput:
    id: strawberry.ID = field(description="The contact to change.")
    account_id: strawberry.ID | None = field(default=UNSET, description="Move to this account.")
    location_id: strawberry.ID | None = field(
        default=UNSET, description="Move to this location (rule: one location per contact)."
    )
    first_name: str | None = field(default=UNSET, description="Given name(s).")
    last_name: str | None = field(default=UNSET, description="Family name(s).")
    salutation: str | None = field(default=UNSET, description="Sr., Sra., Lic., …")
    job_title: str | None = field(default=UNSET, description="Position (cargo).")
    role: ContactRole | None = field(default=UNSET, description="Role at the account.")
    email: str | None = field(default=UNSET, description="Replace the primary email.")
    phone: str | None = field(default=UNSET, description="Replace the primary phone.")
    mobile: str | None = field(default=UNSET, description="Replace the primary mobile.")
    home_phone: str | None = field(default=UNSET, description="Home phone.")
    birthday: date | None = field(default=UNSET, description="Date of birth.")
    image_url: str | None = field(default=UNSET, description="http(s) address of a photo.")
    document_type: DocumentType | None = field(default=UNSET, description="Document kind.")
    document_number: str | None = field(default=UNSET, description="Document number.")
    is_vip: bool | None = field(default=UNSET, description="High-priority contact.")
    is_preferred: bool | None = field(default=UNSET, description="Preferred at its location.")
    portal_user: bool | None = field(default=UNSET, description="Has portal access.")
    email_opt_out: bool | None = field(default=UNSET, description="Asked not to get email.")
    lead_source: LeadSource | None = field(default=UNSET, description="How it was obtained.")
    converted_from_lead: bool | None = field(default=UNSET, description="Converted from lead.")
    owner_id: strawberry.ID | None = field(default=UNSET, description="Responsible user.")
    tags: list[str] | None = field(default=UNSET, description="Replace the labels.")
    custom_fields: JSON | None = field(default=UNSET, description="Replace the extra fields.")
    channels: list[ChannelInput] | None = field(
        default=UNSET, description="Replace every channel with these."
    )


DeactivateContactInput = id_input(
    "DeactivateContactInput",
    "Names the contact to deactivate.",
    "The contact to hide from lists; it keeps its activities and history.",
)
ActivateContactInput = id_input(
    "ActivateContactInput", "Names the contact to activate again.", "The inactive contact."
)
SetPreferredContactInput = id_input(
    "SetPreferredContactInput",
    "Names the contact to make its location's preferred contact.",
    "The contact; its location's previous preferred contact stops being preferred.",
)


@strawberry.input(description="A new channel for a contact.")
class AddChannelInput:
    contact_id: strawberry.ID = field(description="The contact.")
    kind: ChannelKind = field(description="Email, phone, mobile, WhatsApp…")
    value: str = field(description="Address or number.")
    label: str | None = field(default=None, description="Free label.")
    is_primary: bool = field(default=False, description="Make it the primary of its kind.")


@strawberry.input(description="Changes to a channel.")
class UpdateChannelInput:
    id: strawberry.ID = field(description="The channel.")
    value: str | None = field(default=UNSET, description="New address or number.")
    label: str | None = field(default=UNSET, description="New label.")


RemoveChannelInput = id_input(
    "RemoveChannelInput",
    "Names the channel to remove.",
    "The channel; when it was the primary, the oldest remaining of its kind becomes primary.",
)
SetPrimaryChannelInput = id_input(
    "SetPrimaryChannelInput",
    "Names the channel to make the primary of its kind.",
    "The channel; the old primary of its kind is demoted.",
)


def _payload(name: str, description: str):
    """A ``{ contact, errors }`` payload type."""

    @strawberry.type(name=name, description=description)
    class ContactPayload:
        contact: Contact | None = field(description="The contact after the change.")
        errors: list[UserError] = field(
            default_factory=list, description="Why nothing was written, if so."
        )

    return ContactPayload


CreateContactPayload = _payload("CreateContactPayload", "Result of createContact.")
UpdateContactPayload = _payload("UpdateContactPayload", "Result of updateContact.")
DeactivateContactPayload = _payload("DeactivateContactPayload", "Result of deactivateContact.")
ActivateContactPayload = _payload("ActivateContactPayload", "Result of activateContact.")
SetPreferredContactPayload = _payload(
    "SetPreferredContactPayload", "Result of setPreferredContact."
)


def _channel_payload(name: str, description: str):
    """A ``{ channel, contact, errors }`` payload type."""

    @strawberry.type(name=name, description=description)
    class ChannelPayload:
        channel: Channel | None = field(description="The channel after the change.")
        contact: Contact | None = field(description="The contact the channel belongs to.")
        errors: list[UserError] = field(
            default_factory=list, description="Why nothing was written, if so."
        )

    return ChannelPayload


AddChannelPayload = _channel_payload("AddChannelPayload", "Result of addChannel.")
UpdateChannelPayload = _channel_payload("UpdateChannelPayload", "Result of updateChannel.")
RemoveChannelPayload = _channel_payload("RemoveChannelPayload", "Result of removeChannel.")
SetPrimaryChannelPayload = _channel_payload(
    "SetPrimaryChannelPayload", "Result of setPrimaryChannel."
)

OrderBy = Annotated[
    list[ContactOrder] | None,
    strawberry.argument(description="Sort keys, first wins; default LAST_NAME ascending."),
]
FilterArg = Annotated[ContactFilter | None, strawberry.argument(description="Which contacts.")]


def sort_keys(order_by):
    return [(o.field.value, o.direction == OrderDirection.DESC) for o in order_by or []]


@strawberry.type
class ContactQuery:
    @field(description="Contacts, active ones unless the filter says otherwise.")
    async def contacts(
        self, info: GraphInfo, filter: FilterArg = None, order_by: OrderBy = None,
        search: Search = None, first: First = None, after: After = None, last: Last = None,
        before: Before = None,
    ) -> Connection[Contact]:  # fmt: skip
        access = info.context.access
        order = ordering(sort_keys(order_by), CONTACT_ORDER_KEYS, "LAST_NAME")
        args = page_args(first, after, last, before)
        columns = page_columns(info, Contact)
        page = await work.list_contacts(access, plain(filter), search, order, args, columns)
        return Connection.of(page, Contact.from_rows)


def _input(description: str):
    return strawberry.argument(description=description)


async def _contact_change(payload, action) -> object:
    try:
        row = await action()
    except Rejected as rejected:
        return payload(contact=None, errors=user_errors(rejected.problems))
    return payload(contact=Contact.from_row(row))


async def _channel_change(payload, action) -> object:
    try:
        channel, contact = await action()
    except Rejected as rejected:
        return payload(channel=None, contact=None, errors=user_errors(rejected.problems))
    return payload(channel=Channel.from_row(channel), contact=Contact.from_row(contact))


@strawberry.type
class ContactMutation:
    @strawberry.mutation(description="Create a contact at an account's location.")
    async def create_contact(
        self, info: GraphInfo, input: Annotated[CreateContactInput, _input("The new contact.")]
    ) -> CreateContactPayload:
        access = info.context.access.require_write(Area.CONTACTS)
        return await _contact_change(
            CreateContactPayload, lambda: work.create_contact(access, plain(input))
        )

    @strawberry.mutation(description="Change a contact; only the fields sent change.")
    async def update_contact(
        self, info: GraphInfo, input: Annotated[UpdateContactInput, _input("The changes.")]
    ) -> UpdateContactPayload:
        access = info.context.access.require_write(Area.CONTACTS)
        return await _contact_change(
            UpdateContactPayload, lambda: work.update_contact(access, plain(input))
        )

    @strawberry.mutation(description="Hide a contact from lists; it keeps its history.")
    async def deactivate_contact(
        self, info: GraphInfo, input: Annotated[DeactivateContactInput, _input("The contact.")]
    ) -> DeactivateContactPayload:
        access = info.context.access.require_write(Area.CONTACTS)
        return await _contact_change(
            DeactivateContactPayload, lambda: work.set_status(access, input.id, active=False)
        )

    @strawberry.mutation(description="Make an inactive contact active again.")
    async def activate_contact(
        self, info: GraphInfo, input: Annotated[ActivateContactInput, _input("The contact.")]
    ) -> ActivateContactPayload:
        access = info.context.access.require_write(Area.CONTACTS)
        return await _contact_change(
            ActivateContactPayload, lambda: work.set_status(access, input.id, active=True)
        )

    @strawberry.mutation(description="Make the contact its location's preferred contact.")
    async def set_preferred_contact(
        self, info: GraphInfo, input: Annotated[SetPreferredContactInput, _input("The contact.")]
    ) -> SetPreferredContactPayload:
        access = info.context.access.require_write(Area.CONTACTS)
        return await _contact_change(
            SetPreferredContactPayload, lambda: work.set_preferred(access, input.id)
        )

    @strawberry.mutation(description="Add a way to reach a contact.")
    async def add_channel(
        self, info: GraphInfo, input: Annotated[AddChannelInput, _input("The new channel.")]
    ) -> AddChannelPayload:
        access = info.context.access.require_write(Area.CONTACTS)
        return await _channel_change(
            AddChannelPayload, lambda: work.add_channel(access, plain(input))
        )

    @strawberry.mutation(description="Change a channel's value or label.")
    async def update_channel(
        self, info: GraphInfo, input: Annotated[UpdateChannelInput, _input("The changes.")]
    ) -> UpdateChannelPayload:
        access = info.context.access.require_write(Area.CONTACTS)
        return await _channel_change(
            UpdateChannelPayload, lambda: work.update_channel(access, plain(input))
        )

    @strawberry.mutation(description="Remove a channel; the oldest of its kind becomes primary.")
    async def remove_channel(
        self, info: GraphInfo, input: Annotated[RemoveChannelInput, _input("The channel.")]
    ) -> RemoveChannelPayload:
        access = info.context.access.require_write(Area.CONTACTS)
        return await _channel_change(
            RemoveChannelPayload, lambda: work.remove_channel(access, input.id)
        )

    @strawberry.mutation(description="Make a channel the primary of its kind.")
    async def set_primary_channel(
        self, info: GraphInfo, input: Annotated[SetPrimaryChannelInput, _input("The channel.")]
    ) -> SetPrimaryChannelPayload:
        access = info.context.access.require_write(Area.CONTACTS)
        return await _channel_change(
            SetPrimaryChannelPayload, lambda: work.set_primary_channel(access, input.id)
        )
