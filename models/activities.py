"""Activities: calls, meetings, tasks, notes and emails."""

from tortoise import fields

from models.base import TimestampedModel, search_document
from models.enums import ActivityKind, ActivityStatus, CallDirection


class Activity(TimestampedModel):
    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(ActivityKind, max_length=16)
    subject = fields.CharField(max_length=200)
    body = fields.TextField(null=True)
    status = fields.CharEnumField(ActivityStatus, max_length=16, null=True)
    starts_at = fields.DatetimeField(null=True)
    ends_at = fields.DatetimeField(null=True)
    due_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    duration_seconds = fields.IntField(null=True)
    call_direction = fields.CharEnumField(CallDirection, max_length=16, null=True)
    account = fields.ForeignKeyField(
        "models.Account", related_name="activities", on_delete=fields.RESTRICT
    )
    location = fields.ForeignKeyField(
        "models.Location", related_name="activities", null=True, on_delete=fields.SET_NULL
    )
    contact = fields.ForeignKeyField(
        "models.Contact", related_name="activities", null=True, on_delete=fields.RESTRICT
    )
    owner = fields.ForeignKeyField(
        "models.User", related_name="activities", null=True, on_delete=fields.SET_NULL
    )
    search_text = fields.TextField(default="")

    account_id: int
    location_id: int | None
    contact_id: int | None
    owner_id: int | None

    def search_document(self) -> str:
        return search_document(self.subject)

    class Meta:
        table = "activity"
        indexes = (
            ("contact_id", "created_at", "id"),
            ("account_id", "created_at", "id"),
            ("location_id", "created_at", "id"),
            ("kind", "status"),
        )
