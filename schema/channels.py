"""Channels (every way to reach a contact): the node type, inputs, payloads and mutations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import UNSET

from engine.relations import related
from engine.types import GraphInfo, Node, RowType, documented_enum, node_type
from models import enums
from models.registry import ENTITIES
from resolvers import contacts as work
from resolvers.access import Area
from resolvers.errors import Rejected
from schema.errors import UserError, user_errors
from schema.inputs import id_input, plain

if TYPE_CHECKING:
    from schema.contacts import Contact

field = strawberry.field

ContactRef = Annotated["Contact", strawberry.lazy("schema.contacts")]

ChannelKind = documented_enum(
    enums.ChannelKind,
    "A way to reach a contact (vía de contacto).",
    {
        "EMAIL": "Email address.",
        "PHONE": "Landline phone.",
        "MOBILE": "Mobile phone.",
        "WHATSAPP": "WhatsApp number.",
        "TELEGRAM": "Telegram user or number.",
        "SMS": "Number for text messages.",
        "CHAT": "Any chat handle.",
        "OTHER": "Any other channel.",
    },
)


@strawberry.type(description="One way to reach a contact (vía de contacto).")
class Channel(RowType, Node, entity=ENTITIES["Channel"]):
    kind: ChannelKind = field(description="Email, phone, mobile, WhatsApp…")
    value: str = field(description="The address or number as entered.")
    label: str | None = field(description="Free label, e.g. 'trabajo'.")
    is_primary: bool = field(description="The primary channel of its kind for the contact.")
    created_at: datetime = field(description="When the channel was added.")

    contact: ContactRef = related(
        "contact_id", "Contact", required=True, description="The contact this channel reaches."
    )


@strawberry.input(description="A channel to give a contact.")
class ChannelInput:
    kind: ChannelKind = field(description="Email, phone, mobile, WhatsApp…")
    value: str = field(description="Address or number.")
    label: str | None = field(default=None, description="Free label, e.g. 'trabajo'.")
    is_primary: bool = field(
        default=False, description="Make it the primary of its kind (the first one always is)."
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


def _channel_payload(name: str, description: str):
    """A ``{ channel, contact, errors }`` payload type."""

    @strawberry.type(name=name, description=description)
    class ChannelPayload:
        channel: Channel | None = field(description="The channel after the change.")
        contact: ContactRef | None = field(description="The contact the channel belongs to.")
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


def _input(description: str):
    return strawberry.argument(description=description)


async def _channel_change(payload, action) -> object:
    try:
        channel, contact = await action()
    except Rejected as rejected:
        return payload(channel=None, contact=None, errors=user_errors(rejected.problems))
    contact_type = node_type("Contact")
    return payload(channel=Channel.from_row(channel), contact=contact_type.from_row(contact))


@strawberry.type
class ChannelMutation:
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
