"""Opaque global ids: ``base64url("Contact:42")``, resolvable by ``node`` for any entity."""

from __future__ import annotations

from engine.ids import decode_global_id, encode_global_id, encode_id
from models.registry import ENTITIES
from resolvers.errors import ProblemCode, Problems

TYPE_NAMES = ENTITIES.names
__all__ = ["TYPE_NAMES", "decode_id", "encode_global_id", "encode_id", "expect_id"]


def decode_id(global_id: str) -> tuple[str, int] | None:
    """``(type name, primary key)``, or None when the value is not one of our ids."""
    decoded = decode_global_id(global_id)
    if decoded is None or decoded[0] not in TYPE_NAMES:
        return None
    return decoded


def expect_id(
    global_id: str, type_name: str, path: str | tuple[str, ...], problems: Problems
) -> int | None:
    """The primary key of a ``type_name`` id, or None after recording why it is not one."""
    decoded = decode_id(global_id)
    if decoded is None:
        problems.add(ProblemCode.INVALID_ID, path, f"'{global_id}' is not a valid id.")
        return None
    if decoded[0] != type_name:
        problems.add(
            ProblemCode.INVALID_ID, path, f"Expected an id of a {type_name}, got a {decoded[0]}."
        )
        return None
    return decoded[1]
