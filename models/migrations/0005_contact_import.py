from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import ImportStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_idempotency')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ContactImport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('status', fields.CharEnumField(default=ImportStatus.RUNNING, description='RUNNING: RUNNING\nSUCCEEDED: SUCCEEDED\nFAILED: FAILED', enum_type=ImportStatus, max_length=16)),
                ('dry_run', fields.BooleanField(default=False)),
                ('file_name', fields.CharField(max_length=255)),
                ('rows_total', fields.IntField(default=0)),
                ('rows_processed', fields.IntField(default=0)),
                ('created', fields.IntField(default=0)),
                ('updated', fields.IntField(default=0)),
                ('unchanged', fields.IntField(default=0)),
                ('skipped', fields.IntField(default=0)),
                ('row_error_count', fields.IntField(default=0)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='contact_imports', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'contact_import', 'app': 'models', 'indexes': [Index(fields=['created_by_id', 'started_at']), Index(fields=['started_at', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ImportRowError',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contact_import', fields.ForeignKeyField('models.ContactImport', source_field='contact_import_id', db_constraint=True, to_field='id', related_name='row_errors', on_delete=OnDelete.CASCADE)),
                ('row_number', fields.IntField()),
                ('field', fields.CharField(null=True, max_length=255)),
                ('code', fields.CharField(max_length=32)),
                ('message', fields.CharField(max_length=500)),
            ],
            options={'table': 'import_row_error', 'app': 'models', 'indexes': [Index(fields=['contact_import_id', 'row_number', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
