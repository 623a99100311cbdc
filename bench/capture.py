"""Record the SQL the server sends for every request of every workload.

The requests go through the real application in-process (``httpx.ASGITransport``, bearer
token and all), while a handler on Tortoise's ``tortoise.db_client`` logger keeps each
statement with its parameters. The result is the *plan* the floor replays, and the number
of statements per request the report shows.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.sqlite.client import SqliteClient

from bench.workloads import (
    WRITE_STEPS,
    Request,
    Workloads,
    partner_slim_request,
    spa_list_request,
)

STATEMENT_PREFIXES = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
PAGE_SIZES = (10, 50, 100)


@dataclass(slots=True)
class Statement:
    """One statement as the server sent it; ``inserted_id`` is the id an INSERT produced."""

    sql: str
    params: tuple[Any, ...]
    inserted_id: int | None = None


@dataclass(slots=True)
class Plan:
    """Everything the floor replays: per read workload and variant, per write script and step."""

    dialect: str
    reads: dict[str, list[list[Statement]]] = field(default_factory=dict)
    writes: list[list[list[Statement]]] = field(default_factory=list)
    # The e-mail nonce each write script was captured with; the floor swaps in a fresh one.
    write_nonces: list[str] = field(default_factory=list)


class StatementRecorder(logging.Handler):
    """Keeps the statements Tortoise logs (its clients log ``"%s: %s", query, values``)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[Statement] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        sql = str(args[0]) if args else record.getMessage()
        if not sql.lstrip().upper().startswith(STATEMENT_PREFIXES):
            return
        params = tuple(args[1] or ()) if len(args) > 1 else ()
        self.statements.append(Statement(sql, params))

    def take(self) -> list[Statement]:
        taken, self.statements = self.statements, []
        return taken


@contextmanager
def recording() -> Iterator[StatementRecorder]:
    """Record every statement, and the id each INSERT returns, while the block runs."""
    recorder = StatementRecorder()
    logger = logging.getLogger("tortoise.db_client")
    previous_level, previous_propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # keep the statements out of the console
    logger.addHandler(recorder)
    originals = {cls: cls.execute_insert for cls in (SqliteClient, AsyncpgDBClient)}

    def noting_insert(original):
        async def execute_insert(self, query: str, values: list) -> Any:
            result = await original(self, query, values)
            if recorder.statements and result is not None:
                inserted = result if isinstance(result, int) else result[0]
                recorder.statements[-1].inserted_id = int(inserted)
            return result

        return execute_insert

    for cls, original in originals.items():
        cls.execute_insert = noting_insert(original)
    try:
        yield recorder
    finally:
        for cls, original in originals.items():
            cls.execute_insert = original
        logger.removeHandler(recorder)
        logger.setLevel(previous_level)
        logger.propagate = previous_propagate


@dataclass(slots=True)
class Capture:
    """The plan, plus what the report says about statements."""

    plan: Plan
    statements_per_request: dict[str, float]
    # (workload, page size) -> statements: the "does not grow with page size" check.
    by_page_size: dict[tuple[str, int], int]


async def capture(http: httpx.AsyncClient, workloads: Workloads, dialect: str) -> Capture:
    """Send every request of every workload once through ``http`` and record its SQL."""
    plan = Plan(dialect)
    per_request: dict[str, float] = {}
    with recording() as recorder:
        for name, requests in workloads.reads.items():
            plan.reads[name] = []
            for request in requests:
                await post(http, request)
                plan.reads[name].append(recorder.take())
            per_request[name] = _mean(len(s) for s in plan.reads[name])
        run = secrets.token_hex(3)
        for index, script in enumerate(workloads.writes):
            nonce = f"cap{run}{index:02d}"
            steps, contact_id = [], None
            for step in range(WRITE_STEPS):
                data = await post(http, script.step(step, nonce, contact_id))
                contact_id = contact_id or created_contact_id(data)
                steps.append(recorder.take())
            plan.writes.append(steps)
            plan.write_nonces.append(nonce)
        per_request["write-mix"] = _mean(len(s) for steps in plan.writes for s in steps)
        by_page_size = {}
        for size in PAGE_SIZES:
            await post(http, spa_list_request(size))
            by_page_size[("spa-list", size)] = len(recorder.take())
            await post(http, partner_slim_request(size))
            by_page_size[("partner-slim", size)] = len(recorder.take())
    return Capture(plan, per_request, by_page_size)


async def post(http: httpx.AsyncClient, request: Request) -> dict[str, Any]:
    """POST one GraphQL request; a GraphQL or payload error stops the benchmark."""
    response = await http.post("/graphql", json=request.body())
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"workload request failed: {response.status_code} {body}")
    for payload in (body.get("data") or {}).values():
        if isinstance(payload, dict) and payload.get("errors"):
            raise RuntimeError(f"mutation refused: {payload['errors']}")
    return body["data"]


def created_contact_id(data: dict[str, Any]) -> str | None:
    """The global id of the contact ``createContact`` returned, if this was that step."""
    payload = data.get("createContact")
    return payload["contact"]["id"] if payload else None


def _mean(values: Iterable[int]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0
