"""Fill a benchmark database with the demo's realistic data, once.

The rows come from ``demo.fill_demo_data`` itself (same vocabulary, same rules,
same ``search_text``), at a fixed seed and reference time, so every size is reproducible.
Measured here, L (1M contacts, 5.2M activities) takes about an hour, once: roughly half of
it the demo's pure-Python generator (about 9 s per 1,000 accounts), the rest PostgreSQL
taking ``executemany`` batches and then ``_settle_updated_at`` rewriting every row's
``updated_at`` (about 10 minutes for the activities alone). A COPY loader would save part of
the second half only, and would need its own copy of the rules, so L uses the demo as is.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import asyncpg
from tortoise import connections

from bench.sizes import DATA_DIR, POSTGRES_ROOT, Target
from demo import fill_demo_data
from models import Contact
from models.db import close_database, init_database, search_indexes_suspended
from resolvers.users import ensure_admin

log = logging.getLogger("bench.generate")

ADMIN_TOKEN = "bench-admin-token"
SEED = 7
REFERENCE_TIME = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)
GENERATION_CACHE_KIB = 2 * 1024 * 1024  # 2 GiB: the whole M working set of the load
# A database this close to its target size counts as filled (write-mix adds a few rows).
FILLED_SHARE = 0.97


async def ensure_filled(target: Target) -> None:
    """Create and fill ``target``'s database unless it already holds that many contacts."""
    if target.backend == "postgres":
        await _create_postgres_database(target.database_name)
    else:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
    await init_database(target.url)
    try:
        await ensure_admin(ADMIN_TOKEN)
        contacts = await Contact.all().count()
        if contacts >= FILLED_SHARE * target.contacts:
            log.info("%s already holds %d contacts: skipped", target.label, contacts)
            return
        if contacts:
            raise SystemExit(
                f"{target.url} holds {contacts} contacts, fewer than {target.contacts}: "
                "delete it and run again"
            )
        log.info("%s: generating %d accounts (about %d contacts)…",
                 target.label, target.accounts, target.contacts)  # fmt: skip
        started = time.perf_counter()
        connection = connections.get("default")
        if target.backend == "sqlite":
            # The demo fills the file in one transaction: its working set stays in memory.
            await connection.execute_script(f"PRAGMA cache_size = -{GENERATION_CACHE_KIB}")
        async with search_indexes_suspended(connection):
            summary = await fill_demo_data(accounts=target.accounts, seed=SEED, now=REFERENCE_TIME)
        if target.backend == "postgres":
            await _analyze(target)
        log.info("%s: %s in %.0f s", target.label, summary, time.perf_counter() - started)
    finally:
        await close_database()


async def _create_postgres_database(name: str) -> None:
    connection = await asyncpg.connect(f"{POSTGRES_ROOT}/test")
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _analyze(target: Target) -> None:
    """What autovacuum would do soon after a bulk load; done now so plans are settled.

    VACUUM too: the demo rewrites every row once (``updated_at``), which leaves as many dead
    rows as live ones; until they are gone, counts scan the heap instead of the index.
    """
    connection = await asyncpg.connect(target.url)
    try:
        await connection.execute("VACUUM (ANALYZE)")
    finally:
        await connection.close()
