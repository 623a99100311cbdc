"""What the engine reads of a request's context: the seam's one class on the caller's side.

The domains' context (``resolvers.context.RequestContext``) extends it and provides:
``loaders`` (the operation's loaders, ``engine.loaders.LoadersBase``), ``user`` (None for
an anonymous caller), ``restricted`` (a token narrower than its user: the field guard runs),
``access`` (with ``can_read(area)`` and ``allows_field(type, field)``, read by the guard) and
``suggestions`` (validation errors may say "Did you mean …?").
"""

from __future__ import annotations


class OperationContext:
    __slots__ = ()

    async def start_operation(self) -> None:
        """Before each operation (a WebSocket runs many in one context)."""

    def end_operation(self) -> None:
        """After each operation, whatever its outcome: let go of what it loaded."""
