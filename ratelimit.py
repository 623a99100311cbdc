"""Rate limit: each caller may spend so many query-cost points per minute.

Windows are whole clock minutes, the same for every caller and every server process, so
``Retry-After`` is simply the time left in the current minute. A request that would go over
the budget is refused and spends nothing. The budget lives in this process by default, or
in Redis (``CRM_REDIS_URL``) so that several server processes share it; either way each
request costs one call to the store.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("crm.ratelimit")

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one charge: whether it fit, what is left, and when the window ends."""

    allowed: bool
    remaining: int
    retry_after: int  # seconds until the budget is whole again


class RateLimiter(Protocol):
    limit: int

    async def ping(self) -> None:
        """Raises when the store cannot be reached (checked at start-up)."""
        ...

    async def charge(self, subject: str, points: int) -> Verdict | None:
        """Spend ``points`` of ``subject``'s budget if they fit; ``None`` if the store is
        unreachable (the request then goes through: an outage of the store must not take
        the API down with it)."""
        ...

    async def close(self) -> None: ...


def _window(now: float) -> tuple[int, int]:
    """The current window's number and the whole seconds left in it (at least 1)."""
    window = int(now // WINDOW_SECONDS)
    return window, max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))


class MemoryRateLimiter:
    """Budgets kept in this process: right for a single server process."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.clock = clock
        self._window = -1
        self._used: dict[str, int] = {}

    async def charge(self, subject: str, points: int) -> Verdict:
        window, left = _window(self.clock())
        if window != self._window:
            # Windows are the same for everyone: a new one starts every budget afresh.
            self._window, self._used = window, {}
        used = self._used.get(subject, 0)
        if used + points > self.limit:
            return Verdict(False, self.limit - used, left)
        self._used[subject] = used + points
        return Verdict(True, self.limit - used - points, left)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


# Atomic in Redis: refuse without spending when the points do not fit, otherwise add them
# and make the key expire with its window.
_CHARGE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local points = tonumber(ARGV[1])
if used + points > tonumber(ARGV[2]) then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], points)
if used == points then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return {1, used}
"""


class RedisRateLimiter:
    """Budgets kept in Redis, shared by every server process that uses the same URL."""

    def __init__(
        self,
        url: str,
        limit: int,
        *,
        prefix: str = "crm:ratelimit:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        from redis.asyncio import Redis  # only needed when Redis is configured

        self.limit = limit
        self.prefix = prefix
        self.clock = clock
        # Short timeouts: a slow Redis must not hold requests up for long.
        self._redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._redis.register_script(_CHARGE)

    async def ping(self) -> None:
        await self._redis.ping()

    async def charge(self, subject: str, points: int) -> Verdict | None:
        window, left = _window(self.clock())
        key = f"{self.prefix}{subject}:{window}"
        try:
            allowed, used = await self._script(
                keys=[key], args=[points, self.limit, WINDOW_SECONDS + 5]
            )
        except Exception:  # any Redis failure: let the request through, and say so
            log.exception("rate limit store unreachable; request not limited")
            return None
        return Verdict(bool(allowed), self.limit - int(used), left)

    async def close(self) -> None:
        await self._redis.aclose()


def build_rate_limiter(points_per_minute: int, redis_url: str | None) -> RateLimiter | None:
    """The limiter the settings ask for; ``None`` when the limit is off (0 points)."""
    if points_per_minute <= 0:
        return None
    if redis_url:
        return RedisRateLimiter(redis_url, points_per_minute)
    return MemoryRateLimiter(points_per_minute)
