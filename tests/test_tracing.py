"""Traces: on when the standard OTEL_* variables configure an exporter, and then a request's
log line, its latency exemplar and its spans share its request id (and trace id); off,
nothing of OpenTelemetry is loaded and the app is built as before."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from server import build_app
from settings import Settings, load_settings
from tests.conftest import ADMIN_TOKEN, make_account, request_lines
from tests.test_metrics import exemplars, samples, value
from tracing import REQUEST_ID, Tracing

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SECRET = "secreto-rastro-5521"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    yield InMemorySpanExporter()


@pytest.fixture
async def traced(app: Any, client: httpx.AsyncClient, spans) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app built with tracing to memory (the ORM is already up)."""
    tracing = Tracing([spans], export=SimpleSpanProcessor)
    traced_app = build_app(Settings(), prepare=False, tracing=tracing)
    try:
        transport = httpx.ASGITransport(app=traced_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http
    finally:
        await traced_app.state.rate_limiter.close()
        tracing.close()


def of_request(spans: InMemorySpanExporter, request_id: str) -> list[Any]:
    return [s for s in spans.get_finished_spans() if s.attributes.get(REQUEST_ID) == request_id]


async def test_a_requests_line_exemplar_and_spans_share_its_request_and_trace_id(
    traced, spans, log_output
):
    await make_account()
    query = "query Rastro { viewer { name } accounts(first: 5) { totalCount } }"
    response = await traced.post("/graphql", json={"query": query},
                                 headers={**AUTH, "X-Request-ID": "rastro-1"})  # fmt: skip
    assert response.status_code == 200 and "errors" not in response.json()
    [line] = [line for line in request_lines(log_output()) if line["request_id"] == "rastro-1"]
    found = of_request(spans, "rastro-1")
    # One trace, which the line names.
    assert {format(s.context.trace_id, "032x") for s in found} == {line["trace_id"]}
    by_name = {s.name: s for s in found}
    server, operation = by_name["POST /graphql"], by_name["query Rastro"]
    assert operation.parent.span_id == server.context.span_id
    assert {"GraphQL Parsing", "GraphQL Validation"} <= set(by_name)
    assert operation.attributes["graphql.operation.name"] == "Rastro"
    # A span per statement the line counts: the token lookup's under the request, the
    # operation's under the operation.
    statements = [s for s in found if "db.query.text" in s.attributes]
    assert len(statements) == line["statements"] > 0
    parents = {s.parent.span_id for s in statements}
    assert parents == {server.context.span_id, operation.context.span_id}
    assert all(s.attributes["db.system.name"] in ("sqlite", "postgresql") for s in statements)
    # The latency exemplar names both.
    assert {"request_id": "rastro-1", "trace_id": line["trace_id"]} in await exemplars(
        traced, "Rastro")  # fmt: skip


async def test_spans_hold_no_query_text_variable_value_or_search_term(traced, spans):
    await make_account()
    search = "query Buscar($s: String) { contacts(search: $s) { totalCount } }"
    await traced.post("/graphql", json={"query": search, "variables": {"s": SECRET}},
                      headers=AUTH)  # fmt: skip
    create = 'mutation { createAccount(input: {name: "NAME"}) { account { id } } }'
    await traced.post("/graphql", json={"query": create.replace("NAME", SECRET)}, headers=AUTH)
    await traced.get("/graphql", params={"query": f'{{ contacts(search: "{SECRET}") '
                                                  "{ totalCount } }"}, headers=AUTH)  # fmt: skip
    await traced.get("/export/contacts.csv", params={"search": SECRET}, headers=AUTH)
    finished = spans.get_finished_spans()
    assert len({s.attributes.get(REQUEST_ID) for s in finished} - {None}) == 4
    for span in finished:
        assert "query" not in span.attributes
        for name, attribute in span.attributes.items():
            assert SECRET not in str(attribute), (span.name, name)
            assert ADMIN_TOKEN not in str(attribute), (span.name, name)
        assert SECRET not in span.name


async def test_tracing_keeps_the_breadth_first_executor(traced, spans):
    before = value(await samples(traced), "crm_graphql_executions_total", path="fast")
    response = await traced.post("/graphql", json={"query": "{ accounts { totalCount } }"},
                                 headers=AUTH)  # fmt: skip
    assert response.status_code == 200
    after = value(await samples(traced), "crm_graphql_executions_total", path="fast")
    assert after - before == 1
    # And no span per resolved field.
    assert not [s for s in spans.get_finished_spans() if s.name.startswith("GraphQL Resolving")]


WITHOUT_TRACING = """
import sys
import schema
import server
from server import build_app
from settings import load_settings

app = build_app(load_settings([]), prepare=False)
graphql = next(route.app for route in app.routes if route.path == "/graphql")
print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
print([entry.cls.__name__ for entry in app.user_middleware])
print(graphql.schema is schema.schema, graphql.schema.extensions == schema.schema.extensions)
"""


def test_without_an_exporter_nothing_of_opentelemetry_is_loaded():
    """Zero cost when off: no module imported, no middleware, no extension, no wrapper."""
    env = {"PATH": "/usr/bin:/bin", "OTEL_SERVICE_NAME": "crm"}  # a name, but no exporter
    result = subprocess.run([sys.executable, "-c", WITHOUT_TRACING], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)  # fmt: skip
    modules, middleware, same_schema = result.stdout.splitlines()
    assert modules == "[]"
    assert middleware == (
        "['DefaultRegion', 'TimeZone', 'MetricsMiddleware', 'RequestLog', 'BodyLimit', "
        "'DatabaseOutage']"
    )
    assert same_schema == "True True"
    from tortoise.backends.sqlite.client import SqliteClient

    assert SqliteClient.execute_query.__module__ == "tortoise.backends.sqlite.client"


def test_with_an_exporter_the_app_is_traced(spans):
    tracing = Tracing([spans], export=SimpleSpanProcessor)
    app = build_app(Settings(), prepare=False, tracing=tracing)
    try:
        names = [entry.cls.__name__ for entry in app.user_middleware]
        assert names[:5] == [
            "DefaultRegion", "TimeZone", "MetricsMiddleware", "RequestLog",
            "OpenTelemetryMiddleware",
        ]
        graphql = next(route.app for route in app.routes if route.path == "/graphql")
        assert graphql.schema.extensions[0].func.__name__ == "TracedOperations"
    finally:
        tracing.close()
    from tortoise.backends.sqlite.client import SqliteClient

    assert SqliteClient.execute_query.__module__ == "tortoise.backends.sqlite.client"


@pytest.mark.parametrize(
    "env, exporters",
    [
        ({}, ()),
        ({"OTEL_SERVICE_NAME": "crm"}, ()),
        ({"OTEL_TRACES_EXPORTER": "console"}, ("console",)),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ("otlp_proto_http",)),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ("otlp_proto_http", "console")),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ("otlp_proto_http",)),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, ()),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, ()),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "false"}, ("console",)),
    ],
)
def test_the_standard_variables_choose_the_exporters(env, exporters):
    assert load_settings([], env).trace_exporters == exporters


@pytest.mark.parametrize(
    "env, message",
    [
        ({"OTEL_TRACES_EXPORTER": "jaeger-nope"}, "no installed package provides"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
         "no installed package provides the 'otlp_proto_grpc'"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"},
         "must be http/protobuf or grpc"),
    ],
)  # fmt: skip
def test_an_exporter_that_cannot_be_had_stops_start_up_with_one_line(env, message):
    with pytest.raises(SystemExit) as stopped:
        load_settings([], env)
    assert message in str(stopped.value)


async def test_a_started_server_exports_its_spans_with_the_console_exporter(
    tmp_path, monkeypatch
):
    """As an operator turns it on: the variables, `python server.py`, spans on stdout."""
    from tests.test_server import ServerProcess

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "crm-prueba")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    server = ServerProcess("--database-url", f"sqlite://{tmp_path / 'crm.sqlite3'}",
                           "--log-format", "json")  # fmt: skip
    async with server, httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post("/graphql", json={"query": "query Consola { __typename }"},
                                   headers={"X-Request-ID": "consola-1"})  # fmt: skip
        assert response.status_code == 200
    decoder, output, found = json.JSONDecoder(), server.output, []
    position = output.find("{")
    while position != -1:  # the console exporter's indented JSON among the log lines
        try:
            item, end = decoder.raw_decode(output, position)
        except ValueError:
            end = position + 1
        else:
            found.append(item)
        position = output.find("{", end)
    [line] = [i for i in found if i.get("event") == "request" and i["request_id"] == "consola-1"]
    mine = [i for i in found if "context" in i and
            i.get("attributes", {}).get(REQUEST_ID) == "consola-1"]  # fmt: skip
    assert {"POST /graphql", "query Consola"} <= {span["name"] for span in mine}
    assert {span["context"]["trace_id"] for span in mine} == {"0x" + line["trace_id"]}
    assert all(span["resource"]["attributes"]["service.name"] == "crm-prueba" for span in mine)


async def test_an_incoming_traceparent_is_continued(traced, spans, log_output):
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = await traced.post("/graphql", json={"query": "{ __typename }"},
                                 headers={"traceparent": f"00-{trace_id}-{parent}-01",
                                          "X-Request-ID": "padre-1"})  # fmt: skip
    assert response.status_code == 200
    [line] = [line for line in request_lines(log_output()) if line["request_id"] == "padre-1"]
    assert line["trace_id"] == trace_id
    [server] = [s for s in of_request(spans, "padre-1") if s.name == "POST /graphql"]
    assert format(server.parent.span_id, "016x") == parent
