from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import DocumentKind, ReviewStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_contact_import')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Document',
            fields=[
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=255)),
                ('kind', fields.CharEnumField(description='CONTRACT: CONTRACT\nID_CARD: ID_CARD\nINVOICE: INVOICE\nPROOF_OF_ADDRESS: PROOF_OF_ADDRESS\nPHOTO: PHOTO\nOTHER: OTHER', enum_type=DocumentKind, max_length=24)),
                ('content_type', fields.CharField(max_length=127)),
                ('byte_size', fields.BigIntField()),
                ('sha256', fields.CharField(db_index=True, max_length=64)),
                ('review_status', fields.CharEnumField(default=ReviewStatus.PENDING, description='PENDING: PENDING\nVALID: VALID\nREJECTED: REJECTED', enum_type=ReviewStatus, max_length=16)),
                ('review_note', fields.TextField(null=True, unique=False)),
                ('reviewed_by', fields.ForeignKeyField('models.User', source_field='reviewed_by_id', null=True, db_constraint=True, to_field='id', related_name='reviewed_documents', on_delete=OnDelete.SET_NULL)),
                ('reviewed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('uploaded_by', fields.ForeignKeyField('models.User', source_field='uploaded_by_id', null=True, db_constraint=True, to_field='id', related_name='uploaded_documents', on_delete=OnDelete.SET_NULL)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='documents', on_delete=OnDelete.RESTRICT)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', null=True, db_constraint=True, to_field='id', related_name='documents', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'document', 'app': 'models', 'indexes': [Index(fields=['contact_id', 'created_at', 'id']), Index(fields=['account_id', 'created_at', 'id'])], 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
    ]
