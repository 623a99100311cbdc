"""Documents: pages of a contact's or an account's, the upload's checks, review, deletion.

A document is at an account, directly or through its contact (rule 8 reads its
``account_id``: a contact's document is at the account the contact was at when it was
uploaded). Agents see their team's accounts' documents; managers and admins review them.
Partners read documents and do not write them (their rights are contacts and activities).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any

import filetype
from tortoise import timezone

import storage
from engine.pagination import Page, PageArgs, SortKey
from models import Account, Contact, Document
from models.enums import AuditAction, ReviewStatus, Role
from models.registry import ENTITIES
from resolvers import audit
from resolvers import validation as check
from resolvers.access import Access
from resolvers.errors import Forbidden, ProblemCode, Problems, Rejected
from resolvers.listing import ordering
from resolvers.loaders import Loaders
from resolvers.unit_of_work import change

DOCUMENT_ORDER_KEYS = {"CREATED_AT": (SortKey("created_at", kind=datetime),)}
NEWEST_FIRST = ordering(None, DOCUMENT_ORDER_KEYS, "CREATED_AT", default_descending=True)
MAX_NAME_LENGTH = 255
MAX_NOTE_LENGTH = 2000
AUDITED_FIELDS = ENTITIES["Document"].audited


# ---------------------------------------------------------------- reading


def documents_pages_of(
    loaders: Loaders,
    parent_ids: Sequence[int],
    args: PageArgs,
    columns: frozenset[str] | None = None,
    *,
    parent_column: str,
    filter: Any = None,
) -> Awaitable[list[Page]]:
    """Newest documents of contacts or accounts, a page each, in one batch per filter."""
    status = getattr(filter, "review_status", None)
    kind = getattr(filter, "kind", None)
    conditions = {
        name: value for name, value in (("review_status", status), ("kind", kind)) if value
    }

    def documents():
        return Document.filter(**conditions)

    loader = loaders.page_by_parent(
        f"documents.{parent_column}",
        Document,
        documents,
        parent_column,
        NEWEST_FIRST,
        args,
        filter_key=(status, kind),
        columns=columns,
    )
    return loader.load_many(parent_ids)


# ---------------------------------------------------------------- checks


def document_name(problems: Problems, path: str, value: str | None) -> str | None:
    """A file name as typed (accents kept, NFC), refused rather than repaired when it
    could name another place (``/``, ``\\``, ``.``, ``..``), carries control characters
    (NUL included) or is longer than 255 characters."""
    if value is None or not value.strip():
        problems.add(ProblemCode.REQUIRED, path, "The document needs a file name.")
        return None
    reason = check.bad_characters(value)
    if reason is not None:
        problems.add(ProblemCode.INVALID_CHARACTERS, path, reason)
        return None
    name = unicodedata.normalize("NFC", value.strip())
    # Direction marks and other invisible format characters disguise a name ("fdp.exe").
    if any(unicodedata.category(ch) in ("Cf", "Zl", "Zp") for ch in name):
        problems.add(ProblemCode.INVALID_CHARACTERS, path,
                     "A file name may not hold invisible format characters (direction "
                     "marks, line separators).")  # fmt: skip
        return None
    if "/" in name or "\\" in name or name in (".", ".."):
        problems.add(ProblemCode.INVALID_CHARACTERS, path,
                     "A file name may not hold `/` or `\\`, nor be `.` or `..`.")  # fmt: skip
        return None
    if len(name) > MAX_NAME_LENGTH:
        problems.add(ProblemCode.TOO_LONG, path,
                     f"At most {MAX_NAME_LENGTH} characters (got {len(name)}).")  # fmt: skip
        return None
    return name


def sniffed_type(head: bytes) -> str | None:
    """The content type the bytes themselves say (never the name's or the client's)."""
    return filetype.guess_mime(head)


def _refuse_partners(access: Access) -> None:
    if access.role is Role.PARTNER:
        raise Forbidden("A user with role PARTNER may read documents, not write them.")


async def _target(access: Access, problems: Problems, data: Any) -> tuple[Account | None,
                                                                          Contact | None]:
    """The account and contact a new document is at: one of ``contactId``/``accountId``."""
    given = [name for name in ("contact_id", "account_id") if getattr(data, name, None)]
    if len(given) != 1:
        problems.add(ProblemCode.TARGET_REQUIRED, "contactId",
                     "Give exactly one of `contactId` and `accountId`.")  # fmt: skip
        return None, None
    if data.contact_id:
        contact = await access.find(problems, Contact, data.contact_id, "contactId")
        if contact is None:
            return None, None
        return await Account.get(id=contact.account_id), contact
    return await access.find(problems, Account, data.account_id, "accountId"), None


# ---------------------------------------------------------------- mutations


async def upload_document(access: Access, data: Any) -> Document:
    """uploadDocument: the file checked (size, sniffed type, name), its bytes stored under
    their sha256 before the row commits; on any refusal nothing is stored or written."""
    _refuse_partners(access)
    store = storage.current()
    problems = Problems()
    account, contact = await _target(access, problems, data)
    upload = data.file
    typed = data.name if check.given(data.name) and data.name is not None else None
    if typed is not None:
        name = document_name(problems, "name", typed)
    else:
        name = document_name(problems, "file", getattr(upload, "filename", None))
    if problems:
        raise Rejected(problems.items)
    staged = await store.stage(upload)
    content_type = None
    if staged.too_large:
        problems.add(ProblemCode.FILE_TOO_LARGE, "file",
                     f"The file is larger than {store.max_bytes} bytes.")  # fmt: skip
    elif staged.byte_size == 0:
        problems.add(ProblemCode.EMPTY_FILE, "file", "The file is empty.")
    else:
        content_type = sniffed_type(staged.head)
        if content_type not in store.content_types:
            what = f"a {content_type} file" if content_type else "of a type not recognised"
            problems.add(ProblemCode.FILE_TYPE_NOT_ALLOWED, "file",
                         f"The file's bytes say it is {what}; allowed: PDF, images and office "
                         "files (the server's --document-types).")  # fmt: skip
    if problems:
        staged.discard()
        raise Rejected(problems.items)
    placed = await store.keep(staged)
    try:
        async with change(access.user) as unit:
            document = await Document.create(
                name=name, kind=data.kind, content_type=content_type,
                byte_size=staged.byte_size, sha256=staged.sha256,
                account_id=account.id, contact_id=contact.id if contact else None,
                uploaded_by_id=access.user.id,
            )  # fmt: skip
            await unit.record(AuditAction.CREATED, document, document.name,
                              audit.diff({}, audit.snapshot(document, AUDITED_FIELDS)))  # fmt: skip
    except BaseException:
        staged.discard()
        if placed:
            await _forget_unused(store, staged.sha256)
        raise
    await store.ensure(staged)  # a deletion of the same bytes may have counted before us
    return document


async def review_document(access: Access, data: Any) -> Document:
    """reviewDocument (managers and admins): the status and note, who and when."""
    access.require_supervisor("review documents")
    problems = Problems()
    document = await access.find(problems, Document, data.id, "id")
    note = check.text(problems, "note", data.note if check.given(data.note) else None,
                      MAX_NOTE_LENGTH, long=True)  # fmt: skip
    if problems:
        raise Rejected(problems.items)
    async with change(access.user) as unit:
        before = audit.snapshot(document, AUDITED_FIELDS)
        document.review_status = ReviewStatus(data.status)
        document.review_note = note
        document.reviewed_by_id = access.user.id
        document.reviewed_at = timezone.now()
        await document.save_changes("review_status", "review_note", "reviewed_by_id",
                                    "reviewed_at")  # fmt: skip
        await unit.record(AuditAction.UPDATED, document, document.name,
                          audit.diff(before, audit.snapshot(document, AUDITED_FIELDS)))  # fmt: skip
    return document


async def delete_document(access: Access, gid: str) -> Document:
    """deleteDocument: the row goes, its audit event keeps its metadata; after commit the
    bytes go too when no other document uses them."""
    _refuse_partners(access)
    problems = Problems()
    document = await access.find(problems, Document, gid, "id")
    if document is None:
        raise Rejected(problems.items)
    async with change(access.user) as unit:
        changes = {
            name: {"from": value, "to": None}
            for name, value in audit.snapshot(document, AUDITED_FIELDS).items()
            if value is not None
        }
        # Of two deletions sent at once, the second deletes no row: it is told so.
        if not await Document.filter(id=document.id).delete():
            raise Rejected.one(ProblemCode.NOT_FOUND, "id", "No document has this id.")
        await unit.record(AuditAction.DELETED, document, document.name, changes)
    await _forget_unused(storage.current(), document.sha256)
    return document


async def _forget_unused(store: storage.LocalStorage, sha256: str) -> None:
    """Remove stored bytes no document uses (after the commit that stopped using them).

    Moved aside first, then counted again: an upload of the same bytes that committed in
    between gets them back (``storage``'s docstring says how the two meet)."""
    if await Document.filter(sha256=sha256).exists():
        return
    aside = await store.retire(sha256)
    if aside is None:
        return
    if await Document.filter(sha256=sha256).exists():
        await store.restore(sha256, aside)
    else:
        await store.drop(aside)


# ---------------------------------------------------------------- download


async def downloadable(access: Access, gid: str) -> Document | None:
    """The document behind ``gid`` if this caller may read it; None as if it did not exist."""
    return await access.find(Problems(), Document, gid, "id")
