"""``GET /metrics`` after requests: the operation, error, statement, rate-limit and WebSocket
series, their labels, and the bound on operation names."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

import metrics
from engine.limits import MAX_COST
from server import build_app
from settings import Settings
from tests.conftest import ADMIN_TOKEN, gql
from tests.test_limits import COSTLY
from tests.test_server import live_server, ws_query  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def samples(client: httpx.AsyncClient) -> dict[tuple[str, tuple], float]:
    """Every sample of ``/metrics``, by name and sorted labels."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_operations_are_timed_by_name_and_type_with_their_statements(client):
    before = await samples(client)
    for _ in range(3):
        await gql(client, "query ListMetricsProbe { viewer { id } }")
    await gql(client, "{ viewer { id } }")
    after = await samples(client)
    count = "crm_graphql_request_duration_seconds_count"
    probe = {"operation": "ListMetricsProbe", "type": "query"}
    assert value(after, count, **probe) - value(before, count, **probe) == 3
    unnamed = {"operation": "(unnamed)", "type": "query"}
    assert value(after, count, **unnamed) - value(before, count, **unnamed) == 1
    statements = "crm_sql_statements_per_request_count"
    assert value(after, statements) - value(before, statements) == 4
    # Signing in with the token reads the database: each request sent statements.
    assert value(after, "crm_sql_statements_per_request_sum") > value(
        before, "crm_sql_statements_per_request_sum"
    )


async def test_errors_are_counted_by_their_code_and_unknown_codes_as_other(client):
    before = await samples(client)
    await gql(client, "{ viewer { id } }", token=None)  # UNAUTHENTICATED
    await gql(client, "{ nope }")  # GRAPHQL_VALIDATION_FAILED
    after = await samples(client)
    name = "crm_graphql_errors_total"
    assert value(after, name, code="UNAUTHENTICATED") - value(
        before, name, code="UNAUTHENTICATED"
    ) == 1  # fmt: skip
    assert value(after, name, code="GRAPHQL_VALIDATION_FAILED") - value(
        before, name, code="GRAPHQL_VALIDATION_FAILED"
    ) == 1  # fmt: skip
    metrics.observe_request(None, None, ("SOMETHING_A_CLIENT_MADE_UP",), 0, 0.0)
    final = await samples(client)
    assert value(final, name, code="OTHER") - value(after, name, code="OTHER") == 1
    assert not any("SOMETHING" in str(key) for key in final)


async def test_a_flood_of_operation_names_cannot_grow_the_label_set(client, monkeypatch):
    # The flood's names are forgotten afterwards: later tests' names still get labels.
    monkeypatch.setattr(metrics, "_names", set(metrics._names))
    for i in range(metrics.MAX_OPERATION_NAMES + 50):
        await gql(client, f"query Flood{i} {{ viewer {{ id }} }}")
    found = await samples(client)
    names = {
        dict(labels)["operation"]
        for (sample, labels) in found
        if sample == "crm_graphql_request_duration_seconds_count"
    }
    assert len(names - {metrics.UNNAMED, metrics.OTHER_NAME}) <= metrics.MAX_OPERATION_NAMES
    assert metrics.OTHER_NAME in names
    assert value(found, "crm_graphql_request_duration_seconds_count",
                 operation="(other)", type="query") >= 50  # fmt: skip


async def test_labels_hold_no_user_input_but_operation_names(client):
    secret = "s3cret-search-term"
    await gql(client, '{ contacts(search: "' + secret + '") { totalCount } }')
    await client.get(f"/no-such-path-{secret}", params={"q": secret})
    headers = {**AUTH, "Content-Type": "text/x-" + secret}
    await client.post("/graphql", content=secret, headers=headers)
    found = await samples(client)
    assert not any(secret in str(key) for key in found)
    allowed = {
        "route": metrics.ROUTES | {"other"},
        "code": metrics.LABELLED_CODES | {"OTHER"},
        "type": metrics.OPERATION_TYPES,
        "path": {"fast", "fallback", "standard"},
    }
    for sample, labels in found:
        for label, label_value in labels:
            if label in allowed:
                assert label_value in allowed[label], (sample, label, label_value)


async def test_rate_limit_refusals_are_counted(app, client):
    limited = build_app(Settings(rate_limit_points=MAX_COST), prepare=False)
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        before = await samples(http)
        first = await http.post("/graphql", json={"query": COSTLY}, headers=AUTH)
        assert first.status_code == 200
        refused = await http.post("/graphql", json={"query": COSTLY}, headers=AUTH)
        assert refused.status_code == 429
        after = await samples(http)
    await limited.state.rate_limiter.close()
    name = "crm_rate_limit_refusals_total"
    assert value(after, name) - value(before, name) == 1
    codes = "crm_graphql_errors_total"
    assert value(after, codes, code="RATE_LIMITED") - value(before, codes, code="RATE_LIMITED") == 1


async def test_open_websockets_are_a_gauge(live_server, client):  # noqa: F811
    from websockets.asyncio.client import connect

    before = value(await samples(client), "crm_websocket_connections")
    async with connect(f"ws://{live_server}/graphql", subprotocols=["graphql-transport-ws"]):
        during = value(await samples(client), "crm_websocket_connections")
    assert during - before == 1
    await ws_query(live_server, {"Authorization": f"Bearer {ADMIN_TOKEN}"}, "{ viewer { id } }")
    for _ in range(100):  # the server closes its side a moment after the client
        if value(await samples(client), "crm_websocket_connections") == before:
            break
        await asyncio.sleep(0.01)
    assert value(await samples(client), "crm_websocket_connections") == before


def test_every_code_the_server_answers_with_has_its_own_label():
    """The codes written in the source (refusals, coded errors, limits) are all in
    ``ERROR_CODES``: a new code is not silently counted as OTHER."""
    root = ROOT
    written = re.compile(
        r'(?:Refusal\(\d+, |coded_error\(\d+, [^,]+, |code = |"code": |code=)"([A-Z][A-Z_]+)"'
    )
    codes = set()
    for path in [root / "server.py", *root.glob("engine/*.py"), *root.glob("resolvers/*.py")]:
        codes |= set(written.findall(path.read_text()))
    assert {"BATCHING_NOT_SUPPORTED", "RATE_LIMITED", "QUERY_TOO_DEEP"} <= codes
    assert codes - metrics.ERROR_CODES == set()


def test_every_user_error_code_has_its_own_label():
    from resolvers.errors import ProblemCode

    assert {code.value for code in ProblemCode} == metrics.USER_ERROR_CODES


async def test_with_two_workers_every_scrape_sums_both_workers(tmp_path: Path):
    from tests.test_server import ServerProcess

    before = set((ROOT / "data").glob("prometheus-*"))
    server = ServerProcess("--database-url", f"sqlite://{tmp_path / 'crm.sqlite3'}",
                           "--workers", "2")  # fmt: skip
    query = {"query": "query TwoWorkers { __typename }"}
    sent, pids = 0, set()
    async with server:
        [directory] = set((ROOT / "data").glob("prometheus-*")) - before
        # Separate connections until both workers have answered some (their files show it).
        for _ in range(40):
            async with httpx.AsyncClient(base_url=server.url) as http:
                batch = await asyncio.gather(*(http.post("/graphql", json=query)
                                               for _ in range(10)))  # fmt: skip
            sent += sum(response.status_code == 200 for response in batch)
            pids = {path.stem.rsplit("_", 1)[1] for path in directory.glob("histogram_*.db")}
            if len(pids) >= 2:
                break
        assert len(pids) >= 2, "one worker answered every request"
        counts = set()
        for _ in range(6):  # whichever worker answers the scrape sees both workers' counts
            async with httpx.AsyncClient(base_url=server.url) as http:
                found = await samples(http)
            counts.add(value(found, "crm_graphql_request_duration_seconds_count",
                             operation="TwoWorkers", type="query"))  # fmt: skip
        # Each worker's one SQLite connection, idle: the live workers' gauges summed (once
        # the second worker has started: the files above appear when a worker imports, and
        # a worker still starting up holds its connection for its schema steps).
        for _ in range(200):
            async with httpx.AsyncClient(base_url=server.url) as http:
                pools = await pool(http)
            if pools == (0, 0, 2):
                break
            await asyncio.sleep(0.05)
    assert counts == {sent}
    assert pools == (0, 0, 2)
    assert not directory.exists()  # removed once the workers stopped


OPENMETRICS = "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5"


async def exemplars(client: httpx.AsyncClient, operation: str) -> list[dict[str, str]]:
    """The exemplars of ``operation``'s latency buckets, scraped as OpenMetrics."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse

    response = await client.get("/metrics", headers={"Accept": OPENMETRICS})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    return [
        sample.exemplar.labels
        for family in parse(response.text)
        for sample in family.samples
        if sample.name == "crm_graphql_request_duration_seconds_bucket"
        and sample.labels.get("operation") == operation and sample.exemplar
    ]


async def test_the_latency_exemplar_names_the_request_in_openmetrics(client):
    response = await client.post("/graphql", json={"query": "query Ejemplar { __typename }"},
                                 headers={"X-Request-ID": "ejemplar-123"})  # fmt: skip
    assert response.status_code == 200
    assert await exemplars(client, "Ejemplar") == [{"request_id": "ejemplar-123"}]
    # The Prometheus text format, the default, has no exemplars.
    plain = await client.get("/metrics")
    assert plain.headers["content-type"].startswith("text/plain")
    assert "ejemplar-123" not in plain.text


async def test_a_long_request_id_is_cut_to_fit_the_exemplar(client):
    long_id = "x" * 128  # the longest X-Request-ID kept
    await client.post("/graphql", json={"query": "query Largo { __typename }"},
                      headers={"X-Request-ID": long_id})  # fmt: skip
    [labels] = await exemplars(client, "Largo")
    assert long_id.startswith(labels["request_id"])
    assert len("request_id") + len(labels["request_id"]) == metrics.EXEMPLAR_CHARACTERS


async def pool(client: httpx.AsyncClient) -> tuple[float, float, float]:
    found = await samples(client)
    return (value(found, "crm_db_pool_connections_in_use"), value(found, "crm_db_pool_waiting"),
            value(found, "crm_db_pool_max_connections"))  # fmt: skip


async def test_the_pool_gauges_count_connections_in_use_and_callers_waiting(client):
    """Every connection held by a transaction, then one more statement: it waits. On SQLite
    the one connection is held by a transaction (Tortoise's lock), on PostgreSQL each of
    the pool's connections."""
    from tortoise import connections
    from tortoise.transactions import in_transaction

    from models import Account

    db = connections.get("default")
    size = 1 if db.capabilities.dialect == "sqlite" else db._pool.get_max_size()
    assert await pool(client) == (0, 0, size)
    release, held = asyncio.Event(), asyncio.Semaphore(0)

    async def hold() -> None:
        async with in_transaction():
            held.release()
            await release.wait()

    async def count() -> int:
        return await Account.all().count()

    holders = [asyncio.create_task(hold()) for _ in range(size)]
    try:
        for _ in range(size):
            await held.acquire()
        assert await pool(client) == (size, 0, size)
        waiting = asyncio.create_task(count())
        for _ in range(200):  # until the statement has asked for a connection
            if (await pool(client))[1] == 1:
                break
            await asyncio.sleep(0.005)
        assert await pool(client) == (size, 1, size)
    finally:
        release.set()
        await asyncio.gather(*holders)
    assert await waiting == 0
    assert await pool(client) == (0, 0, size)
