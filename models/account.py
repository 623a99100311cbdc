"""Accounts (customer companies) and their locations."""

from tortoise import fields

from models.base import TimestampedModel, search_document
from models.enums import LocationKind, RecordStatus


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
    custom_fields = fields.JSONField(default=dict)
    search_text = fields.TextField(default="")

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


class Location(TimestampedModel):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField(
        "models.Account", related_name="locations", on_delete=fields.CASCADE
    )
    # Set only on a contact's own addresses (HOME, SHIPPING, BILLING). A plain column, not a
    # foreign key: contact -> location already points the other way, and Tortoise cannot
    # create tables with cyclic foreign keys.
    contact_id = fields.IntField(null=True)
    kind = fields.CharEnumField(LocationKind, max_length=16)
    name = fields.CharField(max_length=200)
    street = fields.CharField(max_length=255, null=True)
    exterior_number = fields.CharField(max_length=20, null=True)
    interior_number = fields.CharField(max_length=20, null=True)
    neighborhood = fields.CharField(max_length=120, null=True)
    district = fields.CharField(max_length=120, null=True)
    city = fields.CharField(max_length=120, null=True)
    province = fields.CharField(max_length=120, null=True)
    state = fields.CharField(max_length=120, null=True)
    country = fields.CharField(max_length=2, null=True)
    postal_code = fields.CharField(max_length=12, null=True)
    reference = fields.CharField(max_length=255, null=True)
    is_default = fields.BooleanField(default=False)
    search_text = fields.TextField(default="")

    account_id: int

    def search_document(self) -> str:
        return search_document(
            self.name,
            self.street,
            self.neighborhood,
            self.district,
            self.city,
            self.province,
            self.state,
            self.postal_code,
            self.reference,
        )

    class Meta:
        table = "location"
        indexes = (("account_id", "kind"), ("contact_id", "kind"))
