"""Accounts: the customer companies."""

from typing import Any

from tortoise import fields

from models.base import TimestampedModel, search_document, with_tag_keys
from models.enums import RecordStatus


class Account(TimestampedModel):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, db_index=True)
    legal_name = fields.CharField(max_length=200, null=True)
    tax_id = fields.CharField(max_length=32, null=True, db_index=True)
    industry = fields.CharField(max_length=100, null=True)
    website = fields.CharField(max_length=255, null=True)
    email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=40, null=True)
    is_vip = fields.BooleanField(default=False, db_index=True)
    status = fields.CharEnumField(RecordStatus, max_length=16, default=RecordStatus.ACTIVE)
    owner = fields.ForeignKeyField(
        "models.User", related_name="owned_accounts", null=True, on_delete=fields.SET_NULL
    )
    tags = fields.JSONField(default=list)
    # The tags folded (lower case, no accents), in the order of ``tags``: what filters compare.
    tag_keys = fields.JSONField(default=list)
    custom_fields = fields.JSONField(default=dict)
    search_text = fields.TextField(default="")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**with_tag_keys(kwargs))

    owner_id: int | None

    @property
    def account_no(self) -> str:
        return f"ACC-{self.id:06d}"

    def search_document(self) -> str:
        return search_document(
            self.account_no, self.name, self.legal_name, self.tax_id, self.email, self.phone
        )

    class Meta:
        table = "account"
        indexes = (("status", "name", "id"),)
