"""Account.tag_keys and Contact.tag_keys: each row's tags folded (lower case, no accents),
in the order of ``tags``, what the tag filter compares (``tag: "vip"`` finds ``VIP``,
``"credito"`` finds ``Crédito``); filled here for the rows stored before.

The column is added with SQL of its own: Tortoise's ``AddField`` writes ``NOT NULL`` without
a default, which SQLite refuses on a table with rows. Frozen with the migration: the folding
here is its own copy of ``models.base.fold``.
"""

import json
import unicodedata

from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.data import JSON_DUMPS
from tortoise.migrations import operations as ops

TABLES = ("account", "contact")
BATCH = 1000


def _fold(text):
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def _keys(tags):
    keys = []
    for tag in tags if isinstance(tags, list) else []:
        key = _fold(tag) if isinstance(tag, str) else None
        if key and key not in keys:
            keys.append(key)
    return keys


class AddFieldState(ops.AddField):
    """An AddField of the recorded state only: ``add_columns`` makes the column."""

    async def database_forward(self, *args, **kwargs) -> None:
        return None

    async def database_backward(self, *args, **kwargs) -> None:
        return None


async def add_columns(apps, schema_editor) -> None:
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    kind = "JSONB" if postgres else "JSON"
    mark = (lambda n: f"${n}") if postgres else (lambda n: "?")
    for table in TABLES:
        await client.execute_script(
            f'ALTER TABLE "{table}" ADD COLUMN "tag_keys" {kind} NOT NULL DEFAULT \'[]\''
        )
        last = 0
        while True:
            rows = await client.execute_query_dict(
                f'SELECT "id", "tags" FROM "{table}" WHERE "id" > {mark(1)} '
                f'AND "tags" IS NOT NULL ORDER BY "id" LIMIT {BATCH}', [last],
            )  # fmt: skip
            if not rows:
                break
            changes = []
            for row in rows:
                tags = row["tags"]
                keys = _keys(json.loads(tags) if isinstance(tags, str) else tags)
                if keys:
                    changes.append([json.dumps(keys), row["id"]])
            if changes:
                cast = "::text::jsonb" if postgres else ""
                await client.execute_many(
                    f'UPDATE "{table}" SET "tag_keys" = {mark(1)}{cast} WHERE "id" = {mark(2)}',
                    changes,
                )
            last = rows[-1]["id"]


async def drop_columns(apps, schema_editor) -> None:
    for table in TABLES:
        await schema_editor.client.execute_script(f'ALTER TABLE "{table}" DROP COLUMN "tag_keys"')


class Migration(migrations.Migration):
    dependencies = [('models', '0007_records')]

    initial = False

    operations = [
        AddFieldState(
            model_name='Account',
            name='tag_keys',
            field=fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads),
        ),
        AddFieldState(
            model_name='Contact',
            name='tag_keys',
            field=fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.RunPython(add_columns, drop_columns),
    ]
