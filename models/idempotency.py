"""Idempotency keys: the first answer to a mutation request sent with an ``Idempotency-Key``
header, kept for a day so that a retry gets it again instead of writing twice."""

from tortoise import fields
from tortoise.models import Model


class IdempotencyKey(Model):
    id = fields.BigIntField(primary_key=True)
    # Keys are per token: a plain column (no lock on the token row), as the outbox's.
    token_id = fields.IntField()
    key = fields.CharField(max_length=255)
    # SHA-256 (hex) of the raw request body: the same key with another body is refused.
    request_hash = fields.CharField(max_length=64)
    # Null while the first request runs; then its answer, replayed as it was.
    status = fields.IntField(null=True)
    content_type = fields.CharField(max_length=100, null=True)
    body = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "idempotency_key"
        # Two requests with one key at once: the second insert fails here, not in Python.
        unique_together = (("token_id", "key"),)
