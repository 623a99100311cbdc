"""Opaque global ids: ``base64url("Contact:42")``, resolvable by ``node`` for any entity."""

from __future__ import annotations

import base64
import binascii

from models.registry import ENTITIES
from resolvers.errors import ProblemCode, Problems

TYPE_NAMES = ENTITIES.names


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def encode_id(type_name: str, pk: int) -> str:
    return encode_global_id(f"{type_name}:{pk}")


def encode_global_id(raw: str) -> str:
    """``base64url(raw)`` without padding, in C calls only (a page encodes hundreds)."""
    encoded = binascii.b2a_base64(raw.encode(), newline=False)
    return encoded.rstrip(b"=").translate(_URL_SAFE).decode()


def decode_id(global_id: str) -> tuple[str, int] | None:
    """``(type name, primary key)``, or None when the value is not one of our ids."""
    if not isinstance(global_id, str) or not 0 < len(global_id) <= 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, pk = raw.partition(":")
    if type_name not in TYPE_NAMES or not pk.isdigit() or len(pk) > 12:
        return None
    return type_name, int(pk)


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
