"""The one Connection / Edge / PageInfo, and the arguments every list takes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from engine.pagination import Page, PageArgs
from engine.types import documented_enum

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


# Cursors are encoded only when a query asks for them: most pages are drawn without.
def _start_cursor(root: PageInfo) -> str | None:
    return root.page.cursor(root.page.rows[0]) if root.page.rows else None


def _end_cursor(root: PageInfo) -> str | None:
    return root.page.cursor(root.page.rows[-1]) if root.page.rows else None


def _cursor(root: Edge) -> str:
    return root.page.cursor(root.row)


def _edges(root: Connection) -> list[Edge]:
    page = root.page_info.page
    return [
        Edge(node=node, page=page, row=row) for row, node in zip(page.rows, root.nodes, strict=True)
    ]


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More rows follow this page.")
    has_previous_page: bool = strawberry.field(description="Rows precede this page.")
    start_cursor: str | None = strawberry.field(
        resolver=_start_cursor, description="Cursor of the first row."
    )
    end_cursor: str | None = strawberry.field(
        resolver=_end_cursor, description="Cursor of the last row."
    )
    page: strawberry.Private[Page]


@strawberry.type(description="A row of a list, with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(
        resolver=_cursor, description="Opaque, stable position of this row."
    )
    node: T = strawberry.field(description="The row.")
    page: strawberry.Private[Page]
    row: strawberry.Private[Any]


@strawberry.type(description="A page of a list (Relay connection), with its total size.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(
        resolver=_edges, description="The rows of this page with cursors."
    )
    nodes: list[T] = strawberry.field(description="The rows of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many rows the whole list has (all pages).")
    async def total_count(self) -> int:
        return await self.count()

    @classmethod
    def of(cls, page: Page, convert: Callable[[list[Any]], list[T]]) -> Connection[T]:
        """The connection of ``page``, its rows made nodes by ``convert`` (a list at once:
        ``RowType.from_rows``)."""
        info = PageInfo(
            has_next_page=page.has_next_page, has_previous_page=page.has_previous_page, page=page
        )
        return cls(nodes=convert(page.rows), page_info=info, count=page.count)
