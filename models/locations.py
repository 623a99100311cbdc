"""Locations: an account's sites, and a contact's own addresses."""

from tortoise import fields

from models.base import TimestampedModel, search_document
from models.enums import LocationKind


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
