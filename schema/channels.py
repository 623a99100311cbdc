"""Channels (every way to reach a contact): the node type, inputs, payloads and mutations."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated, ClassVar

import strawberry
from strawberry import UNSET

from engine.relations import related
from engine.types import Node, RowType, documented_enum
from models import enums
from models.registry import ENTITIES
from resolvers import channels as work
from resolvers.access import Area
from schema.common import mutation, payload
from schema.inputs import id_input

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
    _derived: ClassVar[dict[str, tuple[str, ...]]] = {"display": ("e164",)}

    kind: ChannelKind = field(description="Email, phone, mobile, WhatsApp…")
    value: str = field(description="The address or number as entered.")
    e164: str | None = field(
        description="A phone-like channel's number in E.164 form (+51999888777), read in its "
        "contact's region when it was written; null for other kinds."
    )
    display: str | None = field(
        description="A phone-like channel's number in its country's national format "
        "(999 888 777); null for other kinds."
    )
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


_channel_payload = partial(
    payload,
    channel=(Channel, "The channel after the change."),
    contact=(ContactRef, "The contact the channel belongs to."),
)
AddChannelPayload = _channel_payload("AddChannelPayload", "Result of addChannel.")
UpdateChannelPayload = _channel_payload("UpdateChannelPayload", "Result of updateChannel.")
RemoveChannelPayload = _channel_payload("RemoveChannelPayload", "Result of removeChannel.")
SetPrimaryChannelPayload = _channel_payload(
    "SetPrimaryChannelPayload", "Result of setPrimaryChannel."
)


@strawberry.type
class ChannelMutation:
    add_channel = mutation(
        work.add_channel,
        AddChannelInput,
        AddChannelPayload,
        area=Area.CONTACTS,
        returns={"channel": "Channel", "contact": "Contact"},
        description="Add a way to reach a contact.",
        argument="The new channel.",
    )

    update_channel = mutation(
        work.update_channel,
        UpdateChannelInput,
        UpdateChannelPayload,
        area=Area.CONTACTS,
        returns={"channel": "Channel", "contact": "Contact"},
        description="Change a channel's value or label.",
        argument="The changes.",
    )

    remove_channel = mutation(
        lambda access, data: work.remove_channel(access, data.id),
        RemoveChannelInput,
        RemoveChannelPayload,
        area=Area.CONTACTS,
        returns={"channel": "Channel", "contact": "Contact"},
        description="Remove a channel; the oldest of its kind becomes primary.",
        argument="The channel.",
    )

    set_primary_channel = mutation(
        lambda access, data: work.set_primary_channel(access, data.id),
        SetPrimaryChannelInput,
        SetPrimaryChannelPayload,
        area=Area.CONTACTS,
        returns={"channel": "Channel", "contact": "Contact"},
        description="Make a channel the primary of its kind.",
        argument="The channel.",
    )
