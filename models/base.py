"""Shared model parts: timestamps, and the normalised text every search reads."""

import unicodedata
from typing import Any

from tortoise import fields
from tortoise.models import Model


class TimestampedModel(Model):
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True

    async def save_changes(self, *names: str) -> None:
        """Write only these columns (and ``updated_at``): a concurrent change to another
        column of the row is not overwritten with the stale value this copy holds."""
        await self.save(update_fields=[*dict.fromkeys(names), "updated_at"])


def fold(text: str) -> str:
    """Lower-case, accent-free form of ``text``: "José Núñez" -> "jose nunez"."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def tag_keys(tags: list[str]) -> list[str]:
    """What tag filters compare, one per tag in order: ``["VIP", "Crédito"]`` ->
    ``["vip", "credito"]`` (stored in ``tag_keys`` beside the tags as typed)."""
    return [fold(tag) for tag in tags]


def with_tag_keys(values: dict[str, Any]) -> dict[str, Any]:
    """A tagged row's values with the ``tag_keys`` of its ``tags``, however it is made."""
    if values.get("tags") is not None and "tag_keys" not in values:
        values = {**values, "tag_keys": tag_keys(values["tags"])}
    return values


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
