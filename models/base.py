"""Shared model parts: timestamps, and the normalised text every search reads."""

import unicodedata

from tortoise import fields
from tortoise.models import Model


class TimestampedModel(Model):
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True


def fold(text: str) -> str:
    """Lower-case, accent-free form of ``text``: "José Núñez" -> "jose nunez"."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def search_document(*parts: str | None) -> str:
    """The text stored in ``search_text`` columns: folded words and the digits of numbers."""
    words: list[str] = []
    for part in parts:
        if not part:
            continue
        words.append(fold(part))
        only_digits = digits(part)
        if len(only_digits) >= 3:
            words.append(only_digits)
    return " ".join(words)
