"""Traces (OpenTelemetry), built only when the standard ``OTEL_*`` variables configure an
exporter (``settings.trace_exporters``): ``server.py`` imports this module then, and nothing
of OpenTelemetry is loaded, wrapped or installed otherwise.

- The HTTP request or WebSocket connection: opentelemetry-instrumentation-asgi's server
  span, named by route, its URL without the query string (it holds variables and search
  terms).
- The GraphQL operation, its parsing and validation: Strawberry's OpenTelemetry extension,
  without the document's text (it holds literal values) and without a span per resolved
  field (``TracedOperations``).
- One span per SQL statement, child of the operation (or of the request for the token
  lookup): Tortoise's clients' ``execute_*`` methods, wrapped while tracing is on; the
  statement's text has placeholders, its values are never recorded.

Every span started during a request carries its request id (``crm.request_id``), and the
request's log line and latency exemplar carry the trace id (``RequestIds``). The SDK reads
its other variables itself (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_SERVICE_NAME``,
``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``, …).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import entry_points
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, format_trace_id
from starlette.middleware import Middleware
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension

import requestlog
from metrics import ROUTES

SERVICE = "crm-graph"  # the service name unless OTEL_SERVICE_NAME names another
REQUEST_ID = "crm.request_id"
EXPORTERS = "opentelemetry_traces_exporter"  # the SDK's entry-point group of span exporters
# Longest statement text kept on a span (the longest loader statements are ~3 KB).
MAX_STATEMENT = 2048
# Tortoise's client methods that send a statement (each logs it once on tortoise.db_client,
# which is what the request line's `statements` counts).
STATEMENT_METHODS = ("execute_insert", "execute_many", "execute_query", "execute_query_dict",
                     "execute_script")  # fmt: skip
DB_SYSTEMS = {"sqlite": "sqlite", "postgres": "postgresql"}


class RequestIds(SpanProcessor):
    """Every span started during a request names it; the request's record learns its trace."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        record = requestlog.current()
        if record is None:
            return
        span.set_attribute(REQUEST_ID, record.request_id)
        if record.trace_id is None:
            record.trace_id = format_trace_id(span.get_span_context().trace_id)


class TracedOperations(OpenTelemetryExtension):
    """Strawberry's extension: a span per operation, current while it runs (its statements'
    spans are its children), named ``<type> <name>``, with its parsing and validation
    spans. Two changes: no ``query`` attribute (the document's literal values), and no span
    per resolved field (``active``: ``CrmSchema`` leaves it out of the field middleware,
    which would also turn the breadth-first executor off)."""

    active = False

    def on_operation(self) -> Iterator[None]:
        span = self._tracer.start_span("GraphQL operation", kind=SpanKind.INTERNAL)
        self._span_holder[LifecycleStep.OPERATION] = span
        with trace.use_span(span, end_on_exit=True):
            try:
                yield
            finally:
                self._describe(span)

    def _describe(self, span: Any) -> None:
        context = self.execution_context
        name = context.operation_name
        try:
            kind = context.operation_type.value
        except Exception:  # no document: it did not parse
            kind = None
        if kind:
            span.set_attribute("graphql.operation.type", kind)
        if name:
            span.set_attribute("graphql.operation.name", name)
        span.update_name(" ".join(part for part in (kind, name) if part) or "GraphQL operation")


def span_details(scope: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The server span's name: the method and route, never an arbitrary path."""
    route = scope["path"] if scope["path"] in ROUTES else "other"
    prefix = scope.get("method") or "WebSocket"
    return f"{prefix} {route}", {"http.route": route}


_URL_ATTRIBUTES = ("http.url", "url.full")


def without_query(span: Any, scope: dict[str, Any]) -> None:
    """The server span's URL without its query string (the instrumentation adds it)."""
    if not span.is_recording() or not scope.get("query_string"):
        return
    attributes = span.attributes or {}
    for name in _URL_ATTRIBUTES:
        if name in attributes:
            span.set_attribute(name, str(attributes[name]).split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


class Tracing:
    """The process's tracer provider and what it instruments; ``close`` flushes the spans
    and takes the statement wrappers off again."""

    def __init__(
        self,
        exporters: Sequence[SpanExporter],
        export: Callable[[SpanExporter], SpanProcessor] = BatchSpanProcessor,
    ) -> None:
        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: SERVICE}))
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(RequestIds())
        for exporter in exporters:
            self.provider.add_span_processor(export(exporter))
        self.tracer = self.provider.get_tracer("crm-graph")
        self._wrapped: list[tuple[type, str, Any]] = []

    @classmethod
    def from_names(cls, names: Sequence[str]) -> Tracing:
        """The exporters the settings name, as the SDK's entry points provide them."""
        return cls([next(iter(entry_points(group=EXPORTERS, name=name))).load()()
                    for name in names])  # fmt: skip

    def middleware(self) -> Middleware:
        return Middleware(
            OpenTelemetryMiddleware,
            tracer_provider=self.provider,
            default_span_details=span_details,
            server_request_hook=without_query,
            exclude_spans=["receive", "send"],  # no span per ASGI message
        )

    def schema(self, schema: Any) -> Any:
        """``schema`` with the operation spans, first so that they wrap every other
        extension's work; the schema the server has without tracing is left as it is."""
        traced = copy.copy(schema)
        traced.extensions = (
            functools.partial(TracedOperations, tracer_provider=self.provider),
            *schema.extensions,
        )
        return traced

    def trace_statements(self) -> None:
        from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
        from tortoise.backends.base_postgres.client import BasePostgresClient
        from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper

        for client in (SqliteClient, SqliteTransactionWrapper, BasePostgresClient,
                       AsyncpgDBClient, TransactionWrapper):  # fmt: skip
            for name in STATEMENT_METHODS:
                method = client.__dict__.get(name)
                if method is not None:
                    self._wrapped.append((client, name, method))
                    setattr(client, name, self._traced(method))

    def _traced(self, method: Any) -> Any:
        tracer = self.tracer

        @functools.wraps(method)
        async def traced(client: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            keyword = query.lstrip()[:16].split(None, 1)[:1]
            operation = keyword[0].upper() if keyword and keyword[0].isalpha() else "SQL"
            dialect = client.capabilities.dialect
            attributes = {"db.system.name": DB_SYSTEMS.get(dialect, dialect),
                          "db.operation.name": operation,
                          "db.query.text": query[:MAX_STATEMENT]}  # fmt: skip
            with tracer.start_as_current_span(operation, kind=SpanKind.CLIENT,
                                              attributes=attributes):  # fmt: skip
                return await method(client, query, *args, **kwargs)

        return traced

    def close(self) -> None:
        for client, name, method in reversed(self._wrapped):
            setattr(client, name, method)
        self._wrapped.clear()
        self.provider.shutdown()
