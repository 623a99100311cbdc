"""Documents: files uploaded to a contact or an account, with their review status. The
bytes live in the storage (``storage.py``), content-addressed by ``sha256``."""

from tortoise import fields

from models.base import TimestampedModel
from models.enums import DocumentKind, ReviewStatus


class Document(TimestampedModel):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=255)
    kind = fields.CharEnumField(DocumentKind, max_length=24)
    content_type = fields.CharField(max_length=127)
    byte_size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64, db_index=True)
    review_status = fields.CharEnumField(ReviewStatus, max_length=16, default=ReviewStatus.PENDING)
    review_note = fields.TextField(null=True)
    reviewed_by = fields.ForeignKeyField(
        "models.User", related_name="reviewed_documents", null=True, on_delete=fields.SET_NULL
    )
    reviewed_at = fields.DatetimeField(null=True)
    uploaded_by = fields.ForeignKeyField(
        "models.User", related_name="uploaded_documents", null=True, on_delete=fields.SET_NULL
    )
    # The account the document is at: a contact's document is at the contact's account
    # when it was uploaded (rule 8 reads this column).
    account = fields.ForeignKeyField(
        "models.Account", related_name="documents", on_delete=fields.RESTRICT
    )
    contact = fields.ForeignKeyField(
        "models.Contact", related_name="documents", null=True, on_delete=fields.RESTRICT
    )

    account_id: int
    contact_id: int | None
    reviewed_by_id: int | None
    uploaded_by_id: int | None

    class Meta:
        table = "document"
        indexes = (
            ("contact_id", "created_at", "id"),
            ("account_id", "created_at", "id"),
        )
