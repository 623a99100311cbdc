"""``node``, ``nodes`` and ``viewer``: reaching any object by its global id."""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry

from engine.types import GraphInfo, Node, node_type
from resolvers.errors import BadInput
from resolvers.ids import decode_id
from schema.users import User

MAX_NODES = 100


async def resolve_node(info: GraphInfo, type_name: str, pk: int) -> Node | None:
    """Any stored object by type and key, through the request's loaders."""
    row = await info.context.loaders.by_id(type_name).load(pk)
    return node_type(type_name).maybe(row)


def _decode(global_id: str, argument: str) -> tuple[str, int]:
    decoded = decode_id(global_id)
    if decoded is None:
        raise BadInput(f"'{global_id[:80]}' is not a valid id.", argument=argument)
    return decoded


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global id; null if there is none.")
    async def node(
        self,
        info: GraphInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> Node | None:
        info.context.viewer  # noqa: B018 - signed-in callers only
        return await resolve_node(info, *_decode(id, "id"))

    @strawberry.field(description="Objects by global id, in the same order; null where none.")
    async def nodes(
        self,
        info: GraphInfo,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description=f"At most {MAX_NODES} ids.")
        ],
    ) -> list[Node | None]:
        info.context.viewer  # noqa: B018 - signed-in callers only
        if len(ids) > MAX_NODES:
            raise BadInput(f"`ids` has {len(ids)} ids; at most {MAX_NODES}.", argument="ids")
        decoded = [_decode(global_id, "ids") for global_id in ids]
        # Started together, the loads of each type share one statement.
        return list(await asyncio.gather(*(resolve_node(info, *key) for key in decoded)))

    @strawberry.field(description="The signed-in user.")
    def viewer(self, info: GraphInfo) -> User:
        return User.from_row(info.context.viewer)
