"""Documents: the node type, its filter, the contact's figures, the mutations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, ClassVar

import strawberry
from strawberry import UNSET
from strawberry.file_uploads import Upload

from engine.lookahead import reads
from engine.relations import level_field, related
from engine.types import GraphInfo, Node, RowType, documented_enum
from models import enums
from models.registry import ENTITIES
from resolvers import documents as work
from resolvers.access import Area
from resolvers.loaders import DocumentStats as DocumentFigures
from schema.common import mutation, payload
from schema.inputs import id_input

if TYPE_CHECKING:
    from schema.accounts import Account
    from schema.contacts import Contact
    from schema.users import User

field = strawberry.field

AccountRef = Annotated["Account", strawberry.lazy("schema.accounts")]
ContactRef = Annotated["Contact", strawberry.lazy("schema.contacts")]
UserRef = Annotated["User", strawberry.lazy("schema.users")]

DocumentKind = documented_enum(
    enums.DocumentKind,
    "What a document is.",
    {
        "CONTRACT": "A contract.",
        "ID_CARD": "An identity document (DNI, passport, ...).",
        "INVOICE": "An invoice.",
        "PROOF_OF_ADDRESS": "A proof of address (a utility bill, ...).",
        "PHOTO": "A photo.",
        "OTHER": "Anything else.",
    },
)

ReviewStatus = documented_enum(
    enums.ReviewStatus,
    "Where a document's review stands.",
    {
        "PENDING": "Not reviewed yet.",
        "VALID": "Reviewed and accepted.",
        "REJECTED": "Reviewed and refused.",
    },
)


@reads()
async def _download_urls(documents: list, info: GraphInfo) -> list[str]:
    return [f"/documents/{document.id}" for document in documents]


@strawberry.type(
    description="A file uploaded to a contact or an account, with its review status. Its "
    "bytes download from `downloadUrl` with the caller's bearer token."
)
class Document(RowType, Node, entity=ENTITIES["Document"]):
    name: str = field(description="The file name, as uploaded (accents kept).")
    kind: DocumentKind = field(description="What the document is.")
    content_type: str = field(description="The content type its bytes say (sniffed).")
    byte_size: int = field(description="Its size in bytes.")
    sha256: str = field(description="The SHA-256 of its bytes, hex.")
    review_status: ReviewStatus = field(description="Pending, valid or rejected.")
    review_note: str | None = field(description="The reviewer's note.")
    reviewed_at: datetime | None = field(description="When it was last reviewed.")
    created_at: datetime = field(description="When it was uploaded.")

    reviewed_by: UserRef | None = related(
        "reviewed_by_id", "User", description="Who last reviewed it."
    )
    uploaded_by: UserRef | None = related(
        "uploaded_by_id", "User", description="Who uploaded it."
    )
    contact: ContactRef | None = related(
        "contact_id", "Contact", description="The contact it was uploaded to, if any."
    )
    account: AccountRef = related(
        "account_id", "Account", required=True,
        description="The account it is at (a contact's: the contact's account at upload).",
    )  # fmt: skip
    download_url: str = level_field(
        _download_urls,
        description="Path of `GET /documents/<id>`, which sends the bytes to a caller who "
        "may see the document.",
    )


@strawberry.input(description="Which documents to list; every condition given must hold.")
class DocumentFilter:
    review_status: ReviewStatus | None = field(default=None, description="Only with this status.")
    kind: DocumentKind | None = field(default=None, description="Only of this kind.")


DOCUMENT_FILTER = (DocumentFilter, "Which documents.")


@strawberry.type(description="Document figures of a contact; always what its documents say.")
class DocumentStats:
    guard_area: ClassVar[Area] = Area.CONTACTS

    total: int = field(description="Every document of the contact.")
    pending: int = field(description="Documents not reviewed yet.")
    valid: int = field(description="Documents reviewed valid.")
    rejected: int = field(description="Documents reviewed rejected.")


@reads()
async def document_stats_of(contacts: list, info: GraphInfo) -> list[DocumentFigures]:
    loader = info.context.loaders.document_stats_by_contact
    return await loader.load_many([contact.row.id for contact in contacts])


@strawberry.input(
    description="A file for a contact or an account: give exactly one of contactId and "
    "accountId. Sent as a GraphQL multipart request (`curl -F`), at most the server's upload "
    "limit; its type is read from its bytes."
)
class UploadDocumentInput:
    contact_id: strawberry.ID | None = field(default=None, description="The contact.")
    account_id: strawberry.ID | None = field(default=None, description="The account.")
    file: Upload = field(description="The file (a multipart part named by `map`).")
    kind: DocumentKind = field(description="What the document is.")
    name: str | None = field(
        default=UNSET,
        description="File name to keep; default: the uploaded file's. At most 255 characters, "
        "no `/`, `\\` or control characters.",
    )


@strawberry.input(description="A review of a document (managers and admins).")
class ReviewDocumentInput:
    id: strawberry.ID = field(description="The document.")
    status: ReviewStatus = field(description="The new review status.")
    note: str | None = field(default=UNSET, description="Why; at most 2000 characters.")


DeleteDocumentInput = id_input(
    "DeleteDocumentInput", "Names a document to delete.", "The document."
)

_document_payload = {"document": (Document, "The document after the change.")}
UploadDocumentPayload = payload(
    "UploadDocumentPayload", "Result of uploadDocument.", **_document_payload
)
ReviewDocumentPayload = payload(
    "ReviewDocumentPayload", "Result of reviewDocument.", **_document_payload
)
DeleteDocumentPayload = payload(
    "DeleteDocumentPayload", "Result of deleteDocument: the document as it was.",
    document=(Document, "The document as it was."),
)  # fmt: skip


@strawberry.type
class DocumentMutation:
    upload_document = mutation(
        work.upload_document,
        UploadDocumentInput,
        UploadDocumentPayload,
        area=Area.CONTACTS,
        returns={"document": "Document"},
        description="Upload a file to a contact or an account; it starts PENDING.",
        argument="The file and where it goes.",
    )

    review_document = mutation(
        work.review_document,
        ReviewDocumentInput,
        ReviewDocumentPayload,
        area=Area.CONTACTS,
        returns={"document": "Document"},
        description="Mark a document valid or rejected (managers and admins).",
        argument="The review.",
    )

    delete_document = mutation(
        lambda access, data: work.delete_document(access, data.id),
        DeleteDocumentInput,
        DeleteDocumentPayload,
        area=Area.CONTACTS,
        returns={"document": "Document"},
        description="Delete a document; its audit event keeps its metadata, and its bytes "
        "go when no other document uses them.",
        argument="The document.",
    )
