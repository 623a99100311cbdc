"""Channels: a contact's emails, phones and other ways to reach them."""

from tortoise import fields

from models.base import TimestampedModel
from models.canonical import national_display
from models.enums import ChannelKind


class Channel(TimestampedModel):
    id = fields.IntField(primary_key=True)
    contact = fields.ForeignKeyField(
        "models.Contact", related_name="channels", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(ChannelKind, max_length=16)
    value = fields.CharField(max_length=254)
    # The lower-cased email, or a phone's E.164 digits (its typed digits when it was stored
    # before numbers were parsed and could not be): what uniqueness compares.
    normalized = fields.CharField(max_length=254, db_index=True)
    # A phone-like channel's number, +51999888777; null for other kinds (and for numbers
    # stored before parsing that the migration could not read).
    e164 = fields.CharField(max_length=16, null=True)
    label = fields.CharField(max_length=60, null=True)
    is_primary = fields.BooleanField(default=False)
    # Copy of the contact's status, so a partial unique index can hold rule 4 in the database.
    contact_active = fields.BooleanField(default=True)

    contact_id: int

    @property
    def display(self) -> str | None:
        """The number in its country's national format (``999 888 777``)."""
        return national_display(self.e164)

    class Meta:
        table = "channel"
        indexes = (("contact_id", "kind", "created_at"),)
