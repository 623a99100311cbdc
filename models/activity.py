"""Activities (calls, meetings, tasks, notes, emails) and the audit trail."""

from tortoise import fields
from tortoise.models import Model

from models.base import TimestampedModel, search_document
from models.enums import ActivityKind, ActivityStatus, AuditAction, CallDirection


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


class AuditEvent(Model):
    id = fields.IntField(primary_key=True)
    action = fields.CharEnumField(AuditAction, max_length=16)
    resource_type = fields.CharField(max_length=32)
    resource_id = fields.IntField()
    resource_name = fields.CharField(max_length=255)
    actor = fields.ForeignKeyField(
        "models.User", related_name="audit_events", null=True, on_delete=fields.SET_NULL
    )
    actor_name = fields.CharField(max_length=150, default="")
    occurred_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    changes = fields.JSONField(default=dict)
    search_text = fields.TextField(default="")

    actor_id: int | None

    def search_document(self) -> str:
        return search_document(self.actor_name, self.resource_name)

    class Meta:
        table = "audit_event"
        indexes = (("resource_type", "resource_id", "occurred_at"), ("action", "occurred_at"))
