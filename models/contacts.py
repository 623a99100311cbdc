"""Contacts: people at an account's location."""

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tortoise import fields

from models.base import TimestampedModel, search_document, with_tag_keys
from models.enums import (
    CaptureSource,
    ContactRole,
    DocumentType,
    LeadSource,
    RecordStatus,
)

if TYPE_CHECKING:
    from models.channels import Channel


class Contact(TimestampedModel):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField(
        "models.Account", related_name="contacts", on_delete=fields.RESTRICT
    )
    location = fields.ForeignKeyField(
        "models.Location", related_name="contacts", on_delete=fields.RESTRICT
    )
    salutation = fields.CharField(max_length=20, null=True)
    first_name = fields.CharField(max_length=100)
    last_name = fields.CharField(max_length=100)
    job_title = fields.CharField(max_length=120, null=True)
    role = fields.CharEnumField(ContactRole, max_length=16, null=True)
    home_phone = fields.CharField(max_length=40, null=True)
    birthday = fields.DateField(null=True)
    image_url = fields.CharField(max_length=500, null=True)
    document_type = fields.CharEnumField(DocumentType, max_length=16, null=True)
    document_number = fields.CharField(max_length=32, null=True)
    is_vip = fields.BooleanField(default=False)
    is_preferred = fields.BooleanField(default=False)
    portal_user = fields.BooleanField(default=False)
    email_opt_out = fields.BooleanField(default=False)
    lead_source = fields.CharEnumField(LeadSource, max_length=24, null=True)
    capture_source = fields.CharEnumField(
        CaptureSource, max_length=16, default=CaptureSource.MANUAL
    )
    converted_from_lead = fields.BooleanField(default=False)
    status = fields.CharEnumField(RecordStatus, max_length=16, default=RecordStatus.ACTIVE)
    owner = fields.ForeignKeyField(
        "models.User", related_name="owned_contacts", null=True, on_delete=fields.SET_NULL
    )
    created_by = fields.ForeignKeyField(
        "models.User", related_name="created_contacts", null=True, on_delete=fields.SET_NULL
    )
    default_shipping_address = fields.ForeignKeyField(
        "models.Location", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    tags = fields.JSONField(default=list)
    # The tags folded (lower case, no accents), in the order of ``tags``: what filters compare.
    tag_keys = fields.JSONField(default=list)
    custom_fields = fields.JSONField(default=dict)
    search_text = fields.TextField(default="")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**with_tag_keys(kwargs))

    account_id: int
    location_id: int
    owner_id: int | None
    created_by_id: int | None
    default_shipping_address_id: int | None

    @property
    def contact_no(self) -> str:
        return f"CON-{self.id:06d}"

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def search_document(self, channels: Iterable["Channel"]) -> str:
        """Names, numbers, document and every channel value, folded for search."""
        return search_document(
            self.contact_no,
            self.first_name,
            self.last_name,
            self.document_number,
            self.home_phone,
            *(channel.value for channel in channels),
        )

    class Meta:
        table = "contact"
        # Rule 4 (document half): NULLs never collide, so contacts without a document are free.
        unique_together = (("document_type", "document_number"),)
        indexes = (
            ("status", "last_name", "first_name", "id"),
            ("status", "first_name", "last_name", "id"),
            ("status", "created_at", "id"),
            ("status", "updated_at", "id"),
            # An account's or a location's contacts, by name: numbered from the index alone.
            ("account_id", "status", "last_name", "first_name", "id"),
            ("location_id", "status", "last_name", "first_name", "id"),
            ("owner_id", "status"),
            # The list's equality filters, each with status: its totalCount is read from
            # the index alone (COUNT at 100k: 45-170 ms -> 1-2 ms on SQLite).
            ("role", "status", "is_vip"),
            ("is_vip", "status"),
            ("is_preferred", "status"),
            ("lead_source", "status"),
        )
