"""Custom field definitions: the typed extra fields an administrator configures per entity."""

from tortoise import fields

from models.base import TimestampedModel
from models.enums import CustomFieldEntity, CustomFieldType

TABLES = {CustomFieldEntity.ACCOUNT: "account", CustomFieldEntity.CONTACT: "contact"}


def sqlite_filter_index(entity: str, key: str, kind: str) -> str | None:
    """SQLite's index for a list's ``customField`` filter on one key: an expression index on
    ``json_extract(custom_fields, '$.<key>')``, the very expression the filter compares
    (``resolvers/custom_fields.py``), so ``equals``, ``in``, ``gt`` and ``lt`` search it.
    None for MULTI_SELECT, whose filter looks inside an array (``json_each``). Keys hold
    letters, digits and ``_`` only (checked before a definition is stored)."""
    if kind == CustomFieldType.MULTI_SELECT:
        return None
    table = TABLES[CustomFieldEntity(entity)]
    return (f'CREATE INDEX IF NOT EXISTS "idx_{table}_cf_{key}" '
            f"ON \"{table}\" (json_extract(\"custom_fields\", '$.{key}'))")  # fmt: skip


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
