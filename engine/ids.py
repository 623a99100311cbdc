"""The global id codec: ``base64url("Contact:42")``, opaque to clients."""

from __future__ import annotations

import base64
import binascii

_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def encode_id(type_name: str, pk: int) -> str:
    return encode_global_id(f"{type_name}:{pk}")


def encode_global_id(raw: str) -> str:
    """``base64url(raw)`` without padding, in C calls only (a page encodes hundreds)."""
    encoded = binascii.b2a_base64(raw.encode(), newline=False)
    return encoded.rstrip(b"=").translate(_URL_SAFE).decode()


def decode_global_id(global_id: str) -> tuple[str, int] | None:
    """``(type name, primary key)`` of an id exactly as ``encode_id`` spells it, or None.

    One object, one id: padding, characters the decoder would skip, leading zeros and
    digits of other scripts (``Contact:١``) are refused, not read as the same object.
    """
    if not isinstance(global_id, str) or not 0 < len(global_id) <= 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, pk = raw.partition(":")
    if not type_name or not (pk.isascii() and pk.isdigit()) or len(pk) > 12:
        return None
    if encode_id(type_name, int(pk)) != global_id:
        return None
    return type_name, int(pk)
