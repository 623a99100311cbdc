"""The one Connection / Edge / PageInfo, and the arguments every list takes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from resolvers.pagination import Page, PageArgs
from schema.base import documented_enum

T = TypeVar("T")

First = Annotated[
    int | None,
    strawberry.argument(description="Page size from the start (default 20, at most 100)."),
]
After = Annotated[
    str | None, strawberry.argument(description="Return rows after this cursor (with `first`).")
]
Last = Annotated[
    int | None, strawberry.argument(description="Page size from the end (at most 100).")
]
Before = Annotated[
    str | None, strawberry.argument(description="Return rows before this cursor (with `last`).")
]


def page_args(first: int | None, after: str | None, last: int | None, before: str | None):
    return PageArgs(first=first, after=after, last=last, before=before).validated()


class OrderDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


documented_enum(
    OrderDirection,
    "Sort direction.",
    {
        "ASC": "Smallest first (A to Z, oldest first).",
        "DESC": "Largest first (Z to A, newest first).",
    },
)


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More rows follow this page.")
    has_previous_page: bool = strawberry.field(description="Rows precede this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first row.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last row.")


@strawberry.type(description="A row of a list, with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque, stable position of this row.")
    node: T = strawberry.field(description="The row.")


@strawberry.type(description="A page of a list (Relay connection), with its total size.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The rows of this page with cursors.")
    nodes: list[T] = strawberry.field(description="The rows of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many rows the whole list has (all pages).")
    async def total_count(self) -> int:
        return await self.count()

    @classmethod
    def of(cls, page: Page, convert: Callable[[Any], T]) -> Connection[T]:
        nodes = [convert(row) for row in page.rows]
        edges = [
            Edge(cursor=page.cursor(row), node=node)
            for row, node in zip(page.rows, nodes, strict=True)
        ]
        info = PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        )
        return cls(edges=edges, nodes=nodes, page_info=info, count=page.count)
