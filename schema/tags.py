"""The root ``tags`` list: tags as people typed them, counted over what the caller sees."""

from __future__ import annotations

from typing import Annotated

import strawberry

from engine.types import GraphInfo
from resolvers.tags import DEFAULT_TAGS, TagCount, list_tags


@strawberry.type(
    description="A tag of accounts and contacts. Tags compare case- and accent-insensitively: "
    "`VIP` and `vip`, `Crédito` and `credito` are one tag."
)
class Tag:
    name: str = strawberry.field(description="The tag as most of its rows spell it.")
    count: int = strawberry.field(
        description="Active accounts and contacts you can see that carry it."
    )
    account_count: int = strawberry.field(description="Active accounts you can see with it.")
    contact_count: int = strawberry.field(description="Active contacts you can see with it.")

    @classmethod
    def of(cls, tag: TagCount) -> Tag:
        return cls(name=tag.name, count=tag.count, account_count=tag.accounts,
                   contact_count=tag.contacts)  # fmt: skip


@strawberry.type
class TagQuery:
    @strawberry.field(
        description="The tags of the active accounts and contacts you can see, most used "
        "first (then by name), with their counts."
    )
    async def tags(
        self,
        info: GraphInfo,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Only tags holding this text, compared case- and "
                "accent-insensitively (`cred` finds `Crédito`)."
            ),
        ] = None,
        first: Annotated[
            int | None,
            strawberry.argument(description=f"How many (default {DEFAULT_TAGS}, at most 100)."),
        ] = None,
    ) -> list[Tag]:
        return [Tag.of(tag) for tag in await list_tags(info.context.access, search, first)]
