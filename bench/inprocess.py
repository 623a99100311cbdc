"""In-process cost of GraphQL execution per resolved field, and a profile of where it goes.

``schema.execute`` runs with a context built as the server builds it (``context_for`` with
the bearer token, fresh loaders per request). The database time is measured by timing the
Tortoise client calls, so the report can say what the GraphQL and ORM layers cost apart
from the SQL.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.sqlite.client import SqliteClient
from tortoise.queryset import CountQuery, QuerySet, ValuesListQuery, ValuesQuery

from bench.workloads import Request
from engine import loaders, pagination, rows
from engine.executor import execution
from resolvers.context import RequestContext
from schema import schema
from server import context_for

REPEATS = 20
# Rounds of both series. A shared VM's speed moves by 2-3x from one minute to the next (a
# fixed Python loop here took 28-49 ms within a minute); the shortest round is the one least
# disturbed, as ``timeit`` reports the best of its repeats.
ROUNDS = 5
PROFILE_LINES = 25
DB_METHODS = ("execute_query", "execute_query_dict", "execute_insert")
_SITE_PACKAGES = re.compile(r"\S*/site-packages/")


@dataclass(frozen=True, slots=True)
class ExecutionCost:
    """Mean cost of one execution of a request, in-process."""

    fields: int
    total_ms: float
    database_ms: float
    graphql_ms: float  # execution minus every data fetch (SQL, ORM rows, loader batches)
    graphql_ms_median: float  # the same, median of the rounds

    @property
    def per_field_graphql_median_us(self) -> float:
        return self.graphql_ms_median * 1000 / self.fields

    @property
    def per_field_us(self) -> float:
        return self.total_ms * 1000 / self.fields

    @property
    def per_field_without_database_us(self) -> float:
        return (self.total_ms - self.database_ms) * 1000 / self.fields

    @property
    def per_field_graphql_us(self) -> float:
        """What the GraphQL layer costs per field: execution minus every data fetch."""
        return self.graphql_ms * 1000 / self.fields


def count_fields(value: Any) -> int:
    """Resolved fields in a response: every key of every object, lists included."""
    if isinstance(value, dict):
        return len(value) + sum(count_fields(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_fields(v) for v in value)
    return 0


class InFlightTimer:
    """Wall time during which at least one call of the patched functions is in flight.

    Loaders run concurrently, so summing each call's duration would count overlaps twice.
    """

    def __init__(self, targets: tuple[tuple[Any, str], ...]) -> None:
        self.targets = targets
        self.seconds = 0.0
        self._in_flight = 0
        self._since = 0.0

    @contextmanager
    def installed(self) -> Iterator[InFlightTimer]:
        originals = {(owner, name): getattr(owner, name) for owner, name in self.targets}
        for (owner, name), original in originals.items():
            setattr(owner, name, self._timed(original))
        try:
            yield self
        finally:
            for (owner, name), original in originals.items():
                setattr(owner, name, original)

    def _timed(self, original):
        async def timed(*args, **kwargs):
            if self._in_flight == 0:
                self._since = time.perf_counter()
            self._in_flight += 1
            try:
                return await original(*args, **kwargs)
            finally:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self.seconds += time.perf_counter() - self._since

        return timed


# The Tortoise client calls: the time SQL is in flight.
DATABASE_CALLS = tuple(
    (cls, name) for cls in (SqliteClient, AsyncpgDBClient) for name in DB_METHODS
)
# Every data fetch: the SQL, the ORM building it and the rows from it (querysets, counts,
# the raw per-parent pages) and the loaders' batch functions around them.
DATA_CALLS = (
    *DATABASE_CALLS,
    *((query, "_execute") for query in (QuerySet, CountQuery, ValuesQuery, ValuesListQuery)),
    # Rows built from driver records (``engine.rows``), where the resolvers call them.
    (rows, "fetch_keyed"),
    (rows, "records_keyed"),
    (pagination, "fetch"),
    (pagination, "exact_count"),  # a list's COUNT, built and run apart from the page
    (loaders.Loader, "_dispatch"),
)


async def run_request(request: Request, signed_in: RequestContext) -> dict[str, Any]:
    """One execution of ``request`` with a context made as the server makes it."""
    context = RequestContext(user=signed_in.user, token=signed_in.token)
    result = await schema.execute(
        request.query, variable_values=request.variables, context_value=context
    )
    if result.errors:
        raise RuntimeError(f"in-process execution failed: {result.errors}")
    return result.data or {}


async def execution_cost(
    request: Request,
    token: str,
    repeats: int = REPEATS,
    rounds: int = ROUNDS,
    *,
    standard: bool = False,
) -> ExecutionCost:
    """Mean wall time of ``schema.execute`` for ``request``: with SQL in flight, and what is
    left of a second series once every data fetch is taken out (the GraphQL layer). The two
    series run ``rounds`` times; the least disturbed round (the shortest) is reported, with
    the median of the rounds' GraphQL layer beside it. ``standard``: graphql-core executes
    instead of the breadth-first executor (same resolvers, loaders and data), the reference
    the GraphQL layer is compared with in the same minutes of the same machine."""
    signed_in = await context_for(f"Bearer {token}")
    with execution(fast=not standard):
        response = await run_request(request, signed_in)  # warm caches (parsing, validation)
        measured = [await _round(request, signed_in, repeats) for _ in range(rounds)]
    total, database, graphql, _ = min(measured, key=itemgetter(3))
    return ExecutionCost(
        fields=count_fields(response),
        total_ms=total,
        database_ms=database,
        graphql_ms=graphql,
        graphql_ms_median=statistics.median(m[2] for m in measured),
    )


async def _round(
    request: Request, signed_in: RequestContext, repeats: int
) -> tuple[float, float, float, float]:
    """Milliseconds per execution: total and with SQL in flight (first series), GraphQL layer
    and total (second series)."""
    elapsed = {}
    for calls in (DATABASE_CALLS, DATA_CALLS):
        timer = InFlightTimer(calls)
        with timer.installed():
            started = time.perf_counter()
            for _ in range(repeats):
                await run_request(request, signed_in)
            elapsed[calls] = (time.perf_counter() - started, timer.seconds)
    total, database = elapsed[DATABASE_CALLS]
    total_of_second_series, data = elapsed[DATA_CALLS]
    per_execution = 1000 / repeats
    return (
        total * per_execution,
        database * per_execution,
        (total_of_second_series - data) * per_execution,
        (total + total_of_second_series) * per_execution,
    )


async def profile(request: Request, token: str, repeats: int = REPEATS) -> str:
    """cProfile of ``repeats`` executions: the top functions and the time per package."""
    signed_in = await context_for(f"Bearer {token}")
    await run_request(request, signed_in)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeats):
        await run_request(request, signed_in)
    profiler.disable()
    stats = pstats.Stats(profiler)
    out = io.StringIO()
    out.write(f"{repeats} executions; own time (tottime) grouped by package:\n")
    total = stats.total_tt
    for package, seconds in _by_package(stats):
        out.write(f"  {package:<28} {seconds * 1000 / repeats:8.2f} ms/req  "
                  f"{100 * seconds / total:5.1f} %\n")  # fmt: skip
    out.write(f"\nTop {PROFILE_LINES} functions by own time:\n")
    stats.stream = out
    stats.sort_stats("tottime").print_stats(PROFILE_LINES)
    out.write(f"\nTop {PROFILE_LINES} functions by cumulative time:\n")
    stats.sort_stats("cumulative").print_stats(PROFILE_LINES)
    return _trim_paths(out.getvalue())


def _by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():
        totals[_package(filename)] += tottime
    return sorted(totals.items(), key=lambda item: -item[1])


def _package(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    for local in ("resolvers", "schema", "models", "server"):
        if f"/{local}/" in filename or filename.endswith(f"/{local}.py"):
            return f"crm-graph {local}"
    if filename.startswith("~") or "{" in filename:
        return "builtins (C)"
    if "/lib/python3." in filename:
        module = filename.split("/lib/python3.", 1)[1].split("/", 2)[1]
        return "stdlib " + module.removesuffix(".py")
    return filename


def _trim_paths(text: str) -> str:
    lines = (_SITE_PACKAGES.sub("", line) for line in text.splitlines())
    return "\n".join(line for line in lines if line.strip())
