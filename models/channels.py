"""Channels: a contact's emails, phones and other ways to reach them."""

from tortoise import fields

from models.base import TimestampedModel
from models.enums import ChannelKind


class Channel(TimestampedModel):
    id = fields.IntField(primary_key=True)
    contact = fields.ForeignKeyField(
        "models.Contact", related_name="channels", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(ChannelKind, max_length=16)
    value = fields.CharField(max_length=254)
    # Lower-cased email or the digits of a phone: what uniqueness and search compare.
    normalized = fields.CharField(max_length=254, db_index=True)
    label = fields.CharField(max_length=60, null=True)
    is_primary = fields.BooleanField(default=False)
    # Copy of the contact's status, so a partial unique index can hold rule 4 in the database.
    contact_active = fields.BooleanField(default=True)

    contact_id: int

    class Meta:
        table = "channel"
        indexes = (("contact_id", "kind", "created_at"),)
