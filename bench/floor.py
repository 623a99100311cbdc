"""The floor: the same SQL as the server, through the raw driver, as JSON, with no GraphQL.

A minimal Starlette app replays the statements ``bench.capture`` recorded for a request
(one after another, as the server's request sent them) on aiosqlite or asyncpg, and returns
the rows as JSON. Driven by the same load driver, it is what the server's work would cost
with no GraphQL layer, no ORM and no per-field resolution: the benchmark's floor.

Writes replay the captured INSERT/UPDATE/DELETE statements of a mutation in one transaction,
with a fresh e-mail nonce and with the ids the captured INSERTs produced replaced by the ids
this replay's INSERTs produce (passed back to the client for the next step, like the
contact id in the GraphQL round).

    python -m bench.floor --plan data/bench/plan-M-sqlite.pickle \
        --database-url sqlite://data/bench/crm_bench_m.sqlite3 --port 8902 [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bench.capture import Plan, Statement
from models.db import SQLITE_READ_PRAGMAS
from models.migrate import keep_session

PLAN_ENV = "BENCH_FLOOR_PLAN"
DATABASE_ENV = "BENCH_FLOOR_DATABASE"
# The pragmas and pool size the server's connections use, so the floor's database side
# matches the server's: Tortoise's own, and those ``init_database`` adds.
SQLITE_PRAGMAS = {
    "journal_mode": "WAL",
    "journal_size_limit": 16384,
    "foreign_keys": "ON",
    **SQLITE_READ_PRAGMAS,
}
POOL_MIN, POOL_MAX = 1, 5

Rows = list[dict[str, Any]]


def substituted(
    params: Sequence[Any], nonce: tuple[str, str] | None, ids: dict[int, int]
) -> list[Any]:
    """``params`` with the captured nonce and the captured inserted ids replaced."""
    out = []
    for value in params:
        if nonce and isinstance(value, str) and nonce[0] in value:
            value = value.replace(*nonce)
        elif type(value) is int and value in ids:
            value = ids[value]
        out.append(value)
    return out


class SqliteReplayer:
    """One connection and a lock, as Tortoise's SQLite client has."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = asyncio.Lock()
        self.connection: aiosqlite.Connection | None = None

    async def open(self) -> None:
        self.connection = await aiosqlite.connect(self.path, isolation_level=None)
        self.connection.row_factory = sqlite3.Row
        for pragma, value in SQLITE_PRAGMAS.items():
            await self.connection.execute(f"PRAGMA {pragma}={value}")

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()

    async def read(self, statements: Sequence[Statement]) -> list[Rows]:
        results = []
        for statement in statements:
            async with self.lock:
                rows = await self.connection.execute_fetchall(statement.sql, statement.params)
            results.append([dict(row) for row in rows])
        return results

    async def write(
        self, statements: Sequence[Statement], nonce: tuple[str, str], ids: dict[int, int]
    ) -> list[Rows]:
        results = []
        async with self.lock:
            await self.connection.execute("BEGIN")
            try:
                for statement in statements:
                    params = substituted(statement.params, nonce, ids)
                    async with self.connection.execute(statement.sql, params) as cursor:
                        rows = await cursor.fetchall()
                        if statement.inserted_id is not None:
                            ids[statement.inserted_id] = cursor.lastrowid
                    results.append([dict(row) for row in rows])
            except Exception:
                await self.connection.rollback()
                raise
            await self.connection.commit()
        return results


class PostgresReplayer:
    """An asyncpg pool of the size Tortoise's PostgreSQL client uses, and as it does, handing
    connections back without a reset."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self.pool = await asyncpg.create_pool(
            self.url, min_size=POOL_MIN, max_size=POOL_MAX, reset=keep_session
        )

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def read(self, statements: Sequence[Statement]) -> list[Rows]:
        results = []
        for statement in statements:
            async with self.pool.acquire() as connection:
                rows = await connection.fetch(statement.sql, *statement.params)
            results.append([dict(row) for row in rows])
        return results

    async def write(
        self, statements: Sequence[Statement], nonce: tuple[str, str], ids: dict[int, int]
    ) -> list[Rows]:
        results = []
        async with self.pool.acquire() as connection, connection.transaction():
            for statement in statements:
                params = substituted(statement.params, nonce, ids)
                rows = await connection.fetch(statement.sql, *params)
                if statement.inserted_id is not None and rows:
                    ids[statement.inserted_id] = rows[0][0]
                results.append([dict(row) for row in rows])
        return results


def build_floor_app(plan: Plan, database_url: str) -> Starlette:
    """``POST /floor`` replays one request of the plan; ``GET /readyz`` says it is up."""
    if database_url.startswith("sqlite://"):
        replayer: Any = SqliteReplayer(database_url.removeprefix("sqlite://"))
    else:
        replayer = PostgresReplayer(database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await replayer.open()
        try:
            yield
        finally:
            await replayer.close()

    async def floor(request: Request) -> Response:
        body = await request.json()
        variant = body["variant"]
        if body["workload"] == "write-mix":
            ids = {int(k): v for k, v in body.get("ids", {}).items()}
            nonce = (plan.write_nonces[variant], body["nonce"])
            try:
                data = await replayer.write(plan.writes[variant][body["step"]], nonce, ids)
            except (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError) as error:
                # The server's statements can collide under concurrency too; both count it.
                return Response(json.dumps({"error": str(error)}), status_code=409,
                                media_type="application/json")  # fmt: skip
            return Response(json.dumps({"data": data, "ids": ids}, default=str),
                            media_type="application/json")  # fmt: skip
        data = await replayer.read(plan.reads[body["workload"]][variant])
        return Response(json.dumps({"data": data}, default=str), media_type="application/json")

    async def readyz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes = [Route("/floor", floor, methods=["POST"]), Route("/readyz", readyz)]
    return Starlette(routes=routes, lifespan=lifespan)


def create_app() -> Starlette:
    """Factory for uvicorn workers: the plan and database from the environment."""
    with open(os.environ[PLAN_ENV], "rb") as file:
        plan = pickle.load(file)
    return build_floor_app(plan, os.environ[DATABASE_ENV])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, default=8902)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    os.environ[PLAN_ENV] = args.plan
    os.environ[DATABASE_ENV] = args.database_url
    uvicorn.run(
        "bench.floor:create_app", factory=True, host="127.0.0.1", port=args.port,
        workers=args.workers,
    )  # fmt: skip


if __name__ == "__main__":
    main()
