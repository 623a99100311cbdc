"""Migrations: applying them, bringing a database of the release before them under them, and
the lock that lets two processes start at once.

The migrations are Tortoise's own (``models/migrations/``, written by ``tortoise
makemigrations``); docs/migrations.md says how to make one.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget
from tortoise.migrations.graph import MigrationKey
from tortoise.migrations.migration import Migration
from tortoise.migrations.operations import RunSQL
from tortoise.migrations.schema_generator.state import State
from tortoise.migrations.schema_generator.state_apps import StateApps

log = logging.getLogger("crm.db")

# The one app: its models and its migrations package (`tortoise makemigrations` writes there).
APP = "models"
MIGRATIONS = "models.migrations"
APP_CONFIG = {"models": ["models"], "migrations": MIGRATIONS, "default_connection": "default"}
# The schema of the last release before migrations (26d5e2a), as a migration.
FIRST = "0001_initial"
# Where Tortoise records the applied migrations.
HISTORY_TABLE = "tortoise_migrations"
# Key of the PostgreSQL advisory lock one process holds while it changes the schema.
SCHEMA_LOCK_KEY = 7_300_452
# Seconds a SQLite start-up waits for another one's migrations (a large file's first side
# table build takes a while).
SQLITE_LOCK_TIMEOUT = 600


def tortoise_config(db_url: str) -> dict[str, Any]:
    """Tortoise's configuration for ``db_url``: what start-up and the ``tortoise`` CLI use."""
    return {
        "connections": {"default": connection_config(db_url)},
        "apps": {APP: dict(APP_CONFIG)},
        "use_tz": True,
        "timezone": "UTC",
    }


def connection_config(db_url: str) -> dict[str, Any]:
    """The connection of ``db_url`` as Tortoise's client takes it; on PostgreSQL its asyncpg
    pool hands connections back as they are (``keep_session``)."""
    config = expand_db_url(db_url)
    if config["engine"] == "tortoise.backends.asyncpg":
        # Tortoise passes the credentials it does not know on to asyncpg.create_pool.
        config["credentials"]["reset"] = keep_session
    return config


async def keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset of a connection going back: nothing more than asyncpg's own part of
    it (rolling back a transaction left open).

    asyncpg's default sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
    ALL`` on every release, one more round trip per statement. Nothing run on the pool leaves
    such state behind: the schema lock unlocks itself (``schema_lock``), and anything that
    needs LISTEN, session settings or session locks takes a connection of its own.
    """


class UnknownSchemaError(RuntimeError):
    """The database has tables but no migration history, and they are not the release's."""


async def migrate(connection: BaseDBAsyncClient) -> list[str]:
    """Apply every pending migration, and return their names.

    A database made by the release before migrations (its tables, no history) is first
    checked to hold exactly that schema and recorded as being at ``0001_initial``; an empty
    one gets every migration.
    """
    await _adopt_release_schema(connection)
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            log.info("applied migration %s.%s", app_label, name)
            applied.append(name)

    await _executor(connection).migrate(direction="forward", progress=progress)
    return applied


def _executor(connection: BaseDBAsyncClient) -> MigrationExecutor:
    return MigrationExecutor(connection, {APP: dict(APP_CONFIG)})


async def _adopt_release_schema(connection: BaseDBAsyncClient) -> None:
    tables = await _tables(connection)
    if HISTORY_TABLE in tables and await _has_history(connection):
        return
    executor = _executor(connection)
    executor.loader.load_disk()
    first = executor.loader.disk_migrations[MigrationKey(app_label=APP, name=FIRST)]
    expected_columns, expected_indexes = await _schema_of(first)
    if not tables & expected_columns.keys():
        return  # an empty database: the migrations create everything
    problems = [
        f"table {table}: missing columns {sorted(columns - found)}, unexpected "
        f"{sorted(found - columns)}"
        for table, columns in sorted(expected_columns.items())
        if (found := await _columns(connection, table)) != columns
    ]
    missing_indexes = expected_indexes - await _indexes(connection)
    if missing_indexes:
        problems.append(f"missing indexes {sorted(missing_indexes)}")
    if problems:
        raise UnknownSchemaError(
            "The database has tables but no migration history, and its schema is not the one "
            f"of {APP}.{FIRST} (the release before migrations): "
            + "; ".join(problems)
            + ". A database of an older release: start release 26d5e2a on it once first."
        )
    log.info("database of the release before migrations: recording it as %s.%s", APP, FIRST)
    await executor.migrate([MigrationTarget(app_label=APP, name=FIRST)], fake=True)


async def _schema_of(migration: Migration) -> tuple[dict[str, set[str]], set[str]]:
    """The tables (with their columns) a first migration creates, and the indexes it names."""
    state = State(models={}, apps=StateApps())
    await migration.apply(state, dry_run=True)
    columns = {
        model.table: {field.source_field or name for name, field in model.fields.items()}
        for model in state.models.values()
    }
    indexes = {
        name
        for operation in migration.operations
        if isinstance(operation, RunSQL)
        for statement in operation.sql
        for name in re.findall(r'CREATE (?:UNIQUE )?INDEX "(\w+)"', statement)
    }
    return columns, indexes


async def _tables(connection: BaseDBAsyncClient) -> set[str]:
    if connection.capabilities.dialect == "postgres":
        rows = await connection.execute_query_dict(
            "SELECT table_name AS name FROM information_schema.tables "
            "WHERE table_schema = current_schema()"
        )
    else:
        rows = await connection.execute_query_dict(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    return {row["name"] for row in rows}


async def _columns(connection: BaseDBAsyncClient, table: str) -> set[str]:
    if connection.capabilities.dialect == "postgres":
        rows = await connection.execute_query_dict(
            "SELECT column_name AS name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = $1",
            [table],
        )
    else:
        rows = await connection.execute_query_dict(f'PRAGMA table_info("{table}")')
    return {row["name"] for row in rows}


async def _indexes(connection: BaseDBAsyncClient) -> set[str]:
    if connection.capabilities.dialect == "postgres":
        rows = await connection.execute_query_dict(
            "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema()"
        )
    else:
        rows = await connection.execute_query_dict(
            "SELECT name FROM sqlite_master WHERE type = 'index'"
        )
    return {row["name"] for row in rows}


async def _has_history(connection: BaseDBAsyncClient) -> bool:
    placeholder = "$1" if connection.capabilities.dialect == "postgres" else "?"
    rows = await connection.execute_query_dict(
        f'SELECT 1 FROM "{HISTORY_TABLE}" WHERE "app" = {placeholder} LIMIT 1', [APP]
    )
    return bool(rows)


@asynccontextmanager
async def schema_lock(connection: BaseDBAsyncClient) -> AsyncIterator[None]:
    """Held while one process changes the schema; a second one starting meanwhile waits, then
    finds nothing left to do. PostgreSQL: a session advisory lock on a connection of its own
    (the migrations run on the pool's others). SQLite: an exclusive transaction on a small
    file beside the database, SQLite's own file locking on every platform (the migrations
    open their own transactions, so BEGIN IMMEDIATE on the database cannot wrap them).
    """
    if connection.capabilities.dialect == "postgres":
        async with connection.acquire_connection() as session:
            try:
                await session.execute("SELECT pg_advisory_lock($1)", SCHEMA_LOCK_KEY)
                yield
            finally:
                await _unlock(session)
        return
    filename = getattr(connection, "filename", ":memory:")
    if filename == ":memory:":  # no other process can open it
        yield
        return
    lock = sqlite3.connect(
        f"{filename}.lock",
        timeout=SQLITE_LOCK_TIMEOUT,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        await asyncio.to_thread(lock.execute, "BEGIN EXCLUSIVE")
        yield
    finally:
        lock.close()  # ends the transaction, releasing the lock


async def _unlock(session: asyncpg.Connection) -> None:
    """Let the schema lock go before its connection goes back to the pool, which does not
    reset it (``keep_session``): a lock kept by an idle pooled connection would hold every
    other process's start-up forever.

    ``pg_advisory_unlock_all``: the connection holds no other advisory lock, and it also
    frees a lock granted just as waiting for it was cancelled. If even that fails, ending the
    session frees the lock.
    """
    try:
        await session.execute("SELECT pg_advisory_unlock_all()")
    except BaseException as error:
        # Ending the session frees the lock. A connection already lost is detached from its
        # proxy (InterfaceError): nothing is left to end, and the error that lost it says more.
        with suppress(asyncpg.InterfaceError):
            session.terminate()
        if not isinstance(error, asyncpg.InterfaceError):
            raise
