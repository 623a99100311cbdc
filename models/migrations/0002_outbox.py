from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import AuditAction
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Outbox',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('action', fields.CharEnumField(description='CREATED: CREATED\nUPDATED: UPDATED\nACTIVATED: ACTIVATED\nDEACTIVATED: DEACTIVATED\nDELETED: DELETED\nMERGED: MERGED\nIMPORTED: IMPORTED', enum_type=AuditAction, max_length=16)),
                ('resource_type', fields.CharField(max_length=32)),
                ('resource_id', fields.IntField()),
                ('account_id', fields.IntField(null=True)),
                ('actor_id', fields.IntField(null=True)),
                ('audit_event', fields.ForeignKeyField('models.AuditEvent', source_field='audit_event_id', db_constraint=True, to_field='id', related_name='outbox_rows', on_delete=OnDelete.CASCADE)),
                ('payload', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'outbox', 'app': 'models', 'indexes': [Index(fields=['account_id', 'id']), Index(fields=['resource_type', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
