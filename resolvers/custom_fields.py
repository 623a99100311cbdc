"""Custom field definitions: the list, the three mutations, the definitions a write checks
its values against, and the ``customField`` filter of the contact and account lists.

A write path reads its entity's definitions once (``definitions_of``, one statement per
request or batch, never per item) and hands them to ``validation.custom_fields``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pypika_tortoise.terms import Term, ValueWrapper
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

from models import CustomFieldDefinition
from models.custom_fields import sqlite_filter_index
from models.enums import AuditAction, CustomFieldEntity, CustomFieldType
from models.registry import ENTITIES
from resolvers import audit
from resolvers import validation as check
from resolvers.access import Access
from resolvers.errors import BadInput, ProblemCode, Problems, Rejected
from resolvers.listing import plain_text
from resolvers.unit_of_work import change

AUDITED_FIELDS = ENTITIES["CustomFieldDefinition"].audited
# A key is what JSON paths, ``cf.<key>`` headers and SQL read without quoting.
KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
MAX_DEFINITIONS = 100  # per entity
MAX_OPTIONS = 100
MAX_OPTION_LENGTH = 100
MAX_FILTER_VALUES = 50
CHOICES = frozenset({CustomFieldType.SELECT, CustomFieldType.MULTI_SELECT})
ORDERED = frozenset({CustomFieldType.NUMBER, CustomFieldType.DATE})
SPOKEN = {CustomFieldEntity.CONTACT: "contacts", CustomFieldEntity.ACCOUNT: "accounts"}

Definitions = dict[str, CustomFieldDefinition]


# ---------------------------------------------------------------- reading


def definitions_queryset(access: Access, entity: CustomFieldEntity | None):
    """The root ``customFieldDefinitions``: every signed-in user reads them (front ends draw
    their forms from them), archived ones included, by entity then key."""
    query = access.rows(CustomFieldDefinition)
    if entity is not None:
        query = query.filter(entity=entity)
    return query.order_by("entity", "key", "id").limit(MAX_DEFINITIONS * len(CustomFieldEntity))


async def definitions_of(entity: CustomFieldEntity) -> Definitions:
    """Every definition of ``entity``, archived ones too, by key: one statement."""
    rows = await CustomFieldDefinition.filter(entity=entity).order_by("key")
    return {row.key: row for row in rows}


def check_values(
    problems: Problems,
    path: check.Path,
    value: Any,
    definitions: Definitions,
    entity: CustomFieldEntity,
    region: str,
    current: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``validation.custom_fields`` for ``entity``'s rows."""
    return check.custom_fields(problems, path, value, definitions, entity=SPOKEN[entity],
                               region=region, current=current)  # fmt: skip


# ---------------------------------------------------------------- mutations


def _check_options(
    problems: Problems, kind: CustomFieldType, options: list[str] | None
) -> list[str]:
    if kind not in CHOICES:
        if options:
            problems.add(ProblemCode.INVALID_FORMAT, "options",
                         f"Only SELECT and MULTI_SELECT fields have options, not {kind.value}.")
        return []
    if not options:
        problems.add(ProblemCode.REQUIRED, "options", f"A {kind.value} field needs its options.")
        return []
    if len(options) > MAX_OPTIONS:
        problems.add(ProblemCode.OUT_OF_RANGE, "options", f"At most {MAX_OPTIONS} options.")
        return []
    cleaned: list[str] = []
    for index, option in enumerate(options):
        item = check.text(problems, ("options", str(index)), option, MAX_OPTION_LENGTH,
                          required=True)  # fmt: skip
        if item is not None and item not in cleaned:
            cleaned.append(item)
    return cleaned


async def create_definition(access: Access, data: Any) -> CustomFieldDefinition:
    """createCustomFieldDefinition (admins and managers); the key is unique per entity,
    held by the unique index under concurrent requests."""
    access.require_supervisor("define custom fields")
    problems = Problems()
    key = check.text(problems, "key", data.key, 64, required=True)
    if key is not None and not KEY.match(key):
        problems.add(ProblemCode.INVALID_FORMAT, "key",
                     "A key starts with a letter and holds letters, digits and _ only "
                     "(at most 64).")  # fmt: skip
        key = None
    label = check.text(problems, "label", data.label, 120, required=True)
    options = _check_options(problems, data.type, data.options)
    if problems:
        raise Rejected(problems.items)
    entity = data.entity
    existing = await CustomFieldDefinition.filter(entity=entity).values_list("key", flat=True)
    if key in existing:
        raise _duplicate_key(entity, key)
    if len(existing) >= MAX_DEFINITIONS:
        raise Rejected.one(ProblemCode.OUT_OF_RANGE, "key",
                           f"At most {MAX_DEFINITIONS} custom fields for {SPOKEN[entity]}.")
    try:
        async with change(access.user) as unit:
            definition = await CustomFieldDefinition.create(
                entity=entity, key=key, label=label, type=data.type, options=options,
                required=bool(data.required), using_db=unit.connection,
            )  # fmt: skip
            await unit.record(AuditAction.CREATED, definition, definition.label,
                              audit.diff({}, audit.snapshot(definition, AUDITED_FIELDS)))
    except IntegrityError:
        raise _duplicate_key(entity, key) from None  # another request took the key meanwhile
    if connections.get("default").capabilities.dialect == "sqlite":
        create = sqlite_filter_index(entity, key, data.type)
        if create is not None:  # the list filter's index on this key (PostgreSQL: one GIN)
            await connections.get("default").execute_script(create)
    return definition


def _duplicate_key(entity: CustomFieldEntity, key: str) -> Rejected:
    return Rejected.one(ProblemCode.DUPLICATE_NAME, "key",
                        f"A custom field '{key}' is already defined for {SPOKEN[entity]}.")


async def update_definition(access: Access, data: Any) -> CustomFieldDefinition:
    """updateCustomFieldDefinition: label, options, required. Its key, entity and type stay
    (stored values were checked against them); options may grow or be reordered, and an
    option removed stays in the rows that hold it, which keep it until they change."""
    access.require_supervisor("change custom fields")
    problems = Problems()
    definition = await access.find(problems, CustomFieldDefinition, data.id, "id")
    if definition is None:
        raise Rejected(problems.items)
    values: dict[str, Any] = {}
    if check.given(data.label):
        values["label"] = check.text(problems, "label", data.label, 120, required=True)
    if check.given(data.options):
        values["options"] = _check_options(problems, definition.type, data.options)
    if check.given(data.required) and data.required is not None:
        values["required"] = data.required
    if problems:
        raise Rejected(problems.items)
    return await _save(access, definition, values)


async def archive_definition(access: Access, data: Any) -> CustomFieldDefinition:
    """archiveCustomFieldDefinition: rows keep their values and read them; writes that set
    or change them are refused from now on."""
    access.require_supervisor("archive custom fields")
    problems = Problems()
    definition = await access.find(problems, CustomFieldDefinition, data.id, "id")
    if definition is None:
        raise Rejected(problems.items)
    if definition.archived:
        raise Rejected.one(ProblemCode.ALREADY_IN_STATE, "id", "The custom field is archived.")
    return await _save(access, definition, {"archived": True})


async def _save(
    access: Access, definition: CustomFieldDefinition, values: dict[str, Any]
) -> CustomFieldDefinition:
    async with change(access.user) as unit:
        before = audit.snapshot(definition, AUDITED_FIELDS)
        for name, value in values.items():
            setattr(definition, name, value)
        await definition.save(update_fields=[*values, "updated_at"], using_db=unit.connection)
        changes = audit.diff(before, audit.snapshot(definition, AUDITED_FIELDS))
        await unit.record(AuditAction.UPDATED, definition, definition.label, changes)
    return definition


# ---------------------------------------------------------------- the list filter


class _Condition(Term):
    """A condition of raw SQL with parameters: ``parts`` alternate SQL text and values
    (``str`` is SQL, ``_Value`` a parameter)."""

    def __init__(self, *parts: Any) -> None:
        super().__init__()
        self.parts = parts

    def get_sql(self, ctx: Any) -> str:
        return "".join(
            part.get_sql(ctx) if isinstance(part, ValueWrapper) else part for part in self.parts
        )


async def custom_field_condition(entity: CustomFieldEntity, wanted: Any) -> Term | None:
    """The SQL condition of a list's ``customField`` filter (None without one): the key must
    be defined, the values are of its type (checked as a write checks them).

    PostgreSQL: ``equals`` and ``in`` are JSONB containment (``custom_fields @> '{"k": v}'``),
    answered by the GIN index ``idx_<table>_custom_fields``; ``gt``/``lt`` read
    ``custom_fields->>'k'`` as a number or an ISO date. SQLite: ``json_extract`` (and
    ``json_each`` for MULTI_SELECT), the first served by the key's expression index
    (``models.custom_fields.sqlite_filter_index``), the second by none."""
    if wanted is None:
        return None
    key = plain_text(wanted.key, "filter")
    definition = (await definitions_of(entity)).get(key)
    if definition is None or not KEY.match(key):
        raise BadInput(f"`filter.customField.key`: no custom field '{key[:64]}' is defined for "
                       f"{SPOKEN[entity]}.", argument="filter")  # fmt: skip
    kind = definition.type
    sent = {name: getattr(wanted, name) for name in ("equals", "in_", "gt", "lt")
            if getattr(wanted, name) is not None}  # fmt: skip
    if not sent:
        raise BadInput("`filter.customField`: give equals, in, gt or lt.", argument="filter")
    if ("gt" in sent or "lt" in sent) and kind not in ORDERED:
        raise BadInput(f"`filter.customField`: gt and lt compare NUMBER and DATE fields; "
                       f"'{key}' is {kind.value}.", argument="filter")  # fmt: skip
    values = sent.get("in_") or []
    if len(values) > MAX_FILTER_VALUES:
        raise BadInput(f"`filter.customField.in`: at most {MAX_FILTER_VALUES} values.",
                       argument="filter")  # fmt: skip

    def typed(value: Any, name: str) -> Any:
        problems = Problems()
        # A MULTI_SELECT row matches when its list holds the value: one option is asked.
        rule = _AsSelect(definition) if kind == CustomFieldType.MULTI_SELECT else definition
        checked = check.custom_value(problems, ("filter",), rule, value, check.region_of())
        if problems:
            raise BadInput(f"`filter.customField.{name}`: {problems.items[0].message}",
                           argument="filter")  # fmt: skip
        return checked

    postgres = connections.get("default").capabilities.dialect == "postgres"
    table = ENTITIES["Contact" if entity == CustomFieldEntity.CONTACT else "Account"].table
    column = f'"{table}"."custom_fields"'
    conditions: list[tuple[Any, ...]] = []
    choices = []
    if "equals" in sent:
        choices.append(typed(sent["equals"], "equals"))
    if "in_" in sent:
        in_values = [typed(value, "in") for value in values]
        conditions.append(_any_of(postgres, column, key, kind, in_values))
    if choices:
        conditions.append(_any_of(postgres, column, key, kind, choices))
    for name, operator in (("gt", ">"), ("lt", "<")):
        if name in sent:
            bound = typed(sent[name], name)
            conditions.append(_ordered(postgres, column, key, kind, operator, bound))
    parts: list[Any] = ["("]
    for index, condition in enumerate(conditions):
        parts += [" AND "] if index else []
        parts += condition
    return _Condition(*parts, ")")


class _AsSelect:
    """A MULTI_SELECT definition read as a SELECT: what one filter value is checked as."""

    def __init__(self, definition: CustomFieldDefinition) -> None:
        self.key, self.label, self.options = definition.key, definition.label, definition.options
        self.type, self.required, self.archived = CustomFieldType.SELECT, False, False


def _any_of(
    postgres: bool, column: str, key: str, kind: CustomFieldType, values: list[Any]
) -> tuple[Any, ...]:
    if not values:
        return ("FALSE" if postgres else "0",)
    many = kind == CustomFieldType.MULTI_SELECT
    parts: list[Any] = ["("]
    for index, value in enumerate(values):
        parts += [" OR "] if index else []
        if postgres:
            contained = json.dumps({key: [value] if many else value})
            parts += [f"{column} @> CAST(CAST(", ValueWrapper(contained), " AS text) AS jsonb)"]
        elif many:
            parts += [f"EXISTS (SELECT 1 FROM json_each({column}, '$.{key}') WHERE value = ",
                      ValueWrapper(value), ")"]  # fmt: skip
        else:
            stored = int(value) if isinstance(value, bool) else value
            parts += [f"json_extract({column}, '$.{key}') = ", ValueWrapper(stored)]
    return (*parts, ")")


def _ordered(
    postgres: bool, column: str, key: str, kind: CustomFieldType, operator: str, bound: Any
) -> tuple[Any, ...]:
    number = kind == CustomFieldType.NUMBER
    if postgres:
        if number:
            return (f"(CASE WHEN jsonb_typeof({column} -> '{key}') = 'number' THEN CAST("
                    f"{column} ->> '{key}' AS numeric) END) {operator} CAST(CAST(",
                    ValueWrapper(str(bound)), " AS text) AS numeric)")  # fmt: skip
        return (f'({column} ->> \'{key}\') COLLATE "C" {operator} CAST(', ValueWrapper(bound),
                " AS text)")  # fmt: skip
    types = "'integer', 'real'" if number else "'text'"
    return (f"(json_type({column}, '$.{key}') IN ({types}) AND json_extract({column}, "
            f"'$.{key}') {operator} ", ValueWrapper(bound), ")")  # fmt: skip


def with_custom_field(query: QuerySet, condition: Term | None) -> QuerySet:
    """``query`` narrowed by a ``custom_field_condition``."""
    if condition is None:
        return query
    return query.annotate(_custom_field=condition).filter(_custom_field=True)
