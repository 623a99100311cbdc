"""Connecting, migrating the schema, and the search and tag indexes of each dialect."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress

from tortoise import Tortoise, connections

from models.custom_fields import sqlite_filter_index
from models.migrate import migrate, schema_lock, tortoise_config
from models.pool import count_connections
from models.registry import ENTITIES

log = logging.getLogger("crm.db")

# Free-text search is `search_text LIKE '%word%'` for every word. On PostgreSQL a trigram GIN
# index answers it without reading the table (contacts at 100k: 203 ms -> 3 ms a page); SQLite
# gets an FTS5 trigram table per searched table (`contact_search` ...) that narrows the rows
# the LIKE then checks.
SEARCHED_TABLES = tuple(entity.table for entity in ENTITIES if entity.searched)
# Tables whose tags are filtered on, through their folded JSON `tag_keys` lists: a GIN index
# on PostgreSQL, a `<table>_tag_key` table of (tag key, row id) on SQLite, where JSON cannot be
# indexed.
TAGGED_TABLES = tuple(entity.table for entity in ENTITIES if entity.tagged)

# The SQLite tables start-up created (or found): only those may be queried.
_sqlite_text_indexes: set[str] = set()
_sqlite_tag_indexes: set[str] = set()


def text_index(table: str) -> str | None:
    """The FTS5 table that narrows ``table``'s search on SQLite, if there is one."""
    name = f"{table}_search"
    return name if name in _sqlite_text_indexes else None


def tag_index(table: str) -> str | None:
    """The (tag key, id) table of ``table`` on SQLite, if there is one."""
    name = f"{table}_tag_key"
    return name if name in _sqlite_tag_indexes else None


# PostgreSQL's GIN indexes by name: on tag_keys, and (with pg_trgm) on search_text.
_POSTGRES_TAG_INDEXES = {
    f"idx_{table}_tag_keys": f'ON "{table}" USING gin ("tag_keys")' for table in TAGGED_TABLES
}
# The indexes of releases before tag_keys, on the tags as typed: dropped at start-up.
_OBSOLETE_POSTGRES_INDEXES = tuple(f"idx_{table}_tags" for table in TAGGED_TABLES)
_OBSOLETE_SQLITE_TABLES = tuple(f"{table}_tag" for table in TAGGED_TABLES)
# The JSONB containment of the lists' `customField` filter (`custom_fields @> {"k": v}`).
_POSTGRES_CUSTOM_FIELD_INDEXES = {
    f"idx_{table}_custom_fields": f'ON "{table}" USING gin ("custom_fields" jsonb_path_ops)'
    for table in ("account", "contact")
}
_POSTGRES_TRIGRAM_INDEXES = {
    f"idx_{table}_search_trgm": f'ON "{table}" USING gin ("search_text" gin_trgm_ops)'
    for table in SEARCHED_TABLES
}


async def _add_postgres_search_indexes(connection) -> None:
    for name in _OBSOLETE_POSTGRES_INDEXES:
        await connection.execute_script(f'DROP INDEX IF EXISTS "{name}"')
    for name, definition in (_POSTGRES_TAG_INDEXES | _POSTGRES_CUSTOM_FIELD_INDEXES).items():
        await connection.execute_script(f'CREATE INDEX IF NOT EXISTS "{name}" {definition}')
    try:
        await connection.execute_script("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as error:  # e.g. a role without the right to create extensions
        log.warning("search stays unindexed: pg_trgm is not available (%s)", error)
        return
    for name, definition in _POSTGRES_TRIGRAM_INDEXES.items():
        await connection.execute_script(f'CREATE INDEX IF NOT EXISTS "{name}" {definition}')
    await _sample_search_text_finely(connection)


# PostgreSQL estimates `search_text LIKE '%word%'` from a sample of the column. With the
# default sample a rare word was taken for a common one: 9,727 contacts expected for 414 at
# 1M contacts, so the planner walked the name-ordered index and filtered (0.8-1.4 s) instead
# of asking the trigram index (3 ms). A ten times finer sample puts the estimate right; its
# cost is a longer ANALYZE (5 s for 1M contacts) and ~0.5 ms more planning per search.
SEARCH_TEXT_STATISTICS = 1000


async def _sample_search_text_finely(connection) -> None:
    """Set the finer sample where it is not set yet, and take it at once (ANALYZE)."""
    rows = await connection.execute_query_dict(
        'SELECT attrelid::regclass::text AS "table" FROM pg_attribute '
        "WHERE attname = 'search_text' AND attrelid::regclass::text = ANY($1) "
        "AND attstattarget IS DISTINCT FROM $2",
        [list(SEARCHED_TABLES), SEARCH_TEXT_STATISTICS],
    )
    for table in sorted(row["table"] for row in rows):
        log.info("sampling %s.search_text finely (ANALYZE)", table)
        await connection.execute_script(
            f'ALTER TABLE "{table}" ALTER COLUMN "search_text" '
            f'SET STATISTICS {SEARCH_TEXT_STATISTICS}; ANALYZE "{table}"'
        )


def _text_index_sql(table: str) -> tuple[str, str]:
    """An FTS5 trigram copy of ``table.search_text``, kept by triggers, and its backfill.

    Triggers keep it in step with every write, whichever code path makes it. It keeps its own
    copy of the text (not ``content=``): deleting from an external-content index needs the
    old text exactly, and a mismatch corrupts it. ``detail=none`` stores no positions (a
    third of the size); queries AND the trigrams of each word and the LIKE on the table
    checks the rest.
    """
    index = f"{table}_search"
    create = f"""
        CREATE VIRTUAL TABLE IF NOT EXISTS "{index}"
            USING fts5("search_text", tokenize = 'trigram', detail = 'none', columnsize = 0);
        CREATE TRIGGER IF NOT EXISTS "{index}_insert" AFTER INSERT ON "{table}" BEGIN
            INSERT INTO "{index}" ("rowid", "search_text") VALUES (new."id", new."search_text");
        END;
        CREATE TRIGGER IF NOT EXISTS "{index}_update" AFTER UPDATE OF "search_text" ON "{table}"
        BEGIN
            DELETE FROM "{index}" WHERE "rowid" = old."id";
            INSERT INTO "{index}" ("rowid", "search_text") VALUES (new."id", new."search_text");
        END;
        CREATE TRIGGER IF NOT EXISTS "{index}_delete" AFTER DELETE ON "{table}" BEGIN
            DELETE FROM "{index}" WHERE "rowid" = old."id";
        END;
    """
    backfill = (
        f'INSERT INTO "{index}" ("rowid", "search_text") SELECT "id", "search_text" '
        f'FROM "{table}" WHERE "id" NOT IN (SELECT "rowid" FROM "{index}")'
    )
    return create, backfill


def _tag_index_sql(table: str) -> tuple[str, str]:
    """A (tag key, id) table of ``table``'s JSON ``tag_keys`` lists, kept by triggers, and its
    backfill."""
    index = f"{table}_tag_key"

    def tags_of(row: str) -> str:  # the text elements of a row's list
        return f'SELECT "value" FROM json_each({row}."tag_keys") WHERE "type" = \'text\''

    add = (
        f'INSERT OR IGNORE INTO "{index}" ("tag", "id") '
        f'SELECT "value", new."id" FROM ({tags_of("new")});'
    )
    remove = f'DELETE FROM "{index}" WHERE "id" = old."id" AND "tag" IN ({tags_of("old")});'
    create = f"""
        CREATE TABLE IF NOT EXISTS "{index}" (
            "tag" TEXT NOT NULL, "id" INTEGER NOT NULL, PRIMARY KEY ("tag", "id")
        ) WITHOUT ROWID;
        CREATE TRIGGER IF NOT EXISTS "{index}_insert" AFTER INSERT ON "{table}" BEGIN
            {add}
        END;
        CREATE TRIGGER IF NOT EXISTS "{index}_update" AFTER UPDATE OF "tag_keys" ON "{table}" BEGIN
            {remove}
            {add}
        END;
        CREATE TRIGGER IF NOT EXISTS "{index}_delete" AFTER DELETE ON "{table}" BEGIN
            {remove}
        END;
    """
    backfill = (
        f'INSERT OR IGNORE INTO "{index}" ("tag", "id") SELECT "each"."value", "row"."id" '
        f'FROM "{table}" AS "row", json_each("row"."tag_keys") AS "each" '
        'WHERE "each"."type" = \'text\''
    )
    return create, backfill


async def _exists(connection, name: str) -> bool:
    found = await connection.execute_query_dict(
        "SELECT 1 FROM sqlite_master WHERE name = ?", [name]
    )
    return bool(found)


async def _add_sqlite_side_index(connection, name: str, create: str, backfill: str) -> bool:
    """Create a trigger-kept side table unless it exists, and fill it in the same transaction,
    so no database holds one that misses rows. False if this SQLite cannot build it."""
    if await _exists(connection, name):
        await connection.execute_script(create)  # triggers an older version lacked
        return True
    log.info("building %s", name)
    try:
        # IMMEDIATE: a second worker starting at the same time waits, then fills nothing twice.
        await connection.execute_script(f"BEGIN IMMEDIATE; {create}; {backfill}; COMMIT;")
    except Exception as error:  # e.g. SQLite before 3.34 has no trigram tokenizer
        with suppress(Exception):  # the transaction may never have begun
            await connection.execute_script("ROLLBACK")
        if await _exists(connection, name):  # another worker built it meanwhile
            return True
        log.warning("%s not built: its lists read the whole table (%s)", name, error)
        return False
    return True


def _sqlite_side_tables() -> Iterator[tuple[str, str, str, set[str]]]:
    """Every SQLite side table: its name, its SQL (create, backfill) and the set that records
    it as built."""
    for table in SEARCHED_TABLES:
        yield f"{table}_search", *_text_index_sql(table), _sqlite_text_indexes
    for table in TAGGED_TABLES:
        yield f"{table}_tag_key", *_tag_index_sql(table), _sqlite_tag_indexes


async def _drop_sqlite_side_table(connection, name: str) -> None:
    for event in ("insert", "update", "delete"):  # the triggers the create SQL names
        await connection.execute_script(f'DROP TRIGGER IF EXISTS "{name}_{event}"')
    await connection.execute_script(f'DROP TABLE IF EXISTS "{name}"')


async def _add_sqlite_search_indexes(connection) -> None:
    for name in _OBSOLETE_SQLITE_TABLES:  # of the tags as typed, before tag_keys
        if await _exists(connection, name):
            await _drop_sqlite_side_table(connection, name)
    for name, create, backfill, built in _sqlite_side_tables():
        if await _add_sqlite_side_index(connection, name, create, backfill):
            built.add(name)
    await add_sqlite_custom_field_indexes(connection)


async def add_sqlite_custom_field_indexes(connection) -> None:
    """The expression index of every defined custom field (``sqlite_filter_index``); the
    definition mutations build a new key's own at once."""
    _, rows = await connection.execute_query(
        "SELECT entity, key, type FROM custom_field_definition"
    )
    for row in rows:
        create = sqlite_filter_index(row["entity"], row["key"], row["type"])
        if create is not None:
            await connection.execute_script(create)


@asynccontextmanager
async def search_indexes_suspended(connection) -> AsyncIterator[None]:
    """For a bulk load: the search and tag indexes dropped inside, built again after (one
    backfill or index build each). SQLite's side tables cost an FTS5 insert per written row
    through their triggers (the demo's 100k contacts took over half an hour instead of three
    minutes); PostgreSQL's GIN indexes an index update per row."""
    sqlite = connection.capabilities.dialect == "sqlite"
    if sqlite:
        for name, _, _, built in _sqlite_side_tables():
            await _drop_sqlite_side_table(connection, name)
            built.discard(name)
    else:
        for name in [*_POSTGRES_TAG_INDEXES, *_POSTGRES_CUSTOM_FIELD_INDEXES,
                     *_POSTGRES_TRIGRAM_INDEXES]:
            await connection.execute_script(f'DROP INDEX IF EXISTS "{name}"')
    try:
        yield
    finally:
        if sqlite:
            await _add_sqlite_search_indexes(connection)
        else:
            await _add_postgres_search_indexes(connection)


# The one connection of a process reads its pages from SQLite's own cache or a memory map
# rather than one read() each from the OS: with the 2 MB default, a 50-contact page of a
# 100k-contact file re-read most of its index pages every request.
SQLITE_READ_PRAGMAS = {"cache_size": -64 * 1024, "mmap_size": 256 * 1024 * 1024}  # 64 MiB, 256 MiB


async def init_database(db_url: str, *, global_fallback: bool = True) -> list[str]:
    """Connect, and bring the schema up to date: the pending migrations, then the search and
    tag indexes of the dialect. Returns the names of the migrations it applied.

    Never drops or rewrites data. Two processes starting at once take turns (a lock).
    """
    await Tortoise.init(config=tortoise_config(db_url), _enable_global_fallback=global_fallback)
    count_connections(connections.get("default"))
    try:
        return await _bring_schema_up_to_date(connections.get("default"))
    except BaseException:
        # An open SQLite connection's thread would keep the process from ever exiting.
        await Tortoise.close_connections()
        raise


async def _bring_schema_up_to_date(connection) -> list[str]:
    async with schema_lock(connection):
        applied = await migrate(connection)
        if connection.capabilities.dialect == "postgres":
            await _add_postgres_search_indexes(connection)
        if connection.capabilities.dialect == "sqlite":
            for pragma, value in SQLITE_READ_PRAGMAS.items():
                await connection.execute_script(f"PRAGMA {pragma} = {value}")
            await _add_sqlite_search_indexes(connection)
            # Without statistics SQLite's planner takes the first index that fits, e.g. the
            # low-selectivity `is_preferred` one over `location_id` (a contact card took 12–125
            # ms at 100k contacts). A sampled ANALYZE stays quick on large files.
            await connection.execute_script("PRAGMA analysis_limit = 1000; ANALYZE;")
    return applied


async def close_database() -> None:
    await Tortoise.close_connections()
