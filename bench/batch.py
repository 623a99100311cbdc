"""Batch writes against single ones, over HTTP: one ``createContacts`` of 100 items against
100 ``createContact`` mutations sent one after the other on one keep-alive connection, to
the real server (``python server.py``, one worker), on SQLite and PostgreSQL.

    python -m bench.batch [--rounds 7] [--postgres postgres://postgres@127.0.0.1:5432/crm_bench_batch]

Each round sends both, alternating which goes first; the report gives the shortest and
the median round of each and their ratio. Every item has an email, a mobile, a document and
tags, as an import row would.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.driver import ServerProcess

TOKEN = "bench-batch-token"
SIZE = 100
CREATE = """mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id contactNo } errors { code field } } }"""
CREATE_MANY = """mutation($input: CreateContactsInput!) {
  createContacts(input: $input) { contacts { id contactNo } errors { code field } } }"""


def item(account: str, n: int) -> dict:
    return {
        "accountId": account, "firstName": f"Persona{n}", "lastName": "Núñez Pérez",
        "email": f"persona{n}@andina.pe", "mobile": f"+51 9{n:08d}", "documentType": "DNI",
        "documentNumber": f"{n:08d}", "tags": ["mayorista", "lima"], "jobTitle": "Compras",
    }  # fmt: skip


async def gql(http: httpx.AsyncClient, query: str, variables: dict) -> dict:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


async def measure(url: str, port: int, rounds: int, log: Path) -> tuple[list[float], list[float]]:
    env = {"CRM_ADMIN_TOKEN": TOKEN, "CRM_RATE_LIMIT_POINTS": "0"}
    command = [sys.executable, "server.py", "--database-url", url, "--port", str(port)]
    server = ServerProcess(command, port, log, env)
    await server.start()
    singles: list[float] = []
    batches: list[float] = []
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers,
                                     timeout=120) as http:  # fmt: skip
            made = await gql(http, 'mutation { createAccount(input: {name: "Bench"}) '
                                   "{ account { id } errors { code } } }", {})  # fmt: skip
            account = made["createAccount"]["account"]["id"]
            serial = iter(range(10**7))

            async def one_by_one() -> float:
                start = time.perf_counter()
                for _ in range(SIZE):
                    data = await gql(http, CREATE, {"input": item(account, next(serial))})
                    assert data["createContact"]["errors"] == [], data
                return time.perf_counter() - start

            async def in_one_batch() -> float:
                items = [item(account, next(serial)) for _ in range(SIZE)]
                start = time.perf_counter()
                data = await gql(http, CREATE_MANY, {"input": {"contacts": items}})
                elapsed = time.perf_counter() - start
                assert data["createContacts"]["errors"] == [], data
                return elapsed

            await one_by_one()  # warm-up: statements prepared, caches filled
            await in_one_batch()
            for round_ in range(rounds):
                order = (one_by_one, in_one_batch) if round_ % 2 else (in_one_batch, one_by_one)
                for step in order:
                    (singles if step is one_by_one else batches).append(await step())
    finally:
        server.stop()
    return singles, batches


def line(backend: str, singles: list[float], batches: list[float]) -> str:
    fast_single, fast_batch = min(singles), min(batches)
    median_single, median_batch = statistics.median(singles), statistics.median(batches)
    return (
        f"| {backend} | {fast_single * 1000:.0f} ({median_single * 1000:.0f}) | "
        f"{fast_batch * 1000:.0f} ({median_batch * 1000:.0f}) | "
        f"{fast_single / fast_batch:.1f} ({median_single / median_batch:.1f}) |"
    )


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/crm_bench_batch")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        sqlite = f"sqlite://{Path(scratch) / 'batch.sqlite3'}"
        log = Path("data/bench/logs/batch-sqlite.log")
        rows.append(line("SQLite", *await measure(sqlite, 8771, args.rounds, log)))
    if args.postgres:
        name = args.postgres.rsplit("/", 1)[1]
        server = args.postgres.rsplit("/", 1)[0].replace("postgres://", "postgresql://")
        admin = f"{server}/postgres"
        subprocess.run(["psql", admin, "-qc", f'DROP DATABASE IF EXISTS "{name}"'], check=True)
        subprocess.run(["psql", admin, "-qc", f'CREATE DATABASE "{name}"'], check=True)
        log = Path("data/bench/logs/batch-postgres.log")
        rows.append(line("PostgreSQL", *await measure(args.postgres, 8772, args.rounds, log)))
    print(f"{SIZE} contacts, {args.rounds} rounds; ms, shortest round (median)\n")
    print("| database | 100 × createContact | createContacts of 100 | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
