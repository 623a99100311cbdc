"""Start-up builds what each dialect indexes search and tags with, on any database it finds.

Migrating the schema itself is tests/test_migrations.py's subject."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

INIT = """
import asyncio, sys
from models.db import close_database, init_database

async def main():
    await init_database("sqlite://" + sys.argv[1])
    await close_database()

asyncio.run(main())
"""


def _connection_on(dialect: str) -> Any:
    """The app's connection, for a test that reads what only ``dialect`` has; skipped on the
    other database (each suite run covers one: SQLite by default, PostgreSQL in CI's second)."""
    from tortoise import connections

    connection = connections.get("default")
    if connection.capabilities.dialect != dialect:
        pytest.skip(f"{dialect} only: the suite's run on {dialect} checks it")
    return connection


async def test_search_on_postgresql_is_served_by_a_trigram_index(app):
    connection = _connection_on("postgres")
    rows = await connection.execute_query_dict(
        "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%search_trgm'"
    )
    assert {row["indexname"] for row in rows} == {
        f"idx_{table}_search_trgm"
        for table in ("contact", "account", "location", "activity", "audit_event")
    }


async def test_postgresql_samples_search_text_finely_enough_to_estimate_rare_words(app):
    from models.db import SEARCH_TEXT_STATISTICS, SEARCHED_TABLES

    connection = _connection_on("postgres")
    rows = await connection.execute_query_dict(
        'SELECT attrelid::regclass::text AS "table", attstattarget FROM pg_attribute '
        "WHERE attname = 'search_text' AND attrelid::regclass::text = ANY($1)",
        [list(SEARCHED_TABLES)],
    )
    assert {row["table"]: row["attstattarget"] for row in rows} == {
        table: SEARCH_TEXT_STATISTICS for table in SEARCHED_TABLES
    }


OLDER_ROWS = (
    "INSERT INTO account (created_at, updated_at, name, is_vip, status, tags, tag_keys, "
    "custom_fields, search_text) VALUES ('2026-01-01', '2026-01-01', 'Andina', 0, 'ACTIVE', "
    "'[\"Mayorista\"]', '[\"mayorista\"]', '{}', 'acc-000001 andina')",
    "INSERT INTO location (created_at, updated_at, kind, name, is_default, search_text, "
    "account_id) VALUES ('2026-01-01', '2026-01-01', 'MAIN', 'Lima', 0, 'lima', 1)",
    "INSERT INTO contact (created_at, updated_at, first_name, last_name, is_vip, is_preferred, "
    "portal_user, email_opt_out, capture_source, converted_from_lead, status, tags, tag_keys, "
    "custom_fields, search_text, account_id, location_id) VALUES ('2026-01-01', '2026-01-01', "
    "'José', 'Pérez', 0, 0, 0, 0, 'MANUAL', 0, 'ACTIVE', '[\"Decisor\", \"Feria\"]', "
    "'[\"decisor\", \"feria\"]', '{}', 'con-000001 jose perez', 1, 1)",
)


def test_start_up_builds_the_sqlite_search_and_tag_indexes_of_an_older_database(tmp_path):
    path = tmp_path / "old.sqlite3"
    subprocess.run([sys.executable, "-c", INIT, str(path)], cwd=ROOT, check=True)
    with sqlite3.connect(path) as db:  # make it a database from before the side tables
        for name, kind in db.execute("SELECT name, type FROM sqlite_master WHERE type IN "
                                     "('trigger', 'table') AND (name GLOB '*_search*' OR "
                                     "name GLOB '*_tag*')").fetchall():  # fmt: skip
            if kind == "trigger" or name.endswith(("_search", "_tag_key")):
                db.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
        # The tag table of releases before tag_keys (the tags as typed): start-up drops it.
        db.execute('CREATE TABLE "contact_tag" ("tag" TEXT, "id" INTEGER)')
        for statement in OLDER_ROWS:
            db.execute(statement)
    subprocess.run([sys.executable, "-c", INIT, str(path)], cwd=ROOT, check=True)
    subprocess.run([sys.executable, "-c", INIT, str(path)], cwd=ROOT, check=True)  # idempotent
    with sqlite3.connect(path) as db:
        text = db.execute("SELECT rowid, search_text FROM contact_search").fetchall()
        matched = db.execute("SELECT rowid FROM contact_search WHERE contact_search MATCH "
                             "'\"per\" AND \"ere\" AND \"rez\"'").fetchall()  # fmt: skip
        tags = db.execute("SELECT tag, id FROM contact_tag_key ORDER BY tag").fetchall()
        account_tags = db.execute("SELECT tag, id FROM account_tag_key").fetchall()
        obsolete = db.execute("SELECT name FROM sqlite_master WHERE name = 'contact_tag'")
        obsolete = obsolete.fetchall()
        db.execute("UPDATE contact SET search_text = 'con-000001 jose quispe', tags = '[]', "
                   "tag_keys = '[]'")  # fmt: skip
        after = db.execute("SELECT search_text FROM contact_search").fetchall()
        tags_after = db.execute("SELECT tag FROM contact_tag_key").fetchall()
    assert text == [(1, "con-000001 jose perez")]
    assert matched == [(1,)]
    assert tags == [("decisor", 1), ("feria", 1)]
    assert account_tags == [("mayorista", 1)]
    assert obsolete == []
    assert after == [("con-000001 jose quispe",)]
    assert tags_after == []


async def test_the_sqlite_connection_reads_through_a_large_cache_and_a_memory_map(app):
    from models.db import SQLITE_READ_PRAGMAS

    connection = _connection_on("sqlite")
    for pragma, value in SQLITE_READ_PRAGMAS.items():
        [row] = await connection.execute_query_dict(f"PRAGMA {pragma}")
        assert list(row.values()) == [value], pragma


CONTACTS_OF_ACCOUNTS = "{ accounts { nodes { contacts(first: 1) { nodes { fullName } } } } }"


async def test_the_contacts_of_accounts_are_numbered_from_an_index_alone(client):
    from bench.capture import recording
    from tests.conftest import make_account, ok
    from tests.test_counts import create

    connection = _connection_on("sqlite")
    for name in ("Andina", "Pacífico"):
        account, _ = await make_account(name)
        for first_name in ("Ana", "Luis", "Rosa"):
            await create(client, account.id, first_name)
    with recording() as recorder:
        data = await ok(client, CONTACTS_OF_ACCOUNTS)
    assert [a["contacts"]["nodes"] for a in data["accounts"]["nodes"]] == [
        [{"fullName": "Ana Ruiz"}]
    ] * 2
    [page] = [s for s in recorder.statements if 'PARTITION BY "account_id"' in s.sql]
    _, plan = await connection.execute_query(f"EXPLAIN QUERY PLAN {page.sql}", list(page.params))
    details = [row["detail"] for row in plan]
    numbered = [d for d in details if d.startswith("SEARCH contact USING COVERING INDEX")]
    assert numbered and "idx_contact_account_" in numbered[0], details
