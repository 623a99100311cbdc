"""Contact imports as records: the root ``imports`` list, and each import's row errors.

Rule 8 for imports (the registry's entry): an agent or a partner sees the imports they ran;
admins and managers see every import. An import's row errors are seen with their import.
Running an import is ``resolvers.importing``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any

from tortoise.queryset import QuerySet

from engine.pagination import Ordering, Page, PageArgs, SortKey, paginate
from models import ContactImport, ImportRowError
from resolvers.access import Access
from resolvers.errors import BadInput
from resolvers.listing import filter_id, ordering
from resolvers.loaders import Loaders

IMPORT_ORDER_KEYS = {"STARTED_AT": (SortKey("started_at", kind=datetime),)}
# A file's errors in the order of its rows.
ROW_ERROR_ORDER = ordering(None, {"ROW": (SortKey("row_number", kind=int),)}, "ROW")


def imports_queryset(access: Access, filter: Any) -> QuerySet[ContactImport]:
    query = access.rows(ContactImport)
    if filter is None:
        return query
    if filter.status is not None:
        query = query.filter(status=filter.status)
    if filter.dry_run is not None:
        query = query.filter(dry_run=filter.dry_run)
    if filter.created_by_id is not None:
        query = query.filter(created_by_id=filter_id(filter.created_by_id, "User"))
    if filter.started_after is not None:
        query = query.filter(started_at__gte=filter.started_after)
    if filter.started_before is not None:
        query = query.filter(started_at__lt=filter.started_before)
    if (
        filter.started_after is not None
        and filter.started_before is not None
        and filter.started_after > filter.started_before
    ):
        raise BadInput("`startedAfter` is later than `startedBefore`.", argument="filter")
    return query


async def list_imports(access: Access, filter: Any, order: Ordering, args: PageArgs) -> Page:
    return await paginate(imports_queryset(access, filter), order, args)


def row_errors_pages_of(
    loaders: Loaders,
    import_ids: Sequence[int],
    args: PageArgs,
    columns: frozenset[str] | None = None,
) -> Awaitable[list[Page]]:
    """The row errors of imports, a page each, batched with their siblings."""
    loader = loaders.page_by_parent(
        "imports.row_errors",
        ImportRowError,
        ImportRowError.all,
        "contact_import_id",
        ROW_ERROR_ORDER,
        args,
        columns=columns,
    )
    return loader.load_many(import_ids)
