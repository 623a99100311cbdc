"""The schema of the release before migrations (26d5e2a): Tortoise's tables and indexes, and
the partial unique indexes and extra indexes that release added by SQL at start-up.

The SQLite search/tag side tables and the PostgreSQL GIN/trigram indexes are not here: they
depend on what the database offers (FTS5 trigrams, pg_trgm) and stay start-up steps
(models/db.py).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import ActivityKind, ActivityStatus, AuditAction, CallDirection, CaptureSource, ChannelKind, ContactRole, DocumentType, LeadSource, LocationKind, RecordStatus, Role
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Team',
            fields=[
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('search_text', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'team', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=150)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('role', fields.CharEnumField(description='ADMIN: ADMIN\nMANAGER: MANAGER\nAGENT: AGENT\nPARTNER: PARTNER', enum_type=Role, max_length=16)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', null=True, db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.SET_NULL)),
                ('is_active', fields.BooleanField(default=True)),
                ('search_text', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'crm_user', 'app': 'models', 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Account',
            fields=[
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(db_index=True, max_length=200)),
                ('legal_name', fields.CharField(null=True, max_length=200)),
                ('tax_id', fields.CharField(null=True, db_index=True, max_length=32)),
                ('industry', fields.CharField(null=True, max_length=100)),
                ('website', fields.CharField(null=True, max_length=255)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('phone', fields.CharField(null=True, max_length=40)),
                ('is_vip', fields.BooleanField(default=False, db_index=True)),
                ('status', fields.CharEnumField(default=RecordStatus.ACTIVE, description='ACTIVE: ACTIVE\nINACTIVE: INACTIVE', enum_type=RecordStatus, max_length=16)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name='owned_accounts', on_delete=OnDelete.SET_NULL)),
                ('tags', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('custom_fields', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('search_text', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'account', 'app': 'models', 'indexes': [Index(fields=['status', 'name', 'id'])], 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='api_tokens', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('secret_hash', fields.CharField(unique=True, max_length=64)),
                ('scopes', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('allowed_fields', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'api_token', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('action', fields.CharEnumField(description='CREATED: CREATED\nUPDATED: UPDATED\nACTIVATED: ACTIVATED\nDEACTIVATED: DEACTIVATED\nDELETED: DELETED\nMERGED: MERGED\nIMPORTED: IMPORTED', enum_type=AuditAction, max_length=16)),
                ('resource_type', fields.CharField(max_length=32)),
                ('resource_id', fields.IntField()),
                ('resource_name', fields.CharField(max_length=255)),
                ('actor', fields.ForeignKeyField('models.User', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name='audit_events', on_delete=OnDelete.SET_NULL)),
                ('actor_name', fields.CharField(default='', max_length=150)),
                ('occurred_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('changes', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('search_text', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'audit_event', 'app': 'models', 'indexes': [Index(fields=['resource_type', 'resource_id', 'occurred_at']), Index(fields=['action', 'occurred_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Location',
            fields=[
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='locations', on_delete=OnDelete.CASCADE)),
                ('contact_id', fields.IntField(null=True)),
                ('kind', fields.CharEnumField(description='MAIN: MAIN\nOUTLET: OUTLET\nBRANCH: BRANCH\nWAREHOUSE: WAREHOUSE\nSHIPPING: SHIPPING\nBILLING: BILLING\nHOME: HOME\nOTHER: OTHER', enum_type=LocationKind, max_length=16)),
                ('name', fields.CharField(max_length=200)),
                ('street', fields.CharField(null=True, max_length=255)),
                ('exterior_number', fields.CharField(null=True, max_length=20)),
                ('interior_number', fields.CharField(null=True, max_length=20)),
                ('neighborhood', fields.CharField(null=True, max_length=120)),
                ('district', fields.CharField(null=True, max_length=120)),
                ('city', fields.CharField(null=True, max_length=120)),
                ('province', fields.CharField(null=True, max_length=120)),
                ('state', fields.CharField(null=True, max_length=120)),
                ('country', fields.CharField(null=True, max_length=2)),
                ('postal_code', fields.CharField(null=True, max_length=12)),
                ('reference', fields.CharField(null=True, max_length=255)),
                ('is_default', fields.BooleanField(default=False)),
                ('search_text', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'location', 'app': 'models', 'indexes': [Index(fields=['account_id', 'kind']), Index(fields=['contact_id', 'kind'])], 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Contact',
            fields=[
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='contacts', on_delete=OnDelete.RESTRICT)),
                ('location', fields.ForeignKeyField('models.Location', source_field='location_id', db_constraint=True, to_field='id', related_name='contacts', on_delete=OnDelete.RESTRICT)),
                ('salutation', fields.CharField(null=True, max_length=20)),
                ('first_name', fields.CharField(max_length=100)),
                ('last_name', fields.CharField(max_length=100)),
                ('job_title', fields.CharField(null=True, max_length=120)),
                ('role', fields.CharEnumField(null=True, description='BUYER: BUYER\nOWNER: OWNER\nMANAGER: MANAGER\nACCOUNTING: ACCOUNTING\nRECEPTION: RECEPTION\nOTHER: OTHER', enum_type=ContactRole, max_length=16)),
                ('home_phone', fields.CharField(null=True, max_length=40)),
                ('birthday', fields.DateField(null=True)),
                ('image_url', fields.CharField(null=True, max_length=500)),
                ('document_type', fields.CharEnumField(null=True, description='DNI: DNI\nRUC: RUC\nPASSPORT: PASSPORT\nFOREIGN_ID: FOREIGN_ID\nOTHER: OTHER', enum_type=DocumentType, max_length=16)),
                ('document_number', fields.CharField(null=True, max_length=32)),
                ('is_vip', fields.BooleanField(default=False)),
                ('is_preferred', fields.BooleanField(default=False)),
                ('portal_user', fields.BooleanField(default=False)),
                ('email_opt_out', fields.BooleanField(default=False)),
                ('lead_source', fields.CharEnumField(null=True, description='COLD_CALL: COLD_CALL\nEXISTING_CUSTOMER: EXISTING_CUSTOMER\nSELF_GENERATED: SELF_GENERATED\nEMPLOYEE: EMPLOYEE\nPARTNER: PARTNER\nPUBLIC_RELATIONS: PUBLIC_RELATIONS\nDIRECT_MAIL: DIRECT_MAIL\nCONFERENCE: CONFERENCE\nTRADE_SHOW: TRADE_SHOW\nWEB_SITE: WEB_SITE\nWORD_OF_MOUTH: WORD_OF_MOUTH\nOTHER: OTHER', enum_type=LeadSource, max_length=24)),
                ('capture_source', fields.CharEnumField(default=CaptureSource.MANUAL, description='MANUAL: MANUAL\nIMPORT: IMPORT\nWEB_FORM: WEB_FORM\nAPI: API\nDUPLICATE: DUPLICATE\nMERGE: MERGE', enum_type=CaptureSource, max_length=16)),
                ('converted_from_lead', fields.BooleanField(default=False)),
                ('status', fields.CharEnumField(default=RecordStatus.ACTIVE, description='ACTIVE: ACTIVE\nINACTIVE: INACTIVE', enum_type=RecordStatus, max_length=16)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name='owned_contacts', on_delete=OnDelete.SET_NULL)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='created_contacts', on_delete=OnDelete.SET_NULL)),
                ('default_shipping_address', fields.ForeignKeyField('models.Location', source_field='default_shipping_address_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('tags', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('custom_fields', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('search_text', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'contact', 'app': 'models', 'unique_together': (('document_type', 'document_number'),), 'indexes': [Index(fields=['status', 'last_name', 'first_name', 'id']), Index(fields=['status', 'first_name', 'last_name', 'id']), Index(fields=['status', 'created_at', 'id']), Index(fields=['status', 'updated_at', 'id']), Index(fields=['account_id', 'status', 'last_name', 'first_name', 'id']), Index(fields=['location_id', 'status', 'last_name', 'first_name', 'id']), Index(fields=['owner_id', 'status']), Index(fields=['role', 'status', 'is_vip']), Index(fields=['is_vip', 'status']), Index(fields=['is_preferred', 'status']), Index(fields=['lead_source', 'status'])], 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Activity',
            fields=[
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='CALL: CALL\nMEETING: MEETING\nTASK: TASK\nNOTE: NOTE\nEMAIL: EMAIL', enum_type=ActivityKind, max_length=16)),
                ('subject', fields.CharField(max_length=200)),
                ('body', fields.TextField(null=True, unique=False)),
                ('status', fields.CharEnumField(null=True, description='PLANNED: PLANNED\nHELD: HELD\nNOT_HELD: NOT_HELD\nNOT_STARTED: NOT_STARTED\nIN_PROGRESS: IN_PROGRESS\nCOMPLETED: COMPLETED\nCANCELLED: CANCELLED', enum_type=ActivityStatus, max_length=16)),
                ('starts_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('duration_seconds', fields.IntField(null=True)),
                ('call_direction', fields.CharEnumField(null=True, description='INBOUND: INBOUND\nOUTBOUND: OUTBOUND\nMISSED: MISSED', enum_type=CallDirection, max_length=16)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.RESTRICT)),
                ('location', fields.ForeignKeyField('models.Location', source_field='location_id', null=True, db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.SET_NULL)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', null=True, db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.RESTRICT)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.SET_NULL)),
                ('search_text', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'activity', 'app': 'models', 'indexes': [Index(fields=['contact_id', 'created_at', 'id']), Index(fields=['account_id', 'created_at', 'id']), Index(fields=['location_id', 'created_at', 'id']), Index(fields=['kind', 'status'])], 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='Channel',
            fields=[
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', db_constraint=True, to_field='id', related_name='channels', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='EMAIL: EMAIL\nPHONE: PHONE\nMOBILE: MOBILE\nWHATSAPP: WHATSAPP\nTELEGRAM: TELEGRAM\nSMS: SMS\nCHAT: CHAT\nOTHER: OTHER', enum_type=ChannelKind, max_length=16)),
                ('value', fields.CharField(max_length=254)),
                ('normalized', fields.CharField(db_index=True, max_length=254)),
                ('label', fields.CharField(null=True, max_length=60)),
                ('is_primary', fields.BooleanField(default=False)),
                ('contact_active', fields.BooleanField(default=True)),
            ],
            options={'table': 'channel', 'app': 'models', 'indexes': [Index(fields=['contact_id', 'kind', 'created_at'])], 'pk_attr': 'id'},
            bases=['TimestampedModel'],
        ),
        # Rules the database holds (partial unique indexes, on SQLite and PostgreSQL alike).
        ops.RunSQL(
            [
                # One MAIN location per account.
                'CREATE UNIQUE INDEX "uq_location_main" ON "location" ("account_id") '
                "WHERE \"kind\" = 'MAIN'",
                # Rule 1: one preferred contact per location.
                'CREATE UNIQUE INDEX "uq_contact_preferred" ON "contact" ("location_id") '
                'WHERE "is_preferred"',
                # Rule 3: one primary channel per kind and contact.
                'CREATE UNIQUE INDEX "uq_channel_primary" ON "channel" ("contact_id", "kind") '
                'WHERE "is_primary"',
                # Rule 4: an email address belongs to at most one active contact.
                'CREATE UNIQUE INDEX "uq_channel_active_email" ON "channel" ("normalized") '
                'WHERE "kind" = \'EMAIL\' AND "contact_active"',
                # Rule 8 narrows every read of an agent to the accounts their team owns.
                'CREATE INDEX "idx_account_owner" ON "account" ("owner_id", "id")',
                'CREATE INDEX "idx_user_team" ON "crm_user" ("team_id")',
            ],
            reverse_sql=[
                f'DROP INDEX "{name}"'
                for name in (
                    "uq_location_main",
                    "uq_contact_preferred",
                    "uq_channel_primary",
                    "uq_channel_active_email",
                    "idx_account_owner",
                    "idx_user_team",
                )
            ],
        ),
    ]
