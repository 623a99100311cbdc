"""Contact imports: the ``ContactImport`` node, its row errors, the root ``imports`` list and
the ``importContacts`` mutation (a GraphQL multipart request carrying the file)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.file_uploads import Upload

from engine.connection import After, Before, Connection, First, Last, OrderDirection, page_args
from engine.relations import pages, related
from engine.types import GraphInfo, Node, RowType, documented_enum
from models import enums
from models.registry import ENTITIES, Area
from resolvers import importing
from resolvers import imports as work
from resolvers.errors import Rejected
from resolvers.imports import IMPORT_ORDER_KEYS
from resolvers.listing import ordering
from schema.common import sort_keys
from schema.errors import UserError, UserErrorCode, user_errors
from schema.inputs import plain

if TYPE_CHECKING:
    from schema.users import User

field = strawberry.field

UserRef = Annotated["User", strawberry.lazy("schema.users")]

ImportStatus = documented_enum(
    enums.ImportStatus,
    "Where an import stands.",
    {
        "RUNNING": "Rows are being read and written; `rowsProcessed` grows as it goes.",
        "SUCCEEDED": "Every row was read: written, skipped or reported in `rowErrors`.",
        "FAILED": "The import stopped part-way on a server error; the rows counted were kept.",
    },
)

OnMatch = documented_enum(
    enums.OnMatch,
    "What an import does with a row that matches an existing contact.",
    {
        "UPDATE": "Update the contact with the row's columns (only those the file has).",
        "SKIP": "Leave the contact as it is and count the row as skipped.",
    },
)


@strawberry.type(description="A problem with one row of an imported file; the row was not written.")
class ImportRowError(RowType, Node, entity=ENTITIES["ImportRowError"]):
    row_number: int = strawberry.field(
        name="row", description="The row as a spreadsheet numbers it: the header is row 1."
    )
    field: str | None = strawberry.field(
        description="The column's header as written in the file; null for the whole row."
    )
    code: UserErrorCode = strawberry.field(description="Machine-readable reason.")
    message: str = strawberry.field(description="Human-readable explanation.")


@strawberry.type(description="One imported file: its progress, its counts and its row errors.")
class ContactImport(RowType, Node, entity=ENTITIES["ContactImport"]):
    status: ImportStatus = field(description="Running, succeeded or failed.")
    dry_run: bool = field(description="A rehearsal: counted and checked, nothing written.")
    file_name: str = field(description="The uploaded file's name.")
    rows_total: int = field(description="Data rows in the file (the header not counted).")
    rows_processed: int = field(
        description="Rows read so far; equal to `rowsTotal` once the import has finished."
    )
    created: int = field(description="Contacts created (in a dry run: that would be).")
    updated: int = field(description="Contacts updated (in a dry run: that would be).")
    unchanged: int = field(description="Rows matching a contact that already holds their values.")
    skipped: int = field(description="Rows matching a contact, left alone (`onMatch: SKIP`).")
    started_at: datetime = field(description="When the import started.")
    finished_at: datetime | None = field(description="When it finished; null while running.")
    created_by: UserRef | None = related("created_by_id", "User", description="Who ran the import.")
    row_errors: Connection[ImportRowError] = pages(
        work.row_errors_pages_of,
        "ImportRowError",
        description="The rows that were not written and why, in row order.",
    )


class ContactImportOrderField(Enum):
    STARTED_AT = "STARTED_AT"


documented_enum(
    ContactImportOrderField,
    "What imports can be sorted by; ties break on the import's creation order.",
    {"STARTED_AT": "When the import started."},
)
assert {f.value for f in ContactImportOrderField} == IMPORT_ORDER_KEYS.keys()


@strawberry.input(description="One sort key of the import list.")
class ContactImportOrder:
    field: ContactImportOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.DESC, description="Descending (default: newest first) or ascending."
    )


@strawberry.input(description="Which imports to list.")
class ContactImportFilter:
    status: ImportStatus | None = field(default=None, description="Only imports in this state.")
    dry_run: bool | None = field(
        default=None, description="Only dry runs (true) or only real imports (false)."
    )
    created_by_id: strawberry.ID | None = field(
        default=None, description="Only the imports this user ran."
    )
    started_after: datetime | None = field(default=None, description="Started at or after.")
    started_before: datetime | None = field(default=None, description="Started before.")


@strawberry.input(description="A file of contacts to import, and how to treat its rows.")
class ImportContactsInput:
    file: Upload = field(
        description="The file (GraphQL multipart request): CSV (UTF-8 with or without BOM, "
        "or Windows-1252; `,`, `;` or tab separated) or XLSX (its first sheet)."
    )
    dry_run: bool = field(
        default=False,
        description="Check and count every row as a real import would, writing no contact: "
        "only the import's record, marked as a dry run.",
    )
    on_match: OnMatch = field(
        default=enums.OnMatch.UPDATE,
        description="A row matching an existing contact (by contactNo, else email, else "
        "document type and number): update it, or skip it.",
    )
    create_accounts: bool = field(
        default=False,
        description="Create the accounts the rows name that do not exist (once per name); "
        "otherwise such a row is an error.",
    )
    owner_id: strawberry.ID | None = field(
        default=None,
        description="The user who owns the accounts the import creates and every contact it "
        "writes; default: the account's owner, and for new accounts the importer.",
    )
    team_id: strawberry.ID | None = field(
        default=None,
        description="The team the imported contacts belong to (the seeds' 'Equipo'): accounts "
        "are looked up among those the team owns, and new ones are owned by `ownerId` (a "
        "member of the team) or by the importer if a member.",
    )


@strawberry.type(description="Result of importContacts.")
class ImportContactsPayload:
    import_: ContactImport | None = field(
        name="import",
        description="The import's record; null when the file was refused as a whole.",
    )
    created: int = field(default=0, description="Contacts created (dry run: that would be).")
    updated: int = field(default=0, description="Contacts updated (dry run: that would be).")
    unchanged: int = field(
        default=0, description="Rows matching a contact that already holds their values."
    )
    skipped: int = field(default=0, description="Rows matching a contact, left alone.")
    row_errors: list[ImportRowError] = field(
        default_factory=list,
        description=f"The first {importing.PAYLOAD_ROW_ERRORS} row errors, in row order; "
        "every one is on `import.rowErrors`.",
    )
    errors: list[UserError] = field(
        default_factory=list, description="Why the file was refused as a whole, if so."
    )


ImportOrderBy = Annotated[
    list[ContactImportOrder] | None,
    strawberry.argument(description="Sort keys; default newest first."),
]
ImportFilterArg = Annotated[
    ContactImportFilter | None, strawberry.argument(description="Which imports.")
]


@strawberry.type
class ImportQuery:
    @field(description="Contact imports, newest first: one's own; admins and managers see all.")
    async def imports(
        self,
        info: GraphInfo,
        filter: ImportFilterArg = None,
        order_by: ImportOrderBy = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ContactImport]:
        access = info.context.access.require_read(Area.CONTACTS)
        order = ordering(sort_keys(order_by), IMPORT_ORDER_KEYS, "STARTED_AT", True)
        page = await work.list_imports(
            access, plain(filter), order, page_args(first, after, last, before)
        )
        return Connection.of(page, ContactImport.from_rows)


@strawberry.type
class ImportMutation:
    @strawberry.mutation(
        description="Import contacts from a CSV or XLSX file: good rows are written, bad rows "
        "reported in `rowErrors`; a row matching a contact updates or skips it."
    )
    async def import_contacts(
        self,
        info: GraphInfo,
        input: Annotated[
            ImportContactsInput, strawberry.argument(description="The file and the options.")
        ],
    ) -> ImportContactsPayload:
        access = info.context.access.require_write(Area.CONTACTS)
        try:
            outcome = await importing.import_contacts(access, plain(input))
        except Rejected as rejected:
            return ImportContactsPayload(import_=None, errors=user_errors(rejected.problems))
        return ImportContactsPayload(
            import_=ContactImport.from_row(outcome.record),
            created=outcome.record.created,
            updated=outcome.record.updated,
            unchanged=outcome.record.unchanged,
            skipped=outcome.record.skipped,
            row_errors=ImportRowError.from_rows(outcome.row_errors),
        )
