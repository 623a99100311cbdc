"""What every root list shares: free-text search and ``orderBy`` turned into sort keys."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pypika_tortoise.terms import Term, ValueWrapper
from tortoise import connections
from tortoise.expressions import Q, RawSQL
from tortoise.models import Model
from tortoise.queryset import QuerySet

from engine.pagination import Ordering, SortKey
from models.base import digits, fold
from models.canonical import national_digits, parse_phone, region_of
from models.db import tag_index, text_index
from models.enums import RecordStatus
from resolvers.errors import BadInput
from resolvers.ids import decode_id
from resolvers.validation import bad_characters, is_phone_number

M = TypeVar("M", bound=Model)

MAX_SEARCH_LENGTH = 200
MAX_SEARCH_WORDS = 8
MAX_ORDER_KEYS = 3
_NUMBERED = re.compile(r"^(acc|con)-?0*(\d{1,9})$")


class _RowsOf(Term):
    """``(SELECT <column> FROM <table> WHERE <condition> ?)``, the value a parameter: the ids an
    SQLite side table (``models.db``) lists, for an ``id__in`` filter."""

    def __init__(self, table: str, column: str, condition: str, value: str) -> None:
        super().__init__()
        self.table, self.column, self.condition, self.value = table, column, condition, value

    def get_sql(self, ctx: Any) -> str:
        value = ValueWrapper(self.value).get_sql(ctx)
        return f'(SELECT "{self.column}" FROM "{self.table}" WHERE {self.condition} {value})'


def plain_text(value: str, argument: str) -> str:
    """A search or filter string as a list takes it: without control characters (a request
    error naming the ``argument`` otherwise), as every stored text is."""
    reason = bad_characters(value)
    if reason is not None:
        raise BadInput(f"`{argument}`: {reason}", argument=argument)
    return value


def trigram_query(words: Iterable[str]) -> str | None:
    """An FTS5 query for rows holding every trigram of every word (None if no word has three
    characters); each trigram a quoted string, so no character of the words is syntax."""
    trigrams = sorted({word[i : i + 3] for word in words for i in range(len(word) - 2)})
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in trigrams) or None


def phone_term(text: str) -> str | None:
    """What a search that is one phone number looks for: its national significant number
    (``+51 999 888 777``, ``999888777`` and ``51999888777`` -> ``999888777``), which every way
    of typing the number holds among its digits; None when ``text`` is not phone-like."""
    if not is_phone_number(text):
        return None
    number = parse_phone(text, region_of())
    if number is None and not text.startswith("+"):
        number = parse_phone("+" + digits(text), region_of())  # a country code without +
    return national_digits(number) if number is not None else digits(text)


def search_filter(
    search: str | None, number_prefix: str | None = None, text_index: str | None = None
) -> Q | None:
    """Every word must appear in ``search_text`` (folded: "jose" finds "José").

    A word like ``CON-000123`` also matches the record with that number. With a
    ``text_index`` (SQLite's FTS5 trigram table of the list), the rows holding every trigram
    are found through it first; the LIKEs keep the exact meaning, and alone serve words of
    fewer than three characters.
    """
    if search is None:
        return None
    if len(search) > MAX_SEARCH_LENGTH:
        raise BadInput(
            f"`search` is {len(search)} characters; at most {MAX_SEARCH_LENGTH}.",
            argument="search",
        )
    words = fold(plain_text(search, "search")).split()
    if len(words) > MAX_SEARCH_WORDS:
        raise BadInput(f"`search` has more than {MAX_SEARCH_WORDS} words.", argument="search")
    condition = Q()
    terms = []
    number = phone_term(search.strip())
    if number is not None:
        words = []  # "+51 999 888 777" is one number, not four words
        terms.append(number)
    for word in words:
        match = _NUMBERED.match(word)
        if match and number_prefix == match.group(1):
            condition &= Q(id=int(match.group(2)))
            continue
        digits_only = word.replace("+", "").replace("-", "")
        terms.append(digits_only if digits_only.isdigit() else word)
    query = trigram_query(terms) if text_index else None
    if query is not None:
        condition &= Q(id__in=_RowsOf(text_index, "rowid", f'"{text_index}" MATCH', query))
    for term in terms:
        condition &= Q(search_text__contains=term)
    return condition


def searched(
    query: QuerySet[M], search: str | None, number_prefix: str | None = None
) -> QuerySet[M]:
    """``query`` narrowed by a list's free-text ``search`` (see ``search_filter``)."""
    condition = search_filter(search, number_prefix, text_index(query.model._meta.db_table))
    return query if condition is None else query.filter(condition)


def created_between(query: QuerySet[M], filter: Any) -> QuerySet[M]:
    """The ``createdAfter`` (inclusive) and ``createdBefore`` (exclusive) bounds of a filter."""
    if filter.created_after is not None:
        query = query.filter(created_at__gte=filter.created_after)
    if filter.created_before is not None:
        query = query.filter(created_at__lt=filter.created_before)
    return query


def with_status(query: QuerySet[M], filter: Any) -> QuerySet[M]:
    """Rule 5: a list holds active rows only, unless its filter names a status or asks for
    the inactive ones too."""
    status = getattr(filter, "status", None)
    if status is not None:
        return query.filter(status=status)
    if getattr(filter, "include_inactive", False):
        return query
    return query.filter(status=RecordStatus.ACTIVE)


def with_equal(query: QuerySet[M], filter: Any, *attributes: str) -> QuerySet[M]:
    """``query`` narrowed to rows equal to each of these filter attributes that is set."""
    for attribute in attributes:
        value = getattr(filter, attribute, None)
        if isinstance(value, str):
            plain_text(value, "filter")
        if value is not None:
            query = query.filter(**{attribute: value})
    return query


def ordering(
    order_by: Iterable[tuple[str, bool]] | None,
    keys_by_field: Mapping[str, tuple[SortKey, ...]],
    default: str,
    default_descending: bool = False,
) -> Ordering:
    """``[(FIELD, descending)]`` to sort keys; each field brings its tie-breakers."""
    requested = list(order_by or [(default, default_descending)])
    if not requested:
        requested = [(default, default_descending)]
    if len(requested) > MAX_ORDER_KEYS:
        raise BadInput(f"`orderBy` takes at most {MAX_ORDER_KEYS} entries.", argument="orderBy")
    keys: list[SortKey] = []
    seen: set[str] = set()
    for field, descending in requested:
        for key in keys_by_field[field]:
            if key.column not in seen:
                seen.add(key.column)
                keys.append(SortKey(key.column, descending, key.kind, key.nullable))
    if "id" not in seen:
        keys.append(SortKey("id", requested[-1][1], int))
    return Ordering(tuple(keys))


def with_tag(query: QuerySet[M], tag: str) -> QuerySet[M]:
    """``query`` narrowed to rows holding ``tag``, compared folded (``"vip"`` finds ``VIP``,
    ``"credito"`` finds ``Crédito``): an element of the row's JSON ``tag_keys``."""
    key = fold(plain_text(tag, "filter"))
    if connections.get("default").capabilities.dialect == "postgres":
        return query.filter(tag_keys__contains=[key])  # JSONB containment, GIN-indexed
    table = query.model._meta.db_table
    index = tag_index(table)
    if index is not None:
        return query.filter(id__in=_RowsOf(index, "id", '"tag" =', key))
    # SQLite keeps JSON as text and Tortoise has no JSON lookup for it: ask json_each. The key
    # is a SQL string literal; SQLite literals know no escapes but the doubled quote.
    literal = "'" + key.replace("'", "''") + "'"
    exists = f'EXISTS (SELECT 1 FROM json_each("{table}"."tag_keys") WHERE value = {literal})'
    return query.annotate(_has_tag=RawSQL(exists)).filter(_has_tag=True)


def filter_id(global_id: str, type_name: str) -> int:
    """The key of a filter's id; an id that is not a ``type_name`` one is refused."""
    decoded = decode_id(global_id)
    if decoded is None or decoded[0] != type_name:
        raise BadInput(f"'{global_id}' is not the id of a {type_name}.", argument="filter")
    return decoded[1]
