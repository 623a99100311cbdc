"""Migrations: the previous release's database upgrades at start-up with every row intact, a
database migrated from empty has the release's schema and the models' one, and migrating is
idempotent and safe with two processes at once.

Each test works on a database of its own (a temporary SQLite file, or a scratch PostgreSQL
database next to ``CRM_TEST_POSTGRES_URL``) through subprocesses, so the session's app and
Tortoise's global state are never touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
RELEASE_TOKEN = "fixture-admin-token"  # the admin token the fixtures were made with
# Every migration of the project, in order, and the history a migrated database records.
MIGRATIONS = sorted(path.stem for path in (ROOT / "models" / "migrations").glob("0*.py"))
APPLIED = [("models", name) for name in MIGRATIONS]
HISTORY = "tortoise_migrations"
POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL")
RELEASE_TABLES = {
    "account", "location", "contact", "channel", "activity", "audit_event", "crm_user", "team",
    "api_token",
}  # fmt: skip
# Indexes earlier versions declared and the release dropped: they must not come back.
RETIRED_INDEXES = {
    "idx_contact_role_083898",
    "idx_contact_lead_so_949642",
    "idx_contact_is_vip_13fda3",
    "idx_contact_is_pref_af83dd",
    "idx_contact_account_c29b0a",
    "idx_contact_locatio_24076f",
}

DIALECTS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="CRM_TEST_POSTGRES_URL is not set"),
    ),
]

# The app over a database, as the server runs it: start-up, then (with a query) one GraphQL
# request as a client sends it.
APP = """
import asyncio, sys
import httpx
from server import build_app
from settings import Settings

async def main(url, token, query=None):
    app = build_app(Settings(database_url=url, admin_token=token))
    async with app.router.lifespan_context(app):
        if query is None:
            return
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.post("/graphql", json={"query": query},
                                       headers={"Authorization": f"Bearer {token}"})
    print(response.text)

asyncio.run(main(*sys.argv[1:]))
"""

QUERY = """{
  accounts(first: 100) { totalCount nodes { name } }
  contacts(first: 100, filter: { includeInactive: true }) { totalCount nodes { fullName } }
  search: contacts(search: "a") { totalCount }
}"""

# What the autodetector (`tortoise makemigrations`) would write for the models as they are.
PENDING_CHANGES = """
import asyncio, json
from tortoise import Tortoise
from tortoise.migrations.autodetector import MigrationAutodetector
from models.migrate import APP, APP_CONFIG, tortoise_config

async def main():
    await Tortoise.init(config=tortoise_config("sqlite://:memory:"))
    writers = await MigrationAutodetector(Tortoise.apps, {APP: dict(APP_CONFIG)}).changes()
    print(json.dumps([op.describe() for writer in writers for op in writer.operations]))
    await Tortoise.close_connections()

asyncio.run(main())
"""


@dataclass
class Database:
    """A scratch database of one dialect: its URL, and SQL-level reads that need no ORM."""

    dialect: str
    url: str

    async def execute(self, script: str) -> None:
        if self.dialect == "sqlite":
            with sqlite3.connect(self.path) as db:
                db.executescript(script)
            return
        connection = await asyncpg.connect(self.url)
        try:
            await connection.execute(script)
        finally:
            await connection.close()

    async def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.dialect == "sqlite":
            with sqlite3.connect(self.path) as db:
                return db.execute(sql).fetchall()
        connection = await asyncpg.connect(self.url)
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()

    @property
    def path(self) -> str:
        return self.url.removeprefix("sqlite://")

    async def restore_release(self) -> None:
        await self.execute((FIXTURES / f"release.{self.dialect}.sql").read_text())

    async def tables(self) -> set[str]:
        if self.dialect == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        else:
            sql = ("SELECT table_name FROM information_schema.tables "
                   "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")  # fmt: skip
        return {name for (name,) in await self.query(sql)}

    async def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table but the migration history, in a stable order."""
        rows = {}
        for table in sorted(await self.tables() - {HISTORY}):
            rows[table] = sorted(await self.query(f'SELECT * FROM "{table}"'), key=repr)
        if self.dialect == "sqlite":  # the FTS5 tables' own copies of the text
            for (name,) in await self.query("SELECT name FROM sqlite_master WHERE sql LIKE "
                                            "'CREATE VIRTUAL TABLE%'"):  # fmt: skip
                rows[name] = await self.query(f'SELECT rowid, * FROM "{name}" ORDER BY rowid')
        return rows

    async def columns(self, table: str) -> list[str]:
        """``table``'s columns in their order."""
        sql = (f"SELECT name FROM pragma_table_info('{table}')" if self.dialect == "sqlite" else
               "SELECT column_name FROM information_schema.columns "
               f"WHERE table_name = '{table}' ORDER BY ordinal_position")  # fmt: skip
        return [name for (name,) in await self.query(sql)]

    async def history(self) -> list[tuple[str, str]]:
        return await self.query(f'SELECT "app", "name" FROM "{HISTORY}" ORDER BY "id"')

    async def schema(self) -> dict[str, Any]:
        """Tables, columns, foreign keys, indexes, constraints and triggers, compared by
        structure (not by the whitespace of their SQL); the migration history left out."""
        if self.dialect == "postgres":
            return await self._postgres_schema()
        schema: dict[str, Any] = {}
        objects = await self.query("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                   "WHERE name NOT LIKE 'sqlite_stat%' AND tbl_name != "
                                   f"'{HISTORY}' AND name != 'sqlite_sequence'")  # fmt: skip
        for kind, name, table, sql in objects:
            if kind == "table":
                schema[f"table {name}"] = (
                    await self.query(f'PRAGMA table_info("{name}")'),
                    await self.query(f'PRAGMA foreign_key_list("{name}")'),
                    _words(sql) if sql.startswith("CREATE VIRTUAL") else None,
                )
            else:
                index = kind == "index"
                columns = await self.query(f'PRAGMA index_info("{name}")') if index else []
                schema[f"{kind} {name}"] = (table, columns, _words(sql) if sql else None)
        return schema

    async def _postgres_schema(self) -> dict[str, Any]:
        columns = await self.query(
            "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, "
            "column_default FROM information_schema.columns WHERE table_schema = 'public' "
            f"AND table_name != '{HISTORY}'"
        )
        indexes = await self.query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            f"AND tablename != '{HISTORY}'"
        )
        constraints = await self.query(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
            f"AND conrelid::regclass::text != '{HISTORY}'"
        )
        return {
            "columns": sorted(columns, key=repr),
            "indexes": sorted(indexes),
            "constraints": sorted(constraints),
        }

    async def indexes(self) -> set[str]:
        if self.dialect == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'index'"
        else:
            sql = "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
        return {name for (name,) in await self.query(sql)}


def _tag_keys_apart(before: dict[str, list], after: dict[str, list]) -> None:
    """What 0006 adds to the rows of the release, checked and taken out of ``after``: the last
    column of accounts and contacts, their tags folded; SQLite's tag tables hold the folded
    tags (``<table>_tag_key``) instead of the tags as typed (``<table>_tag``)."""
    from models.base import fold

    for table in ("account", "contact"):
        for row in after[table]:
            keys = row[-1] if isinstance(row[-1], list) else json.loads(row[-1])
            assert all(key == fold(key) for key in keys), row
        after[table] = sorted((row[:-1] for row in after[table]), key=repr)
        typed = before.pop(f"{table}_tag", None)
        if typed is not None:
            before[f"{table}_tag_key"] = sorted({(fold(tag), pk) for tag, pk in typed}, key=repr)
            after[f"{table}_tag_key"] = sorted(after[f"{table}_tag_key"], key=repr)


def _select(table: str, columns: list[str]) -> str:
    names = ", ".join(f'"{column}"' for column in columns)
    return f'SELECT {names} FROM "{table}" ORDER BY "id"'


def _words(sql: str) -> str:
    return " ".join(re.sub(r"([(),])", r" \1 ", sql).split())


@asynccontextmanager
async def scratch(dialect: str, tmp_path: Path, name: str) -> AsyncIterator[Database]:
    """An empty database of ``dialect``, dropped afterwards (PostgreSQL: ``<suite db>_<name>``
    on the suite's server)."""
    if dialect == "sqlite":
        yield Database("sqlite", f"sqlite://{tmp_path / name}.sqlite3")
        return
    assert POSTGRES_URL is not None
    base, suite_database = POSTGRES_URL.rsplit("/", 1)
    database = f"{suite_database}_{name}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
        yield Database("postgres", f"{base}/{database}")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def run(*args: str, cwd: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def start_up(url: str) -> None:
    """The app's start-up over ``url`` (it migrates), as the release's admin token."""
    run("-c", APP, url, RELEASE_TOKEN)


def answer(url: str, cwd: Path = ROOT) -> dict[str, Any]:
    """Start the app over ``url`` and ask QUERY as the release's admin."""
    body = json.loads(run("-c", APP, url, RELEASE_TOKEN, QUERY, cwd=cwd).stdout)
    assert "errors" not in body, body["errors"]
    return body["data"]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_database_of_the_previous_release_upgrades_at_start_up_with_every_row_intact(
    dialect, tmp_path
):
    async with scratch(dialect, tmp_path, "release") as db:
        await db.restore_release()
        before = await db.rows()
        assert before.keys() >= RELEASE_TABLES
        assert all(before[table] for table in RELEASE_TABLES), "the fixture fills every table"

        old_channel_columns = await db.columns("channel")
        before_channels = await db.query(_select("channel", old_channel_columns))

        start_up(db.url)

        after = await db.rows()
        # 0003 adds Channel.e164 and makes a phone's `normalized` its E.164 digits.
        assert after.pop("channel") != before.pop("channel")
        _tag_keys_apart(before, after)
        assert {table: after[table] for table in before} == before
        unchanged = [c for c in old_channel_columns if c != "normalized"]
        assert await db.query(_select("channel", unchanged)) == [
            tuple(row[old_channel_columns.index(c)] for c in unchanged) for row in before_channels
        ]
        channels = await db.query('SELECT "kind", "value", "normalized", "e164" FROM "channel"')
        phones = [row for row in channels if row[0] != "EMAIL"]
        assert phones and all(e164 == "+" + normalized == "+" + "".join(filter(str.isdigit, value))
                              for _, value, normalized, e164 in phones)  # fmt: skip
        assert all(e164 is None for kind, _, _, e164 in channels if kind == "EMAIL")
        added = after.keys() - before.keys()  # the tables of later migrations: empty
        assert "outbox" in added and all(after[table] == [] for table in added)
        assert await db.history() == APPLIED
        data = answer(db.url)
        names = await db.query('SELECT "name" FROM "account"')
        contacts = await db.query('SELECT "first_name", "last_name" FROM "contact"')
        assert sorted(n["name"] for n in data["accounts"]["nodes"]) == sorted(n for (n,) in names)
        assert data["contacts"]["totalCount"] == len(contacts) == len(before["contact"])
        assert sorted(n["fullName"] for n in data["contacts"]["nodes"]) == sorted(
            f"{first} {last}" for first, last in contacts
        )
        assert 0 < data["search"]["totalCount"] <= len(contacts)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_the_migrations_build_exactly_what_the_previous_release_upgrades_to(
    dialect, tmp_path
):
    # The first migration is the release's schema (adoption checks it before recording it),
    # so an empty database and the release's, both migrated, end with one schema.
    async with (
        scratch(dialect, tmp_path, "release") as release,
        scratch(dialect, tmp_path, "fresh") as fresh,
    ):
        await release.restore_release()
        run("server.py", "migrate", "--database-url", release.url)
        run("server.py", "migrate", "--database-url", fresh.url)
        assert await fresh.schema() == await release.schema()
        assert await fresh.indexes() & RETIRED_INDEXES == set()


def test_the_models_have_no_change_the_migrations_lack():
    # A model changed without `tortoise makemigrations` fails here.
    assert json.loads(run("-c", PENDING_CHANGES).stdout) == []


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_server_py_migrate_applies_the_migrations_to_an_empty_database(dialect, tmp_path):
    async with scratch(dialect, tmp_path, "cli") as db:
        result = run("server.py", "migrate", "--database-url", db.url)

        assert result.stdout.strip().splitlines()[-1] == f"Applied {', '.join(MIGRATIONS)}."
        assert await db.tables() >= RELEASE_TABLES | {HISTORY}
        assert await db.history() == APPLIED


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("start", ["empty", "release"])
async def test_migrating_a_second_time_changes_nothing(dialect, start, tmp_path):
    async with scratch(dialect, tmp_path, "twice") as db:
        if start == "release":
            await db.restore_release()
        run("server.py", "migrate", "--database-url", db.url)
        recorded = f'SELECT * FROM "{HISTORY}"'  # with ids and times: nothing recorded again
        history, schema, rows = await db.query(recorded), await db.schema(), await db.rows()

        second = run("server.py", "migrate", "--database-url", db.url)

        assert second.stdout.strip().splitlines()[-1] == "No migrations to apply."
        assert await db.history() == APPLIED
        assert await db.query(recorded) == history
        assert await db.schema() == schema
        assert await db.rows() == rows


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_two_processes_migrating_an_empty_database_at_once_apply_each_migration_once(
    dialect, tmp_path
):
    async with scratch(dialect, tmp_path, "race") as db:
        command = [sys.executable, "server.py", "migrate", "--database-url", db.url]
        workers = [
            subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
            for _ in range(2)
        ]  # fmt: skip
        outputs = [worker.communicate(timeout=120) for worker in workers]
        assert [worker.returncode for worker in workers] == [0, 0], [e for _, e in outputs]
        assert sorted(out.strip().splitlines()[-1] for out, _ in outputs) == [
            f"Applied {', '.join(MIGRATIONS)}.",
            "No migrations to apply.",
        ]
        assert await db.history() == APPLIED


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_tables_without_history_that_are_not_the_release_schema_are_refused(
    dialect, tmp_path
):
    async with scratch(dialect, tmp_path, "unknown") as db:
        await db.restore_release()
        await db.execute('ALTER TABLE "api_token" DROP COLUMN "allowed_fields"')
        before = await db.rows()

        result = run("server.py", "migrate", "--database-url", db.url, check=False)

        assert result.returncode != 0
        assert "UnknownSchemaError" in result.stderr and "allowed_fields" in result.stderr
        assert await db.rows() == before
        assert HISTORY not in await db.tables()


# A throwaway model change, as the next feature would make one: a new nullable column and a
# new table (as the outbox adds).
THROWAWAY_FIELD = "    nickname = fields.CharField(max_length=40, null=True)\n"
THROWAWAY_MODEL = """

class ScratchNote(Model):
    id = fields.IntField(primary_key=True)
    text = fields.CharField(max_length=200, db_index=True)

    class Meta:
        table = "scratch_note"
"""


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_the_next_migration_is_one_command_and_applies_over_the_previous_release(
    dialect, tmp_path
):
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(
        ".venv", ".git", "data", "__pycache__", "tests", "bench", "docs"))  # fmt: skip
    users = project / "models" / "users.py"
    source = users.read_text()
    anchor = "    name = fields.CharField(max_length=100, unique=True)\n"
    assert anchor in source
    users.write_text(source.replace(anchor, anchor + THROWAWAY_FIELD, 1) + THROWAWAY_MODEL)
    package = project / "models" / "__init__.py"
    exports = "from models.users import ApiToken, Team, User"
    assert exports in package.read_text()
    package.write_text(package.read_text().replace(exports, exports + ", ScratchNote"))

    tortoise = str(Path(sys.executable).with_name("tortoise"))
    made = subprocess.run(
        [tortoise, "makemigrations"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DATABASE_URL": "sqlite://:memory:"},
    )
    assert made.returncode == 0, made.stderr  # fmt: skip
    [second] = [path for path in (project / "models" / "migrations").glob("0*.py")
                if path.stem not in MIGRATIONS]  # fmt: skip
    assert "nickname" in second.read_text() and "scratch_note" in second.read_text()
    assert not (ROOT / "models" / "migrations" / second.name).exists()  # the copy, not ours
    ruff = str(Path(sys.executable).with_name("ruff"))
    linted = subprocess.run(
        [ruff, "check", str(second)], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert linted.returncode == 0, linted.stdout  # CI's lint passes on what the tool writes

    async with scratch(dialect, tmp_path, "next") as db:
        await db.restore_release()
        before = await db.rows()

        result = run("server.py", "migrate", "--database-url", db.url, cwd=project)

        assert "Applied 0001_initial" not in result.stdout  # recorded, not run again
        applied = [*MIGRATIONS[1:], second.stem]  # the first recorded, the others run
        assert f"Applied {', '.join(applied)}." in result.stdout
        assert await db.history() == [*APPLIED, ("models", second.stem)]
        after = await db.rows()
        assert after.pop("scratch_note") == []
        _tag_keys_apart(before, after)
        assert all(after.pop(table) == [] for table in set(after) - set(before))
        teams = after.pop("team")
        assert after.pop("channel") != before["channel"]  # 0003's e164 (its own test)
        assert after == {table: rows for table, rows in before.items()
                         if table not in ("team", "channel")}  # fmt: skip
        assert sorted((row[:-1] for row in teams), key=repr) == before["team"]  # nickname last
        assert [row[-1] for row in teams] == [None] * len(before["team"])
        columns = [name for (name,) in await db.query(
            "SELECT name FROM pragma_table_info('team')" if dialect == "sqlite" else
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'team' "
            "ORDER BY ordinal_position")]  # fmt: skip
        assert columns[-1] == "nickname"
        assert await db.query('SELECT COUNT(*) FROM "scratch_note"') == [(0,)]
        assert answer(db.url, cwd=project)["accounts"]["totalCount"] == len(before["account"])


# Copies of a stored mobile, made by SQL as an older release stored them (no check): enough
# for several of 0003's batches, one in twenty not a valid number of its region.
COPIES = 2100
UNREADABLE = COPIES // 20
COPY_CHANNELS = f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {COPIES})
INSERT INTO "channel" ("created_at", "updated_at", "id", "contact_id", "kind", "value",
                       "normalized", "label", "is_primary", "contact_active")
SELECT ch."created_at", ch."updated_at", 100000 + n.i, ch."contact_id", ch."kind",
       CASE WHEN n.i % 20 = 0 THEN '+51 000000' ELSE '999 888 777' END, 'typed', NULL, false,
       ch."contact_active"
FROM "channel" ch, n WHERE ch."id" = (SELECT MIN("id") FROM "channel" WHERE "kind" = 'MOBILE')
"""


# A phone-like channel of the release whose contact's site is in a country, and whose
# account is not the copies' one.
CHANNEL_AT = """
SELECT MIN(ch."id") FROM "channel" ch JOIN "contact" c ON c."id" = ch."contact_id"
JOIN "location" l ON l."id" = c."location_id"
WHERE l."country" {country} AND ch."kind" <> 'EMAIL' AND ch."id" < 100000
AND c."account_id" {copied} (SELECT c2."account_id" FROM "contact" c2 JOIN "channel" ch2
    ON ch2."contact_id" = c2."id" WHERE ch2."id" = 100001)
"""


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_0003_reads_stored_numbers_by_the_region_rule_and_logs_what_it_cannot_read(
    dialect, tmp_path
):
    async with scratch(dialect, tmp_path, "e164") as db:
        await db.restore_release()
        await db.execute(COPY_CHANNELS)
        # National numbers typed at a Mexican site, and where neither the site nor the
        # account's main site has a country (the default region, MX here, reads it).
        [(mexican,)] = await db.query(CHANNEL_AT.format(country="= 'MX'", copied="<>"))
        [(nowhere,)] = await db.query(CHANNEL_AT.format(country="= 'PE'", copied="<>"))
        await db.execute(f"""
            UPDATE "channel" SET "value" = '33 1234 5678' WHERE "id" = {mexican};
            UPDATE "channel" SET "value" = '55 1234 5678' WHERE "id" = {nowhere};
            UPDATE "location" SET "country" = NULL WHERE "account_id" = (SELECT c."account_id"
                FROM "contact" c JOIN "channel" ch ON ch."contact_id" = c."id"
                WHERE ch."id" = {nowhere});
        """)  # fmt: skip
        result = run("server.py", "migrate", "--database-url", db.url, "--default-region", "MX")

        assert result.stdout.strip().splitlines()[-1].startswith("Applied 0002_outbox, 0003_")
        log = result.stderr
        summary = [line for line in log.splitlines() if "phone-like channels" in line]
        [line] = summary
        assert f"{UNREADABLE} not valid numbers of their region" in line
        named = [line for line in log.splitlines() if "is not a valid number of" in line]
        assert len(named) == 50 and "'+51 000000' is not a valid number of PE" in named[0]
        assert f"and {UNREADABLE - 50} more" in log
        rows = dict(
            (row[0], row[1:]) for row in await db.query(
                'SELECT "id", "value", "normalized", "e164" FROM "channel" WHERE "id" > 100000')
        )  # fmt: skip
        assert rows[100020] == ("+51 000000", "typed", None)  # left as it was
        # The copies' contact is at a Peruvian site: read in PE, not in the default MX.
        assert rows[100001] == ("999 888 777", "51999888777", "+51999888777")
        read = dict(await db.query(f'SELECT "id", "e164" FROM "channel" '
                                   f'WHERE "id" IN ({mexican}, {nowhere})'))  # fmt: skip
        assert read == {mexican: "+523312345678", nowhere: "+525512345678"}
        assert sum(e164 is None for _, _, e164 in rows.values()) == UNREADABLE
        assert await db.history() == APPLIED
