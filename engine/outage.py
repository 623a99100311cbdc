"""Whether a failure is the database being out of reach (down, restarting, refusing
connections, its file gone): such requests answer ``503 SERVICE_UNAVAILABLE`` with
``Retry-After`` and one log line, not a masked ``INTERNAL_SERVER_ERROR`` and a traceback."""

from __future__ import annotations

import sqlite3

from tortoise.exceptions import BaseORMException, DBConnectionError

try:
    import asyncpg
except ImportError:  # pragma: no cover - SQLite-only installations
    asyncpg = None

# Seconds a client is told to wait before retrying (``Retry-After``).
RETRY_AFTER_SECONDS = 5

# File-system errors are OSErrors too, but never a lost connection.
_FILE_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
                PermissionError)  # fmt: skip
# SQLite's primary result codes for a database it cannot reach: busy (locked past the
# timeout), I/O error, cannot open the file.
_SQLITE_OUTAGES = frozenset({5, 10, 14})
_OUTAGES: tuple[type[BaseException], ...] = (DBConnectionError,)  # e.g. no such database
if asyncpg is not None:
    _OUTAGES += (
        asyncpg.PostgresConnectionError,  # refused, or lost mid-statement (class 08)
        asyncpg.CannotConnectNowError,  # starting up or shutting down
        asyncpg.AdminShutdownError,
        asyncpg.CrashShutdownError,
        asyncpg.TooManyConnectionsError,
    )


def database_unavailable(error: BaseException | None) -> bool:
    """True when ``error``, or the driver's error it wraps, says the database cannot be
    reached."""
    for _ in range(8):
        if error is None:
            return False
        if _is_outage(error):
            return True
        error = _wrapped(error)
    return False


def _wrapped(error: BaseException) -> BaseException | None:
    """The error ``error`` was raised from: Tortoise's SQLite client wraps the driver's as
    its first argument, without ``from``."""
    if error.__cause__ is not None:
        return error.__cause__
    if isinstance(error, BaseORMException) and error.args:
        inner = error.args[0]
        return inner if isinstance(inner, BaseException) else None
    return None


def _is_outage(error: BaseException) -> bool:
    if isinstance(error, OSError):  # refused, reset, unreachable, timed out
        return not isinstance(error, _FILE_ERRORS)
    if isinstance(error, _OUTAGES):
        return True
    if isinstance(error, sqlite3.OperationalError):
        return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in _SQLITE_OUTAGES
    return False


def describe(error: BaseException) -> str:
    """One line for the log: the driver's error, the innermost of the chain."""
    for _ in range(8):
        inner = _wrapped(error)
        if inner is None:
            break
        error = inner
    return f"{type(error).__name__}: {error}".splitlines()[0]
