"""The root ``tags`` list: the tags of the accounts and contacts a caller sees, with counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.queryset import QuerySet

from engine.pagination import MAX_PAGE_SIZE
from models import Account, Contact
from models.base import fold
from models.enums import RecordStatus
from resolvers.access import Access, Area
from resolvers.errors import BadInput
from resolvers.listing import MAX_SEARCH_LENGTH, plain_text

DEFAULT_TAGS = 20


@dataclass(frozen=True, slots=True)
class TagCount:
    name: str  # the spelling most rows use
    key: str  # folded: what filters compare
    accounts: int
    contacts: int

    @property
    def count(self) -> int:
        return self.accounts + self.contacts


def _sql_of(query: QuerySet) -> tuple[str, list[Any]]:
    """A queryset's SQL and parameters, to nest as a subquery (Tortoise 1.1's ``sql()`` does
    the same, without handing the parameters back)."""
    query._choose_db_if_not_chosen()
    query._make_query()
    sql, params = query.query.get_parameterized_sql()
    return sql, list(params)


async def _counted(access: Access, model: type[Account | Contact]) -> tuple[Counter, Counter]:
    """Over the caller's active rows of ``model`` (rule 8; rule 5: as lists show them by
    default): rows per tag key, and rows per spelling. Two statements whatever the rows."""
    table = model._meta.db_table
    visible, params = _sql_of(access.rows(model).filter(status=RecordStatus.ACTIVE).values("id"))
    if connections.get("default").capabilities.dialect == "postgres":
        elements = "jsonb_array_elements_text(t.\"{column}\") AS j(value)"
    else:
        elements = "json_each(t.\"{column}\") AS j"
    counts: list[Counter] = []
    for column in ("tag_keys", "tags"):
        rows = await connections.get("default").execute_query_dict(
            f'SELECT j.value AS "tag", COUNT(DISTINCT t."id") AS "rows" '
            f'FROM "{table}" AS t, {elements.format(column=column)} '
            f'WHERE t."id" IN ({visible}) GROUP BY j.value',
            params,
        )
        counts.append(Counter({row["tag"]: row["rows"] for row in rows}))
    return counts[0], counts[1]


async def list_tags(access: Access, search: str | None, first: int | None) -> list[TagCount]:
    """Tags whose folded form holds ``search`` folded, most used first (then by name)."""
    size = DEFAULT_TAGS if first is None else first
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise BadInput(f"`first` is {size}; it takes 0 to {MAX_PAGE_SIZE}.", argument="first")
    wanted = None
    if search is not None:
        if len(search) > MAX_SEARCH_LENGTH:
            raise BadInput(
                f"`search` is {len(search)} characters; at most {MAX_SEARCH_LENGTH}.",
                argument="search",
            )
        wanted = fold(plain_text(search, "search"))
    areas = [(Area.ACCOUNTS, Account), (Area.CONTACTS, Contact)]
    # A token that may not read a type's tags (its scopes, its field allowlist) counts none.
    readable = [
        (area, model) for area, model in areas
        if access.can_read(area) and access.allows_field(model.__name__, "tags")
    ]  # fmt: skip
    if not readable:
        access.require_read(Area.CONTACTS)  # raises: neither area is readable
    keys: dict[Area, Counter] = {}
    spellings: Counter = Counter()
    for area, model in readable:
        keys[area], spelled = await _counted(access, model)
        spellings.update(spelled)
    names: dict[str, str] = {}
    for name, _ in sorted(spellings.items(), key=lambda item: (-item[1], item[0])):
        names.setdefault(fold(name), name)
    accounts, contacts = keys.get(Area.ACCOUNTS, Counter()), keys.get(Area.CONTACTS, Counter())
    found = [
        TagCount(names.get(key, key), key, accounts[key], contacts[key])
        for key in set(accounts) | set(contacts)
        if wanted is None or wanted in key
    ]
    found.sort(key=lambda tag: (-tag.count, tag.key))
    return found[:size]
