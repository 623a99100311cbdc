"""Custom field definitions: the typed extra fields an administrator configures per entity."""

from tortoise import fields

from models.base import TimestampedModel
from models.enums import CustomFieldEntity, CustomFieldType


class CustomFieldDefinition(TimestampedModel):
    id = fields.IntField(primary_key=True)
    entity = fields.CharEnumField(CustomFieldEntity, max_length=16)
    # The key in the rows' ``custom_fields`` object and in the ``cf.<key>`` columns.
    key = fields.CharField(max_length=64)
    label = fields.CharField(max_length=120)
    type = fields.CharEnumField(CustomFieldType, max_length=16)
    # The allowed values of a SELECT or MULTI_SELECT, in display order; [] for other types.
    options = fields.JSONField(default=list)
    required = fields.BooleanField(default=False)
    # Archived: its stored values stay readable; no write may set or change them.
    archived = fields.BooleanField(default=False)

    @property
    def applies_to(self) -> CustomFieldEntity:
        """``entity``, under the name the GraphQL row type reads it by (its ``entity`` is the
        registry entry)."""
        return self.entity

    class Meta:
        table = "custom_field_definition"
        # Two definitions of one key, even from concurrent requests: the second insert fails.
        unique_together = (("entity", "key"),)
