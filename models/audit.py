"""The audit trail."""

from tortoise import fields
from tortoise.models import Model

from models.base import search_document
from models.enums import AuditAction


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
