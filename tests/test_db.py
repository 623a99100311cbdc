"""Start-up completes an older database: missing columns and indexes are added, data kept."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

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


def test_start_up_adds_the_columns_an_older_database_lacks(tmp_path):
    path = tmp_path / "old.sqlite3"
    subprocess.run([sys.executable, "-c", INIT, str(path)], cwd=ROOT, check=True)
    with sqlite3.connect(path) as db:  # make it look like a database from before the column
        db.execute('ALTER TABLE "api_token" DROP COLUMN "allowed_fields"')
        db.execute("INSERT INTO crm_user (name, email, role, is_active, search_text, "
                   "created_at, updated_at) VALUES ('Ana', 'ana@crm.pe', 'ADMIN', 1, '', "
                   "'2026-01-01', '2026-01-01')")  # fmt: skip
    subprocess.run([sys.executable, "-c", INIT, str(path)], cwd=ROOT, check=True)
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute('PRAGMA table_info("api_token")')}
        indexes = {row[1] for row in db.execute('PRAGMA index_list("account")')}
        users = db.execute("SELECT name FROM crm_user").fetchall()
    assert "allowed_fields" in columns
    assert "idx_account_owner" in indexes
    assert users == [("Ana",)]


async def test_search_on_postgresql_is_served_by_a_trigram_index(app):
    from tortoise import connections

    connection = connections.get("default")
    if connection.capabilities.dialect != "postgres":
        pytest.skip("PostgreSQL only: the suite's PostgreSQL run (CRM_TEST_POSTGRES_URL) checks it")
    rows = await connection.execute_query_dict(
        "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%search_trgm'"
    )
    assert {row["indexname"] for row in rows} == {
        f"idx_{table}_search_trgm"
        for table in ("contact", "account", "location", "activity", "audit_event")
    }
