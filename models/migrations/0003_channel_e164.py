"""Channel.e164: phone-like channels' numbers in E.164, computed for the channels stored
before, with the region rule of the write paths (the contact's location's country, else its
account's main location's, else the server's default region); ``normalized`` becomes the
E.164 digits. Values that are not a valid number of their region keep ``e164`` null and their
old ``normalized``: the log names them (a summary line, then one line each, capped), and the
migration goes on. The documents gain CE, RFC and CURP (only the enum's description).

Frozen with the migration: the parsing here is its own copy of ``models.canonical``'s.
"""

import logging

import phonenumbers
from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from models.canonical import DEFAULT_REGION
from models.enums import DocumentType

log = logging.getLogger("crm.db")

PHONE_KINDS = ("PHONE", "MOBILE", "WHATSAPP", "SMS")
BATCH = 1000
LOGGED_VALUES = 50  # unreadable values named one a line; the rest counted


def _e164(value, region):
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    national = str(number.national_number)
    if number.country_code == 52 and len(national) == 11 and national.startswith("1"):
        number = phonenumbers.PhoneNumber(country_code=52, national_number=int(national[1:]))
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class AlterFieldState(ops.AlterField):
    """An AlterField of the recorded state only: a CharEnumField's description is in no SQL
    of either dialect, and Tortoise's SQLite editor would rebuild the whole contact table for
    it (losing its partial indexes; the foreign keys refuse the drop)."""

    async def database_forward(self, *args, **kwargs) -> None:
        return None

    async def database_backward(self, *args, **kwargs) -> None:
        return None


async def compute_e164(apps, schema_editor) -> None:
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    mark = (lambda n: f"${n}") if postgres else (lambda n: "?")
    kinds = ", ".join(f"'{kind}'" for kind in PHONE_KINDS)
    # Each channel with its contact's site's country and the account's main site's.
    select = (
        'SELECT ch."id", ch."value", site."country" AS "site", main."country" AS "main" '
        'FROM "channel" ch JOIN "contact" c ON c."id" = ch."contact_id" '
        'LEFT JOIN "location" site ON site."id" = c."location_id" '
        'LEFT JOIN "location" main ON main."account_id" = c."account_id" AND main."kind" = \'MAIN\' '
        f'WHERE ch."kind" IN ({kinds}) AND ch."id" > {mark(1)} ORDER BY ch."id" LIMIT {BATCH}'
    )
    update = (f'UPDATE "channel" SET "e164" = {mark(1)}, "normalized" = {mark(2)} '
              f'WHERE "id" = {mark(3)}')
    default = DEFAULT_REGION.get()
    last, total, unreadable = 0, 0, []
    while True:
        rows = await client.execute_query_dict(select, [last])
        if not rows:
            break
        seen, changes = set(), []
        for row in rows:
            if row["id"] in seen:  # an account with two MAIN sites: the first one counts
                continue
            seen.add(row["id"])
            total += 1
            region = row["site"] or row["main"] or default
            number = _e164(row["value"], region)
            if number is None:
                unreadable.append((row["id"], row["value"], region))
            else:
                changes.append([number, number[1:], row["id"]])
        if changes:
            await client.execute_many(update, changes)
        last = rows[-1]["id"]
    log.info(
        "0003_channel_e164: %d phone-like channels, %d read into E.164, %d not valid numbers "
        "of their region (e164 left null)", total, total - len(unreadable), len(unreadable),
    )
    for channel_id, value, region in unreadable[:LOGGED_VALUES]:
        log.warning("0003_channel_e164: channel %d: %r is not a valid number of %s",
                    channel_id, value, region)
    if len(unreadable) > LOGGED_VALUES:
        log.warning("0003_channel_e164: and %d more not named here",
                    len(unreadable) - LOGGED_VALUES)

class Migration(migrations.Migration):
    dependencies = [('models', '0002_outbox')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Channel',
            name='e164',
            field=fields.CharField(null=True, max_length=16),
        ),
        AlterFieldState(
            model_name='Contact',
            name='document_type',
            field=fields.CharEnumField(null=True, description='DNI: DNI\nRUC: RUC\nPASSPORT: PASSPORT\nFOREIGN_ID: FOREIGN_ID\nCE: CE\nRFC: RFC\nCURP: CURP\nOTHER: OTHER', enum_type=DocumentType, max_length=16),
        ),
        ops.RunPython(compute_e164, ops.RunPython.noop),
    ]
