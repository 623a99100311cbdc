"""Contact imports: one record per imported file, and the errors of its rows."""

from tortoise import fields
from tortoise.models import Model

from models.enums import ImportStatus


class ContactImport(Model):
    id = fields.IntField(primary_key=True)
    status = fields.CharEnumField(ImportStatus, max_length=16, default=ImportStatus.RUNNING)
    dry_run = fields.BooleanField(default=False)
    file_name = fields.CharField(max_length=255)
    rows_total = fields.IntField(default=0)
    rows_processed = fields.IntField(default=0)
    created = fields.IntField(default=0)
    updated = fields.IntField(default=0)
    unchanged = fields.IntField(default=0)
    skipped = fields.IntField(default=0)
    row_error_count = fields.IntField(default=0)
    started_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)
    created_by = fields.ForeignKeyField(
        "models.User", related_name="contact_imports", null=True, on_delete=fields.SET_NULL
    )

    created_by_id: int | None

    class Meta:
        table = "contact_import"
        indexes = (("created_by_id", "started_at"), ("started_at", "id"))


class ImportRowError(Model):
    id = fields.IntField(primary_key=True)
    contact_import = fields.ForeignKeyField(
        "models.ContactImport", related_name="row_errors", on_delete=fields.CASCADE
    )
    # The row as a spreadsheet numbers it (the header is row 1): ``ImportRowError.row``.
    row_number = fields.IntField()
    # The column's header as written in the file; null for a problem of the whole row.
    field = fields.CharField(max_length=255, null=True)
    code = fields.CharField(max_length=32)
    message = fields.CharField(max_length=500)

    contact_import_id: int

    class Meta:
        table = "import_row_error"
        indexes = (("contact_import_id", "row_number", "id"),)
