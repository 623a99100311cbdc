"""A contact's default addresses held by the database: one default per kind among a
contact's own addresses (a partial unique index both dialects honour), and
``contact.default_shipping_address_id`` pointing at its default ``SHIPPING`` address.

Rows stored before are put right first: where a contact points at one of its own shipping
addresses, that one is the default; of two defaults of one kind the oldest stays; then
every contact's pointer is its default shipping address, or null.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

OWN_SHIPPING_POINTED_AT = (
    'SELECT c."default_shipping_address_id" FROM "contact" c '
    'JOIN "location" l ON l."id" = c."default_shipping_address_id" '
    "WHERE l.\"contact_id\" = c.\"id\" AND l.\"kind\" = 'SHIPPING'"
)


class Migration(migrations.Migration):
    dependencies = [('models', '0006_document')]

    initial = False

    operations = [
        ops.RunSQL(
            [
                # The address a contact points at wins over its other shipping defaults.
                'UPDATE "location" SET "is_default" = FALSE '
                "WHERE \"kind\" = 'SHIPPING' AND \"is_default\" AND \"contact_id\" IN ("
                'SELECT l."contact_id" FROM "location" l '
                f'WHERE l."id" IN ({OWN_SHIPPING_POINTED_AT})) '
                f'AND "id" NOT IN ({OWN_SHIPPING_POINTED_AT})',
                f'UPDATE "location" SET "is_default" = TRUE WHERE "id" IN ({OWN_SHIPPING_POINTED_AT})',
                # Of two defaults of one kind of a contact, the oldest stays.
                'UPDATE "location" SET "is_default" = FALSE '
                'WHERE "contact_id" IS NOT NULL AND "is_default" AND "id" NOT IN ('
                'SELECT MIN("id") FROM "location" WHERE "contact_id" IS NOT NULL AND "is_default" '
                'GROUP BY "contact_id", "kind")',
                'UPDATE "contact" SET "default_shipping_address_id" = ('
                'SELECT l."id" FROM "location" l WHERE l."contact_id" = "contact"."id" '
                "AND l.\"kind\" = 'SHIPPING' AND l.\"is_default\")",
                # One default per kind among a contact's own addresses.
                'CREATE UNIQUE INDEX "uq_location_contact_default" ON "location" '
                '("contact_id", "kind") WHERE "is_default" AND "contact_id" IS NOT NULL',
            ],
            reverse_sql=['DROP INDEX "uq_location_contact_default"'],
        ),
    ]
