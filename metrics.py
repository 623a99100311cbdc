"""Prometheus metrics: request counts and latencies per route, served on ``GET /metrics``."""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
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
# Known routes only: a label per arbitrary path would let clients grow the registry.
ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics", "/export/contacts.csv"})


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


async def metrics(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
