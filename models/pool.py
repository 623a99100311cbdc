"""The database connections of this process, counted for ``/metrics``: how many are in use,
how many callers wait for one, and how many there may be.

PostgreSQL: asyncpg's pool (Tortoise's client creates it; every statement and transaction
acquires a connection from it and releases it). SQLite: Tortoise's client has one
connection behind a lock, held for each statement and for a whole transaction; in use is
0 or 1, and waiting counts the statements and transactions queued behind it.

Hooked on the client object Tortoise made (its pool, or its lock), not on a subclass:
Tortoise picks its migrations' schema editor by the client class's module name.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from metrics import POOL_IN_USE, POOL_MAX, POOL_WAITING


class CountedPool:
    """asyncpg's pool as Tortoise uses it (``acquire``, ``release``, the rest passed on),
    counting callers waiting in ``acquire``; in use is the pool's own count after each."""

    __slots__ = ("pool",)

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        POOL_MAX.set(pool.get_max_size())
        POOL_IN_USE.set(0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)

    async def acquire(self, *, timeout: float | None = None) -> Any:
        POOL_WAITING.inc()
        try:
            connection = await self.pool.acquire(timeout=timeout)
        finally:
            POOL_WAITING.dec()
            self._note_in_use()
        return connection

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:
        try:
            await self.pool.release(connection, timeout=timeout)
        finally:
            self._note_in_use()

    def _note_in_use(self) -> None:
        POOL_IN_USE.set(self.pool.get_size() - self.pool.get_idle_size())


class CountedLock(asyncio.Lock):
    """The SQLite client's connection lock, counting who holds it and who waits."""

    async def acquire(self) -> bool:
        POOL_WAITING.inc()
        try:
            await super().acquire()
        finally:
            POOL_WAITING.dec()
        POOL_IN_USE.set(1)
        return True

    def release(self) -> None:
        super().release()
        POOL_IN_USE.set(0)


def count_connections(client: BaseDBAsyncClient) -> None:
    """Count ``client``'s connections from now on (its pool, and each pool it makes again
    after a close)."""
    if client.capabilities.dialect == "sqlite":
        if not isinstance(client._lock, CountedLock):
            client._lock = CountedLock()
            POOL_MAX.set(1)
            POOL_IN_USE.set(0)
        return
    create_pool = client.create_pool
    if getattr(create_pool, "counted", False):
        return

    async def counted_pool(**kwargs: Any) -> CountedPool:
        return CountedPool(await create_pool(**kwargs))

    counted_pool.counted = True  # type: ignore[attr-defined]
    client.create_pool = counted_pool
    if client._pool is not None:
        client._pool = CountedPool(client._pool)
