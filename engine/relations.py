"""Relation fields, declared once: ``account: Account = related("account_id", "Account",
description=…)``.

A field of a row type that answers through loaders has three forms: the level form (one
call for every object of a response level, which the breadth-first executor calls), the
per-object form (which graphql-core calls) and the columns of its object's row it reads
(``engine.lookahead``). Each declaration here derives all three from one line, so they
cannot drift apart. The field's GraphQL type is the class annotation (``strawberry.lazy``
for a type of another domain).
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from strawberry.types.field import StrawberryField

from engine.connection import After, Before, Connection, First, Last, page_args
from engine.lookahead import page_columns, reads, row_columns
from engine.types import GraphInfo, node_type, per_level

Level = Callable[..., Awaitable[list]]


def level_field(level: Level, *, description: str) -> Any:
    """A field answered by ``level(objects, info)``: its per-object form asks it for one."""

    async def resolve(self: Any, info: GraphInfo) -> Any:
        return (await level([self], info))[0]

    return strawberry.field(resolver=per_level(level)(resolve), description=description)


def paged_field(
    level: Level,
    *,
    description: str,
    include_inactive: str | None = None,
    filter: tuple[type, str] | None = None,
) -> Any:
    """A connection field answered by ``level(objects, info, first, after, last, before,
    **options)``; ``include_inactive`` (its argument's description) adds that option,
    ``filter`` (an input type and its argument's description) a ``filter`` argument."""
    if filter is not None:
        filter_type, filter_description = filter
        condition = Annotated[
            filter_type | None, strawberry.argument(description=filter_description)
        ]

        async def resolve(  # type: ignore[misc]
            self: Any, info: GraphInfo, first: First = None, after: After = None,
            last: Last = None, before: Before = None, filter: condition = None,  # type: ignore[valid-type]
        ) -> Any:  # fmt: skip
            return (await level([self], info, first, after, last, before, filter=filter))[0]

    elif include_inactive is None:

        async def resolve(
            self: Any, info: GraphInfo, first: First = None, after: After = None,
            last: Last = None, before: Before = None,
        ) -> Any:  # fmt: skip
            return (await level([self], info, first, after, last, before))[0]

    else:
        flag = Annotated[bool, strawberry.argument(description=include_inactive)]

        async def resolve(  # type: ignore[misc]
            self: Any, info: GraphInfo, first: First = None, after: After = None,
            last: Last = None, before: Before = None, include_inactive: flag = False,  # type: ignore[valid-type]
        ) -> Any:  # fmt: skip
            return (
                await level(
                    [self], info, first, after, last, before, include_inactive=include_inactive
                )
            )[0]

    return strawberry.field(resolver=per_level(level)(resolve), description=description)


def related_level(
    column: str, to: str, *, required: bool = False, loader: str | None = None
) -> Level:
    """The level form of ``related``: the ``to`` row each object's ``column`` points at,
    null where the column is."""

    @reads(column)
    async def level(objects: list, info: GraphInfo) -> list:
        keys = [getattr(obj.row, column) for obj in objects]
        present = [key for key in keys if key is not None]
        loaders = info.context.loaders
        target = node_type(to)
        if loader is None:
            if to not in loaders.row_columns:  # once per operation
                loaders.row_columns[to] = row_columns(info, target)
            found = await loaders.by_id(to, loaders.row_columns[to]).load_many(present)
        else:
            found = await getattr(loaders, loader).load_many(present)
        if required or not any(row is None for row in found):
            nodes = iter(target.from_rows(found))
        else:
            nodes = map(target.maybe, found)
        return [None if key is None else next(nodes) for key in keys]

    return level


def related(
    column: str, to: str, *, description: str, required: bool = False, loader: str | None = None
) -> StrawberryField:
    """The ``to`` object this row's ``column`` points at, by id (reading only the columns
    the operation selects on ``to``), or through the request's ``loader`` keyed by that
    column (``related("id", "Location", loader="main_location_by_account")``). ``required``
    fields have no null to give (a dangling key fails)."""
    level = related_level(column, to, required=required, loader=loader)
    return level_field(level, description=description)


def grouped(loader: str, to: str, *, description: str) -> StrawberryField:
    """The list of ``to`` rows the request's ``loader`` groups under this row's id."""

    @reads()
    async def level(objects: list, info: GraphInfo) -> list[list]:
        groups = await getattr(info.context.loaders, loader).load_many(
            [obj.row.id for obj in objects]
        )
        return list(map(node_type(to).from_rows, groups))

    return level_field(level, description=description)


def pages(
    page_of: Callable[..., Awaitable[list]],
    to: str,
    *,
    description: str,
    include_inactive: str | None = None,
    filter: tuple[type, str] | None = None,
) -> StrawberryField:
    """A connection of ``to`` rows per object: ``page_of(loaders, objects' keys, args,
    columns, **options)`` gives their pages, from one loader shared by every object asking
    alike; ``columns`` are what the rows must read for the nodes' selection, ``options`` the
    field's other arguments (``include_inactive``, ``filter``)."""

    @reads()
    async def level(
        objects: list, info: GraphInfo, first: First = None, after: After = None,
        last: Last = None, before: Before = None, **options: Any,
    ) -> list[Connection]:  # fmt: skip
        args = page_args(first, after, last, before)
        target = node_type(to)
        columns = page_columns(info, target)
        keys = [obj.row.id for obj in objects]
        found = await page_of(info.context.loaders, keys, args, columns, **options)
        return [Connection.of(page, target.from_rows) for page in found]

    return paged_field(
        level, description=description, include_inactive=include_inactive, filter=filter
    )
