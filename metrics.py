"""Prometheus metrics, served on ``GET /metrics``: requests and latencies per route, and per
GraphQL operation its latency, error codes and SQL statements (from the request's
``requestlog.RequestRecord``, observed once when the request ends).

Every label value is from a closed set or bounded: routes, operation types and error codes
are fixed lists; operation names are the names of operations in parsed documents, at most
``MAX_OPERATION_NAMES`` distinct ones per process, then ``(other)``."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "crm_http_requests", "HTTP requests served.", ("route", "method", "status"),
    registry=REGISTRY,
)  # fmt: skip
LATENCY = Histogram(
    "crm_http_request_duration_seconds", "Time to answer an HTTP request.", ("route",),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY,
)  # fmt: skip
EXECUTIONS = Counter(
    "crm_graphql_executions", "GraphQL operations by execution path (fast, fallback, standard).",
    ("path",), registry=REGISTRY,
)  # fmt: skip
OPERATION_LATENCY = Histogram(
    "crm_graphql_request_duration_seconds",
    "Time to answer a GraphQL request over HTTP, by operation name and type.",
    ("operation", "type"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY,
)  # fmt: skip
ERRORS = Counter(
    "crm_graphql_errors",
    "Errors answered, by extensions.code, and mutation payloads' UserError codes (OTHER for "
    "an unknown code).",
    ("code",), registry=REGISTRY,
)  # fmt: skip
STATEMENTS = Histogram(
    "crm_sql_statements_per_request", "SQL statements sent for one GraphQL request.",
    buckets=(0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144), registry=REGISTRY,
)  # fmt: skip
RATE_LIMIT_REFUSALS = Counter(
    "crm_rate_limit_refusals", "Requests refused for the rate limit (RATE_LIMITED).",
    registry=REGISTRY,
)  # fmt: skip
WEBSOCKETS = Gauge(
    "crm_websocket_connections", "WebSocket connections open on /graphql.", registry=REGISTRY,
    multiprocess_mode="livesum",
)  # fmt: skip
# The database connections (models/pool.py), summed over the live workers.
POOL_IN_USE = Gauge(
    "crm_db_pool_connections_in_use", "Database connections in use now (SQLite: 0 or 1).",
    registry=REGISTRY, multiprocess_mode="livesum",
)  # fmt: skip
POOL_WAITING = Gauge(
    "crm_db_pool_waiting", "Callers waiting for a database connection now.",
    registry=REGISTRY, multiprocess_mode="livesum",
)  # fmt: skip
POOL_MAX = Gauge(
    "crm_db_pool_max_connections", "Database connections the pool may open (SQLite: 1).",
    registry=REGISTRY, multiprocess_mode="livesum",
)  # fmt: skip

# The codes of ``extensions.code`` the server answers with; any other is counted as OTHER.
ERROR_CODES = frozenset({
    "BAD_REQUEST", "BATCHING_NOT_SUPPORTED", "BAD_USER_INPUT", "UNAUTHENTICATED", "FORBIDDEN",
    "NOT_FOUND", "RATE_LIMITED", "SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR",
    "METHOD_NOT_ALLOWED", "UNSUPPORTED_MEDIA_TYPE", "REQUEST_TOO_LARGE", "PREFLIGHT_REQUIRED",
    "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "QUERY_TOO_LARGE", "QUERY_TOO_DEEP",
    "QUERY_TOO_COSTLY", "TOO_MANY_TOKENS", "TOO_MANY_FIELDS", "TOO_MANY_DIRECTIVES",
    "TOO_MANY_ALIASES", "IDEMPOTENCY_KEY_REUSED", "IDEMPOTENCY_KEY_IN_PROGRESS",
})  # fmt: skip
# The codes of a mutation payload's ``errors`` (``UserErrorCode``: a closed set; a test
# keeps this list equal to it).
USER_ERROR_CODES = frozenset({
    "ALREADY_IN_STATE", "BATCH_CONFLICT", "BLANK", "CONTACT_MISMATCH", "DUPLICATE_DOCUMENT",
    "DUPLICATE_EMAIL", "EMPTY_FILE", "FILE_TOO_LARGE", "FILE_TYPE_NOT_ALLOWED",
    "DUPLICATE_NAME", "INACTIVE", "INVALID_CHARACTERS", "INVALID_DATE", "INVALID_DOCUMENT",
    "INVALID_CUSTOM_FIELD", "INVALID_EMAIL",
    "INVALID_FORMAT", "INVALID_ID", "INVALID_KIND", "INVALID_PHONE", "INVALID_STATUS",
    "LAST_ADMIN", "LOCATION_IN_USE", "LOCATION_MISMATCH", "MAIN_LOCATION", "NOT_FOUND",
    "OUT_OF_RANGE", "REQUIRED", "TARGET_REQUIRED", "TOO_LONG",
    # importContacts: a file refused as a whole, and a row for a contact twice.
    "UNSUPPORTED_FILE", "UNREADABLE_FILE", "HEADER_ONLY", "NO_KNOWN_COLUMNS",
    "UNKNOWN_COLUMN", "DUPLICATE_COLUMN", "TOO_MANY_COLUMNS", "TOO_MANY_ROWS", "DUPLICATE_ROW",
})  # fmt: skip
LABELLED_CODES = ERROR_CODES | USER_ERROR_CODES
OPERATION_TYPES = frozenset({"query", "mutation", "subscription"})
MAX_OPERATION_NAMES = 200
UNNAMED, OTHER_NAME = "(unnamed)", "(other)"
_names: set[str] = set()


def operation_label(name: str | None) -> str:
    """``name`` while fewer than ``MAX_OPERATION_NAMES`` names were seen (or it is one of
    them), else ``(other)``; no name is ``(unnamed)``."""
    if not name:
        return UNNAMED
    if name in _names:
        return name
    if len(_names) >= MAX_OPERATION_NAMES:
        return OTHER_NAME
    _names.add(name)
    return name


def observe_request(
    operation_type: str | None,
    operation_name: str | None,
    error_codes: tuple[str, ...],
    statements: int,
    duration: float,
    *,
    request_id: str | None = None,
    trace_id: str | None = None,
) -> None:
    """One HTTP request's metrics, from its record. The operation's latency and statements
    only when a GraphQL operation was found in its document; the latency's exemplar names
    the request (and its trace)."""
    for code in error_codes:
        ERRORS.labels(code if code in LABELLED_CODES else "OTHER").inc()
    if "RATE_LIMITED" in error_codes:
        RATE_LIMIT_REFUSALS.inc()
    if operation_type in OPERATION_TYPES:
        OPERATION_LATENCY.labels(operation_label(operation_name), operation_type).observe(
            duration, exemplar(request_id, trace_id)
        )
        STATEMENTS.observe(statements)


# OpenMetrics allows an exemplar 128 characters of label names and values in all.
EXEMPLAR_CHARACTERS = 128


def exemplar(request_id: str | None, trace_id: str | None) -> dict[str, str] | None:
    """``{request_id, trace_id}``; a request id too long to fit beside them is cut."""
    if request_id is None:
        return None
    labels = {"trace_id": trace_id} if trace_id else {}
    room = EXEMPLAR_CHARACTERS - len("request_id") - sum(map(len, [*labels, *labels.values()]))
    return {"request_id": request_id[:room], **labels}


# Known routes only: a label per arbitrary path would let clients grow the registry.
ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics", "/export/contacts.csv",
                    "/export/contacts.xlsx", "/import/template.csv", "/import/template.xlsx"})


class MetricsMiddleware:
    """Plain ASGI middleware (no per-request task or body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in ROUTES else "other"
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            REQUESTS.labels(route, scope["method"], str(status)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)


MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_between_workers(parent: Path) -> Iterator[Path]:
    """prometheus-client's multiprocess mode for ``--workers N``: a fresh directory under
    ``parent`` named by ``PROMETHEUS_MULTIPROC_DIR`` for the workers (set before they start:
    prometheus-client reads it when a worker imports it), removed when they are gone."""
    parent.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="prometheus-", dir=parent))
    os.environ[MULTIPROC_DIR] = str(directory)
    try:
        yield directory
    finally:
        os.environ.pop(MULTIPROC_DIR, None)
        shutil.rmtree(directory, ignore_errors=True)


def worker_exited(pid: int | None = None) -> None:
    """A worker's live gauges (open WebSockets) leave the sum when it stops."""
    if os.environ.get(MULTIPROC_DIR):
        multiprocess.mark_process_dead(pid if pid is not None else os.getpid())


async def metrics(request: Request) -> Response:
    """This process's metrics; with several workers, every worker's, summed. In the
    Prometheus text format, or OpenMetrics (which has the exemplars) when the scraper's
    ``Accept`` asks for it."""
    registry = REGISTRY
    if os.environ.get(MULTIPROC_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), headers={"Content-Type": content_type})
