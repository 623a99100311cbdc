"""The PostgreSQL pool hands a connection back as it is, without asyncpg's reset (one round
trip more per statement), and nothing the server runs leaves session state on one: what
goes over the wire (``bench.wire``, a relay that reads the protocol), the schema lock
released when migrating ends, a transaction left open still rolled back.

The seam (Tortoise passing the reset on to asyncpg) is checked without a server; the rest
runs on PostgreSQL, each test the app in a subprocess on a scratch database, as
test_migrations does, so the session's app and Tortoise's global state are never touched.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import asyncpg
import pytest
from test_migrations import POSTGRES_URL, run, scratch

from models.migrate import connection_config, keep_session

postgres_only = pytest.mark.skipif(not POSTGRES_URL, reason="CRM_TEST_POSTGRES_URL is not set")

# asyncpg's default reset (Connection.get_reset_query), or any part of it.
RESET = re.compile(r"pg_advisory_unlock_all|CLOSE ALL|UNLISTEN|RESET ALL", re.IGNORECASE)

CONTACT_LIST = """{
  contacts(first: 20) { totalCount nodes { fullName email account { name } } }
}"""

# The app started through the relay: three contacts written, the contact list asked once,
# then once more with the wire recorded; then the state every pooled session was left in.
ON_THE_WIRE = """
import asyncio, json, sys
from contextlib import AsyncExitStack
import httpx
from tortoise import connections
from bench.wire import WireRecorder
from server import build_app
from settings import Settings

CREATE_ACCOUNT = 'mutation { createAccount(input: {name: "Andina"}) { account { id } } }'
CREATE_CONTACT = '''mutation ($account: ID!, $name: String!) {
  createContact(input: {accountId: $account, firstName: $name, lastName: "Quispe"}) {
    errors { code }
  }
}'''
# What a session keeps past a transaction and asyncpg's reset would have cleared.
SESSION_STATE = '''SELECT
  (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())
    AS advisory_locks,
  (SELECT count(*) FROM pg_listening_channels()) AS listening,
  (SELECT count(*) FROM pg_cursors WHERE is_holdable) AS cursors_with_hold,
  (SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM pg_settings
    WHERE source = 'session') AS settings'''

async def session_states():  # of every connection of the pool, all held at once
    db = connections.get("default")
    async with AsyncExitStack() as held:
        pooled = [await held.enter_async_context(db.acquire_connection())
                  for _ in range(db.pool_maxsize)]
        return [dict(await connection.fetchrow(SESSION_STATE)) for connection in pooled]

async def main(url, query):
    async with WireRecorder.in_front_of(url) as wire:
        app = build_app(Settings(database_url=wire.url, admin_token="wire-token"))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": "Bearer wire-token"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", headers=headers
            ) as http:
                async def ask(query, variables=None):
                    response = await http.post(
                        "/graphql", json={"query": query, "variables": variables or {}}
                    )
                    return response.json()

                account = (await ask(CREATE_ACCOUNT))["data"]["createAccount"]["account"]
                for name in ("Ana", "Luis", "Rosa"):
                    await ask(CREATE_CONTACT, {"account": account["id"], "name": name})
                await ask(query)
                wire.clear()
                body = await ask(query)
                seen = {"statements": list(wire.statements), "round_trips": wire.round_trips,
                        "prepares": wire.prepares}
            seen["sessions"] = await session_states()
    print(json.dumps({"body": body, **seen}))

asyncio.run(main(*sys.argv[1:]))
"""

SCHEMA_LOCK = """
import asyncio, json, sys
import asyncpg
from tortoise import connections
from models.db import close_database, init_database
from models.migrate import SCHEMA_LOCK_KEY, schema_lock

HELD = '''SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
          AND objid = $1 AND database = (SELECT oid FROM pg_database
                                          WHERE datname = current_database())'''
OTHER_KEY = SCHEMA_LOCK_KEY + 1

async def main(url):
    observer = await asyncpg.connect(url)
    seen = {}
    await init_database(url)  # start-up: migrates under the schema lock
    db = connections.get("default")
    seen["after start-up"] = await observer.fetchval(HELD, SCHEMA_LOCK_KEY)
    try:
        async with schema_lock(db):
            seen["inside"] = await observer.fetchval(HELD, SCHEMA_LOCK_KEY)
            raise RuntimeError("a migration failed")
    except RuntimeError:
        pass
    seen["after a failed migration"] = await observer.fetchval(HELD, SCHEMA_LOCK_KEY)
    # The control: a session lock left on a pooled connection outlives its release.
    async with db.acquire_connection() as connection:
        await connection.execute("SELECT pg_advisory_lock($1)", OTHER_KEY)
    seen["a lock left on a released connection"] = await observer.fetchval(HELD, OTHER_KEY)
    await close_database()
    await observer.close()
    print(json.dumps(seen))

asyncio.run(main(*sys.argv[1:]))
"""

OPEN_TRANSACTION = """
import asyncio, json, sys
import asyncpg
from tortoise import Tortoise, connections
from models.migrate import tortoise_config

async def main(url):
    await Tortoise.init(config=tortoise_config(url + "?maxsize=1"))
    db = connections.get("default")
    async with db.acquire_connection() as connection:  # BEGIN that nobody commits
        await connection.execute("BEGIN; CREATE TABLE left_open (id int)")
    async with db.acquire_connection() as connection:  # the pool's only connection
        in_transaction = connection.is_in_transaction()
    observer = await asyncpg.connect(url)
    table = await observer.fetchval("SELECT to_regclass('left_open')::text")
    await observer.close()
    await Tortoise.close_connections()
    print(json.dumps({"in transaction": in_transaction, "table": table}))

asyncio.run(main(*sys.argv[1:]))
"""


async def test_tortoise_creates_the_pool_with_the_reset_the_config_names(monkeypatch):
    # The seam, without a server: Tortoise hands the credentials it does not know to
    # asyncpg.create_pool (checked again on every Tortoise upgrade, here).
    created: dict[str, Any] = {}

    async def create_pool(dsn: Any, **kwargs: Any) -> None:
        created.update(kwargs)
        raise ConnectionRefusedError("no server here")

    monkeypatch.setattr(asyncpg, "create_pool", create_pool)
    config = connection_config("postgres://crm@db.internal:5432/crm?maxsize=8")
    engine = importlib.import_module(config["engine"])  # as Tortoise finds its client
    client = engine.client_class(**config["credentials"], connection_name="default")
    with pytest.raises(ConnectionRefusedError):
        await client.create_connection(with_db=True)

    assert created["reset"] is keep_session
    assert (created["database"], created["max_size"]) == ("crm", 8)
    assert "reset" not in connection_config("sqlite://:memory:")["credentials"]


@postgres_only
async def test_the_contact_list_sends_its_statements_and_no_reset(tmp_path):
    async with scratch("postgres", tmp_path, "wire") as db:
        seen = json.loads(run("-c", ON_THE_WIRE, db.url, CONTACT_LIST).stdout)

    contacts = seen["body"]["data"]["contacts"]
    assert contacts["totalCount"] == 3
    assert {node["fullName"] for node in contacts["nodes"]} == {
        "Ana Quispe",
        "Luis Quispe",
        "Rosa Quispe",
    }
    statements = seen["statements"]
    assert any('FROM "contact"' in statement for statement in statements), statements
    assert [statement for statement in statements if RESET.search(statement)] == []
    # One round trip per statement, one more to prepare a statement new to its connection,
    # none for a reset.
    assert seen["round_trips"] == len(statements) + seen["prepares"]


@postgres_only
async def test_start_up_and_requests_leave_no_session_state_on_a_pooled_connection(tmp_path):
    # What the pool no longer resets must not be there: no session lock, LISTEN, cursor
    # WITH HOLD or SET, after start-up (migrations, indexes, statistics), writes and reads.
    async with scratch("postgres", tmp_path, "sessions") as db:
        seen = json.loads(run("-c", ON_THE_WIRE, db.url, CONTACT_LIST).stdout)

    clean = {"advisory_locks": 0, "listening": 0, "cursors_with_hold": 0, "settings": []}
    assert seen["sessions"] == [clean] * len(seen["sessions"])
    assert len(seen["sessions"]) == 5  # Tortoise's default pool size


@postgres_only
async def test_the_schema_lock_is_released_when_migrating_ends_without_the_pools_reset(
    tmp_path,
):
    async with scratch("postgres", tmp_path, "lock") as db:
        seen = json.loads(run("-c", SCHEMA_LOCK, db.url).stdout)

    assert seen == {
        "after start-up": 0,
        "inside": 1,
        "after a failed migration": 0,
        "a lock left on a released connection": 1,  # no reset would have freed it
    }


@postgres_only
async def test_a_transaction_left_open_is_rolled_back_when_its_connection_goes_back(tmp_path):
    async with scratch("postgres", tmp_path, "left_open") as db:
        seen = json.loads(run("-c", OPEN_TRANSACTION, db.url).stdout)

    assert seen == {"in transaction": False, "table": None}
