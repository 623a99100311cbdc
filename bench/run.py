"""``python -m bench run --sizes S,M`` (``--sizes L`` on PostgreSQL): the whole benchmark.

For each database of the chosen sizes: fill it (once), sample the workloads from its rows,
record their SQL and the in-process execution cost and profile, then drive the real server
over HTTP and the raw-driver floor with the same requests, and write ``data/bench/report.md``.
``python -m bench generate --sizes L`` only fills the databases.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict

import asyncpg
import httpx
from tortoise import connections

from bench.capture import capture
from bench.driver import FloorCaller, GraphQLCaller, ServerProcess, drive
from bench.generate import ADMIN_TOKEN, ensure_filled
from bench.inprocess import execution_cost, profile
from bench.report import TargetResult, load_all, write_report
from bench.sizes import DATA_DIR, POSTGRES_ROOT, Target, targets_for
from bench.workloads import READ_WORKLOADS, WRITE_WORKLOAD, Workloads, sample_workloads
from server import build_app
from settings import Settings, load_settings

log = logging.getLogger("bench")

SERVER_PORT = 8901
FLOOR_PORT = 8902
PROFILED = ("spa-list", "partner-slim")
TABLES = ("account", "location", "contact", "channel", "activity", "audit_event")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("command", choices=("run", "generate"))
    parser.add_argument("--sizes", default="S,M", help="comma-separated: S, M, L (default S,M)")
    parser.add_argument("--concurrency", default="1,4,16", help="clients per cell (1,4,16)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per cell")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per cell")
    parser.add_argument("--workloads", default=",".join((*READ_WORKLOADS, WRITE_WORKLOAD)))
    args = parser.parse_args(argv)
    _configure_logging()
    targets = targets_for(args.sizes)
    concurrency = [int(c) for c in args.concurrency.split(",")]
    workload_names = [w.strip() for w in args.workloads.split(",")]
    for target in targets:
        # A fresh process per database: Tortoise caches compiled INSERTs per model for the
        # life of a process, so a SQLite run would leave '?' placeholders for PostgreSQL.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            job = prepare_target if args.command == "run" else fill_target
            prepared = pool.submit(job, target).result()
        if args.command == "generate":
            continue
        result, workloads = prepared
        asyncio.run(measure_over_http(
            target, result, workloads, workload_names, concurrency, args.duration, args.warmup
        ))  # fmt: skip
        result.save()
    if args.command == "generate":
        return
    postgres = asyncio.run(postgres_version()) if any(
        r.target.backend == "postgres" for r in load_all()
    ) else None  # fmt: skip
    path = write_report(load_all(), postgres, "python -m bench " + " ".join(argv))
    log.info("report: %s", path)


# One token drives every client, so a per-token rate limit would measure the limiter.
SERVER_ENVIRONMENT = {"CRM_ADMIN_TOKEN": ADMIN_TOKEN, "CRM_RATE_LIMIT_POINTS": "0"}


def bench_settings(target: Target) -> Settings:
    """The server's settings for ``target``, as ``SERVER_ENVIRONMENT`` makes them."""
    return load_settings(["--database-url", target.url], environ=SERVER_ENVIRONMENT)


def fill_target(target: Target) -> None:
    _configure_logging()
    asyncio.run(ensure_filled(target))


def prepare_target(target: Target) -> tuple[TargetResult, Workloads]:
    """Fill the database if needed, then measure in-process (run in its own process)."""
    fill_target(target)
    return asyncio.run(measure_in_process(target))


async def measure_in_process(target: Target) -> tuple[TargetResult, Workloads]:
    """Sample the workloads, record their SQL, time and profile spa-list: all in-process."""
    result = TargetResult(target)
    app = build_app(bench_settings(target), prepare=False)
    async with app.router.lifespan_context(app):
        db = connections.get("default")
        for table in TABLES:
            rows = await db.execute_query_dict(f'SELECT COUNT(*) AS "n" FROM "{table}"')
            result.rows[table] = rows[0]["n"]
        workloads = await sample_workloads()
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers
        ) as http:
            log.info("%s: recording the SQL of every request", target.label)
            captured = await capture(http, workloads, db.capabilities.dialect)
        result.statements_per_request = captured.statements_per_request
        for (workload, size), count in captured.by_page_size.items():
            result.by_page_size.setdefault(workload, {})[str(size)] = count
        log.info("%s: in-process execution cost and profiles", target.label)
        for name, requests in workloads.reads.items():
            cost = await execution_cost(requests[0], ADMIN_TOKEN)
            reference = await execution_cost(requests[0], ADMIN_TOKEN, standard=True)
            result.execution[name] = {
                **asdict(cost),
                "per_field_us": cost.per_field_us,
                "per_field_without_database_us": cost.per_field_without_database_us,
                "per_field_graphql_us": cost.per_field_graphql_us,
                "per_field_graphql_median_us": cost.per_field_graphql_median_us,
                "per_field_graphql_standard_us": reference.per_field_graphql_us,
            }
        for name in PROFILED:
            result.profiles[name] = await profile(workloads.reads[name][0], ADMIN_TOKEN)
    plan_path = DATA_DIR / f"plan-{target.label}.pickle"
    plan_path.write_bytes(pickle.dumps(captured.plan))
    return result, workloads


async def measure_over_http(
    target: Target,
    result: TargetResult,
    workloads: Workloads,
    workload_names: list[str],
    concurrency: list[int],
    duration: float,
    warmup: float,
) -> None:
    """Every workload at every concurrency against the server, then against the floor."""
    logs = DATA_DIR / "logs"
    workers = ["--workers", str(target.workers)]
    server = ServerProcess(
        [sys.executable, "server.py", "--database-url", target.url,
         "--port", str(SERVER_PORT), *workers],
        SERVER_PORT, logs / f"server-{target.label}.log", SERVER_ENVIRONMENT,
    )  # fmt: skip
    plan_path = DATA_DIR / f"plan-{target.label}.pickle"
    floor = ServerProcess(
        [sys.executable, "-m", "bench.floor", "--plan", str(plan_path),
         "--database-url", target.url, "--port", str(FLOOR_PORT), *workers],
        FLOOR_PORT, logs / f"floor-{target.label}.log", {},
    )  # fmt: skip
    runs = (
        ("server", server, GraphQLCaller(workloads, ADMIN_TOKEN), result.server),
        ("floor", floor, FloorCaller(workloads), result.floor),
    )
    for kind, process, caller, cells in runs:
        await process.start()
        try:
            for workload in workload_names:
                for clients in concurrency:
                    cell = await drive(
                        process, caller, workloads, workload, clients, duration, warmup
                    )
                    cells.append(cell)
                    log.info("%s %s %-12s c=%-2d %7.1f req/s p50 %6.1f ms p99 %6.1f ms "
                             "RSS %4.0f MiB%s", target.label, kind, workload, clients, cell.rps,
                             cell.p50_ms, cell.p99_ms, cell.peak_rss_mib,
                             f" ({cell.errors} failed)" if cell.errors else "")  # fmt: skip
        finally:
            process.stop()


async def postgres_version() -> str:
    connection = await asyncpg.connect(f"{POSTGRES_ROOT}/test")
    try:
        return await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request costs the driver
