"""Custom field definitions: the node type, the root list, inputs, payloads and mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from engine.types import GraphInfo, Node, RowType, documented_enum
from models import enums
from models.registry import ENTITIES
from resolvers import custom_fields as work
from resolvers.access import Area
from schema.common import mutation
from schema.errors import UserError
from schema.inputs import id_input

field = strawberry.field
_ERRORS = "Why nothing was written, if so."

CustomFieldEntity = documented_enum(
    enums.CustomFieldEntity,
    "The kind of record a custom field belongs to.",
    {"ACCOUNT": "Accounts (clientes).", "CONTACT": "Contacts."},
)
CustomFieldType = documented_enum(
    enums.CustomFieldType,
    "What a custom field holds; its values are checked against it on every write.",
    {
        "TEXT": "Text, lines kept (at most 2000 characters).",
        "NUMBER": "A JSON number.",
        "DATE": "A date as a string, YYYY-MM-DD.",
        "BOOLEAN": "true or false.",
        "SELECT": "One of the definition's options (a string).",
        "MULTI_SELECT": "A list of the definition's options.",
        "URL": "An http:// or https:// address.",
        "EMAIL": "An email address.",
        "PHONE": "A phone number, valid in the record's region.",
    },
)


@strawberry.type(
    description="A typed extra field of accounts or contacts (campos adicionales), configured "
    "by admins and managers; rows hold its values in `customFields` under its key."
)
class CustomFieldDefinition(RowType, Node, entity=ENTITIES["CustomFieldDefinition"]):
    _derived: ClassVar[dict[str, tuple[str, ...]]] = {"applies_to": ("entity",)}

    applies_to: CustomFieldEntity = field(name="entity", description="Accounts or contacts.")
    key: str = field(description="The key in `customFields` and the `cf.<key>` file column.")
    label: str = field(description="What forms show (e.g. Nivel de interés).")
    type: CustomFieldType = field(description="What the values are.")
    options: list[str] = field(description="The allowed values of SELECT and MULTI_SELECT.")
    required: bool = field(description="Every new row must give a value.")
    archived: bool = field(
        description="Archived: values are kept and readable, no write may set or change them."
    )
    created_at: datetime = field(description="When the field was defined.")
    updated_at: datetime = field(description="When the definition last changed.")


# ---------------------------------------------------------------- filters


@strawberry.input(
    description="Rows whose custom field `key` matches; the key must be defined, the values "
    "are of its type. Conditions given together must all hold."
)
class CustomFieldFilter:
    key: str = field(description="The custom field's key.")
    equals: JSON | None = field(
        default=None, description="Equal to this value (MULTI_SELECT: the list holds it)."
    )
    in_: list[JSON] | None = field(
        default=None, name="in", description="Equal to one of these values (at most 50)."
    )
    gt: JSON | None = field(default=None, description="Greater than (NUMBER and DATE fields).")
    lt: JSON | None = field(default=None, description="Less than (NUMBER and DATE fields).")


# ---------------------------------------------------------------- inputs


@strawberry.input(description="A new custom field definition.")
class CreateCustomFieldDefinitionInput:
    entity: CustomFieldEntity = field(description="Accounts or contacts.")
    key: str = field(
        description="Unique per entity: a letter, then letters, digits or _ (at most 64)."
    )
    label: str = field(description="What forms show; at most 120 characters.")
    type: CustomFieldType = field(description="What the values are; cannot change later.")
    options: list[str] | None = field(
        default=None, description="SELECT and MULTI_SELECT: the allowed values (at most 100)."
    )
    required: bool = field(default=False, description="Every new row must give a value.")


@strawberry.input(description="Changes to a definition; its entity, key and type stay.")
class UpdateCustomFieldDefinitionInput:
    id: strawberry.ID = field(description="The definition to change.")
    label: str | None = field(default=UNSET, description="What forms show.")
    options: list[str] | None = field(
        default=UNSET,
        description="Replace the options; rows keep a removed option until they change.",
    )
    required: bool | None = field(
        default=UNSET, description="New rows must give a value; stored values may not be cleared."
    )


ArchiveCustomFieldDefinitionInput = id_input(
    "ArchiveCustomFieldDefinitionInput",
    "The custom field definition to archive.",
    "The definition.",
)


# ---------------------------------------------------------------- payloads


@strawberry.type(description="Result of createCustomFieldDefinition.")
class CreateCustomFieldDefinitionPayload:
    custom_field_definition: CustomFieldDefinition | None = field(description="The new field.")
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


@strawberry.type(description="Result of updateCustomFieldDefinition.")
class UpdateCustomFieldDefinitionPayload:
    custom_field_definition: CustomFieldDefinition | None = field(
        description="The definition after the change."
    )
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


@strawberry.type(description="Result of archiveCustomFieldDefinition.")
class ArchiveCustomFieldDefinitionPayload:
    custom_field_definition: CustomFieldDefinition | None = field(
        description="The archived definition."
    )
    errors: list[UserError] = field(default_factory=list, description=_ERRORS)


# ---------------------------------------------------------------- root fields

EntityArg = Annotated[
    CustomFieldEntity | None,
    strawberry.argument(description="Only the fields of this entity; default: both."),
]
_RETURNS = {"custom_field_definition": "CustomFieldDefinition"}


@strawberry.type
class CustomFieldQuery:
    @field(description="Custom field definitions, archived ones too, by entity and key.")
    async def custom_field_definitions(
        self, info: GraphInfo, entity: EntityArg = None
    ) -> list[CustomFieldDefinition]:
        rows = await work.definitions_queryset(info.context.access, entity)
        return CustomFieldDefinition.from_rows(rows)


@strawberry.type
class CustomFieldMutation:
    create_custom_field_definition = mutation(
        work.create_definition,
        CreateCustomFieldDefinitionInput,
        CreateCustomFieldDefinitionPayload,
        area=Area.ACCOUNTS,
        returns=_RETURNS,
        description="Define a custom field (admins and managers).",
        argument="The new field.",
    )
    update_custom_field_definition = mutation(
        work.update_definition,
        UpdateCustomFieldDefinitionInput,
        UpdateCustomFieldDefinitionPayload,
        area=Area.ACCOUNTS,
        returns=_RETURNS,
        description="Change a custom field's label, options or required flag (admins and "
        "managers).",
        argument="The changes.",
    )
    archive_custom_field_definition = mutation(
        work.archive_definition,
        ArchiveCustomFieldDefinitionInput,
        ArchiveCustomFieldDefinitionPayload,
        area=Area.ACCOUNTS,
        returns=_RETURNS,
        description="Archive a custom field (admins and managers): rows keep and show its "
        "values, writes to it are refused.",
        argument="The definition.",
    )
