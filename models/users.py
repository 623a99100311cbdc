"""Internal users of the CRM, their teams and their API tokens."""

from tortoise import fields
from tortoise.models import Model

from models.base import TimestampedModel, search_document
from models.enums import Role


class Team(TimestampedModel):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    search_text = fields.TextField(default="")

    members: fields.ReverseRelation["User"]

    def search_document(self) -> str:
        return search_document(self.name)

    class Meta:
        table = "team"


class User(TimestampedModel):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=150)
    email = fields.CharField(max_length=254, unique=True)
    role = fields.CharEnumField(Role, max_length=16)
    team: fields.ForeignKeyNullableRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="members", null=True, on_delete=fields.SET_NULL
    )
    is_active = fields.BooleanField(default=True)
    search_text = fields.TextField(default="")

    team_id: int | None

    def search_document(self) -> str:
        return search_document(self.name, self.email)

    class Meta:
        table = "crm_user"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="api_tokens", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)
    # SHA-256 of the secret; the secret itself is shown once and never stored.
    secret_hash = fields.CharField(max_length=64, unique=True)
    scopes = fields.JSONField(default=list)
    # Optional allowlist of `Type.field` coordinates this token may read; null: every field.
    allowed_fields = fields.JSONField(null=True)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    user_id: int

    class Meta:
        table = "api_token"
