"""Connecting, creating the schema, and the constraints Tortoise cannot declare."""

from __future__ import annotations

import logging

from tortoise import Tortoise, connections

log = logging.getLogger("crm.db")

MODEL_MODULES = {"models": ["models"]}

# Partial unique indexes hold the contract's rules in the database itself; SQLite and
# PostgreSQL both honour them. IF NOT EXISTS keeps start-up idempotent.
CONSTRAINTS = (
    # One MAIN location per account.
    'CREATE UNIQUE INDEX IF NOT EXISTS "uq_location_main" ON "location" ("account_id") '
    "WHERE \"kind\" = 'MAIN'",
    # Rule 1: one preferred contact per location.
    'CREATE UNIQUE INDEX IF NOT EXISTS "uq_contact_preferred" ON "contact" ("location_id") '
    'WHERE "is_preferred"',
    # Rule 3: one primary channel per kind and contact.
    'CREATE UNIQUE INDEX IF NOT EXISTS "uq_channel_primary" ON "channel" ("contact_id", "kind") '
    'WHERE "is_primary"',
    # Rule 4: an email address belongs to at most one active contact.
    'CREATE UNIQUE INDEX IF NOT EXISTS "uq_channel_active_email" ON "channel" ("normalized") '
    'WHERE "kind" = \'EMAIL\' AND "contact_active"',
)

# Rule 8 narrows every read of an agent to the accounts their team owns.
INDEXES = (
    'CREATE INDEX IF NOT EXISTS "idx_account_owner" ON "account" ("owner_id", "id")',
    'CREATE INDEX IF NOT EXISTS "idx_user_team" ON "crm_user" ("team_id")',
)

# Free-text search is `search_text LIKE '%word%'` for every word: on PostgreSQL a trigram GIN
# index answers it without reading the table (contacts at 100k: 203 ms -> 3 ms a page).
SEARCHED_TABLES = ("contact", "account", "location", "activity", "audit_event")


async def _add_search_indexes(connection) -> None:
    try:
        await connection.execute_script("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as error:  # e.g. a role without the right to create extensions
        log.warning("search stays unindexed: pg_trgm is not available (%s)", error)
        return
    for table in SEARCHED_TABLES:
        await connection.execute_script(
            f'CREATE INDEX IF NOT EXISTS "idx_{table}_search_trgm" ON "{table}" '
            'USING gin ("search_text" gin_trgm_ops)'
        )


# Columns added after a table was first created: generate_schemas(safe=True) creates missing
# tables but never alters an existing one. (table, column, SQLite type, PostgreSQL type)
ADDED_COLUMNS = (("api_token", "allowed_fields", "JSON", "JSONB"),)


async def _add_missing_columns(connection) -> None:
    postgres = connection.capabilities.dialect == "postgres"
    for table, column, sqlite_type, postgres_type in ADDED_COLUMNS:
        if postgres:
            await connection.execute_script(
                f'ALTER TABLE "{table}" ADD COLUMN IF NOT EXISTS "{column}" {postgres_type}'
            )
            continue
        existing = await connection.execute_query_dict(f'PRAGMA table_info("{table}")')
        if column not in {row["name"] for row in existing}:
            log.info("adding column %s.%s", table, column)
            await connection.execute_script(
                f'ALTER TABLE "{table}" ADD COLUMN "{column}" {sqlite_type}'
            )


async def init_database(db_url: str, *, global_fallback: bool = True) -> None:
    """Connect, and create whatever tables, indexes and constraints are missing.

    Never drops or rewrites anything: an existing database keeps its data.
    """
    await Tortoise.init(
        db_url=db_url,
        modules=MODEL_MODULES,
        use_tz=True,
        timezone="UTC",
        _enable_global_fallback=global_fallback,
    )
    await Tortoise.generate_schemas(safe=True)
    connection = connections.get("default")
    await _add_missing_columns(connection)
    for statement in CONSTRAINTS + INDEXES:
        await connection.execute_script(statement)
    if connection.capabilities.dialect == "postgres":
        await _add_search_indexes(connection)
    if connection.capabilities.dialect == "sqlite":
        # Without statistics SQLite's planner takes the first index that fits, e.g. the
        # low-selectivity `is_preferred` one over `location_id` (a contact card took 12–125
        # ms at 100k contacts). A sampled ANALYZE stays quick on large files.
        await connection.execute_script("PRAGMA analysis_limit = 1000; ANALYZE;")


async def close_database() -> None:
    await Tortoise.close_connections()
