"""Shared pieces of mutation inputs."""

from __future__ import annotations

import strawberry


def id_input(name: str, description: str, id_description: str) -> type:
    """An input type holding the ``id`` its mutation acts on. Each mutation has its own (named
    after it, shared/API.md), so that one mutation's input can grow without touching another's."""

    @strawberry.input(name=name, description=description)
    class IdInput:
        id: strawberry.ID = strawberry.field(description=id_description)

    return IdInput
