from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import CustomFieldEntity, CustomFieldType
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_tag_keys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CustomFieldDefinition',
            fields=[
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('entity', fields.CharEnumField(description='ACCOUNT: ACCOUNT\nCONTACT: CONTACT', enum_type=CustomFieldEntity, max_length=16)),
                ('key', fields.CharField(max_length=64)),
                ('label', fields.CharField(max_length=120)),
                ('type', fields.CharEnumField(description='TEXT: TEXT\nNUMBER: NUMBER\nDATE: DATE\nBOOLEAN: BOOLEAN\nSELECT: SELECT\nMULTI_SELECT: MULTI_SELECT\nURL: URL\nEMAIL: EMAIL\nPHONE: PHONE', enum_type=CustomFieldType, max_length=16)),
                ('options', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('required', fields.BooleanField(default=False)),
                ('archived', fields.BooleanField(default=False)),
            ],
            options={'table': 'custom_field_definition', 'app': 'models', 'unique_together': (('entity', 'key'),), 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
    ]
