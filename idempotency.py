"""Idempotency keys (shared/API.md, "Batch and idempotency"): a mutation request sent with
``Idempotency-Key`` runs once per token and key; a retry with the same body within 24 hours
gets the first answer again and writes nothing.

The key is claimed by inserting its row (``models.IdempotencyKey``) before the mutation
runs: the unique index on (token, key) lets one of two concurrent requests in, on every
worker and instance. The other finds the row: another body is refused (``REUSED``); the
same body waits, a bounded time, for the first one's answer (``REPLAY``), else is told to
retry (``IN_PROGRESS``). An answer that says nothing was done for good reason of the moment
(a 5xx, a 429, a crash before the answer) is not kept: its claim is released, and a retry
runs. Expired keys are purged by any worker now and then (one ``DELETE``, safe to run from
several at once), and an expired key found on a claim is replaced.

Known edge: a process that dies between the mutation's commit and storing its answer
leaves the key in progress until it expires; the client then needs a new key.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from starlette.types import Message, Receive
from tortoise import timezone
from tortoise.exceptions import IntegrityError

from models import IdempotencyKey

HEADER = "idempotency-key"
HEADER_BYTES = HEADER.encode()
MAX_KEY_LENGTH = 255
KEPT_FOR = timedelta(hours=24)
# How long a retry waits for the first request's answer before it is told to come back.
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05
PURGE_EVERY_SECONDS = 60.0


class Verdict(Enum):
    RUN = "run"  # this request holds the key: run it, then ``complete`` or ``release``
    REPLAY = "replay"  # the first request's answer, to send again
    REUSED = "reused"  # the key was used with another body
    IN_PROGRESS = "in progress"  # the first request is still running


@dataclass(frozen=True, slots=True)
class Claim:
    verdict: Verdict
    row_id: int | None = None
    status: int | None = None
    content_type: str | None = None
    body: str | None = None


class HashedBody:
    """An ASGI ``receive`` that hashes (SHA-256) the request body as it is read."""

    __slots__ = ("_digest", "_receive")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._digest = hashlib.sha256()

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._digest.update(message.get("body", b""))
        return message

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class IdempotencyStore:
    """The keys of one process's requests; the rows are shared by all processes."""

    def __init__(self, wait_seconds: float = WAIT_SECONDS) -> None:
        self.wait_seconds = wait_seconds
        self._purged_at = float("-inf")

    async def claim(self, token_id: int, key: str, request_hash: str) -> Claim:
        await self._purge_now_and_then()
        for _ in range(3):  # an expired or released row found on the way: claim again
            now = timezone.now()
            try:
                row = await IdempotencyKey.create(
                    token_id=token_id, key=key, request_hash=request_hash,
                    expires_at=now + KEPT_FOR,
                )  # fmt: skip
                return Claim(Verdict.RUN, row.id)
            except IntegrityError:
                pass
            found = await self._first_answer(token_id, key, request_hash, now)
            if found is not None:
                return found
        return Claim(Verdict.IN_PROGRESS)

    async def _first_answer(
        self, token_id: int, key: str, request_hash: str, now
    ) -> Claim | None:
        """What the holder of the key answered (waiting for it a bounded time); None when
        the key is free again (expired, or released by a request that failed)."""
        row = await IdempotencyKey.get_or_none(token_id=token_id, key=key)
        if row is None:
            return None
        if row.expires_at <= now:
            await IdempotencyKey.filter(id=row.id, expires_at__lte=now).delete()
            return None
        if row.request_hash != request_hash:
            return Claim(Verdict.REUSED)
        deadline = time.monotonic() + self.wait_seconds
        while row.status is None:
            if time.monotonic() >= deadline:
                return Claim(Verdict.IN_PROGRESS)
            await asyncio.sleep(POLL_SECONDS)
            row = await IdempotencyKey.get_or_none(id=row.id)
            if row is None:
                return None
        return Claim(Verdict.REPLAY, row.id, row.status, row.content_type, row.body)

    async def complete(self, claim: Claim, status: int, content_type: str, body: str) -> None:
        """Keep the answer of the request that held the key."""
        await IdempotencyKey.filter(id=claim.row_id).update(
            status=status, content_type=content_type, body=body
        )

    async def release(self, claim: Claim) -> None:
        """Free the key: the request did not get an answer worth keeping."""
        await IdempotencyKey.filter(id=claim.row_id).delete()

    async def _purge_now_and_then(self) -> None:
        if time.monotonic() - self._purged_at < PURGE_EVERY_SECONDS:
            return
        self._purged_at = time.monotonic()
        await IdempotencyKey.filter(expires_at__lte=timezone.now()).delete()
