"""The outbox: every committed change as it will be published, written by its unit of work."""

from tortoise import fields
from tortoise.models import Model

from models.enums import AuditAction


class Outbox(Model):
    # The change feed, webhooks and subscriptions read forward in id order from a sequence.
    id = fields.BigIntField(primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    action = fields.CharEnumField(AuditAction, max_length=16)
    resource_type = fields.CharField(max_length=32)
    resource_id = fields.IntField()
    # Plain columns, not foreign keys: the feed filters on them (rule 8 by account) and an
    # insert here takes no lock on the account or user rows.
    account_id = fields.IntField(null=True)
    actor_id = fields.IntField(null=True)
    audit_event = fields.ForeignKeyField(
        "models.AuditEvent", related_name="outbox_rows", on_delete=fields.CASCADE
    )
    # {action, resourceType, resourceId (global id), actor {id, name} | null, occurredAt,
    # changes}: the Change of the contract without its sequence (the id gives it).
    payload = fields.JSONField()

    audit_event_id: int

    class Meta:
        table = "outbox"
        indexes = (("account_id", "id"), ("resource_type", "id"))
