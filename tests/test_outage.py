"""The database out of reach: every request answers 503 SERVICE_UNAVAILABLE with
Retry-After and a request id, logged in one line; /readyz says so and recovers by itself.

On PostgreSQL the outage is real: the pool is closed and pointed at a closed port, so the
next statement's reconnect is refused in asyncpg, as when the server is stopped. SQLite
has no server to lose (its connection stays open, and Tortoise 1.1.9 never releases the
connection's lock when a reconnect fails): there the connection is swapped for one whose
statements fail with the error SQLite raises for a file it cannot open."""

from __future__ import annotations

import logging
import socket
import sqlite3
from contextlib import asynccontextmanager

import pytest
from tortoise import connections

from models import Account
from tests.conftest import ADMIN_TOKEN, request_lines

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
RESPONSE_TYPE = "application/graphql-response+json"
CREATE = 'mutation { createAccount(input: {name: "Caída S.A.C."}) { account { id } } }'


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the probe is closed


class GoneSqliteFile:
    """An aiosqlite connection whose database file cannot be opened any more."""

    total_changes = 0

    def __init__(self, missing: str) -> None:
        self.missing = missing

    def __getattr__(self, name: str):
        async def statement(*args, **kwargs):
            sqlite3.connect(self.missing)  # raises SQLite's own "unable to open database file"

        return statement


@asynccontextmanager
async def database_away(tmp_path):
    """The database unreachable while the block runs, reachable again afterwards."""
    db = connections.get("default")
    if db.capabilities.dialect == "sqlite":
        connection = db._connection
        db._connection = GoneSqliteFile(str(tmp_path / "gone" / "db.sqlite3"))
        try:
            yield
        finally:
            db._connection = connection
        return
    port = db.port
    await db.close()
    db.port = closed_port()
    try:
        yield
    finally:
        await db.close()
        db.port = port


def outage_lines(caplog) -> list[logging.LogRecord]:
    """The server's lines besides the request lines (which go straight to the stream)."""
    return [r for r in caplog.records if r.name.startswith("crm")]


def the_outage_line(output: str, request_id: str) -> dict:
    """The request's one line: a warning that says what it answered and why."""
    [line] = [line for line in request_lines(output) if line["request_id"] == request_id]
    assert line["level"] == "warning"
    assert line["status"] == 503 and line["error_codes"] == ["SERVICE_UNAVAILABLE"]
    assert line["cause"].startswith(("OperationalError: unable to open database file",
                                      "ConnectionRefusedError"))  # fmt: skip
    return line


def assert_unavailable(response, caplog, output: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(("application/json", RESPONSE_TYPE))
    assert int(response.headers["Retry-After"]) > 0
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    request_id = error["extensions"]["requestId"]
    # One line for the request, naming its id and the cause, and no traceback.
    the_outage_line(output, request_id)
    assert outage_lines(caplog) == []
    assert not any(r.exc_info for r in caplog.records)
    assert "Traceback" not in output
    assert "Traceback" not in response.text and "SELECT" not in response.text


@pytest.mark.parametrize("accept", [None, RESPONSE_TYPE])
async def test_with_the_database_unreachable_requests_are_503_with_a_coded_json_error(
    client, tmp_path, caplog, accept, log_output
):
    headers = {**AUTH, **({"Accept": accept} if accept else {})}
    requests = [
        ("POST", {"json": {"query": "{ viewer { name } }"}, "headers": headers}),  # token lookup
        ("POST", {"json": {"query": CREATE}, "headers": headers}),
        ("GET", {"params": {"query": "{ viewer { name } }"}, "headers": headers}),
        ("POST", {"json": {"query": "{ __typename }"}}),  # anonymous: fails in execution
    ]
    async with database_away(tmp_path):
        for method, arguments in requests:
            caplog.clear()
            with caplog.at_level(logging.INFO):
                response = await client.request(method, "/graphql", **arguments)
            if arguments.get("headers") is None:
                assert response.status_code == 200  # nothing there needs the database
                continue
            assert_unavailable(response, caplog, log_output())
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response = await client.get("/export/contacts.csv", headers=AUTH)
        assert_unavailable(response, caplog, log_output())
    assert await Account.all().count() == 0


async def test_a_connection_lost_during_execution_is_service_unavailable(
    client, tmp_path, caplog, monkeypatch, log_output
):
    """The token lookup succeeds, then the database goes away before the fields read."""
    from resolvers.users import user_for_token

    found = await user_for_token(ADMIN_TOKEN)

    async def signed_in(secret: str):
        return found

    monkeypatch.setattr("server.user_for_token", signed_in)
    query = "{ contacts { totalCount } accounts { totalCount } }"
    async with database_away(tmp_path):
        with caplog.at_level(logging.INFO):
            response = await client.post("/graphql", json={"query": query},
                                         headers={**AUTH, "Accept": RESPONSE_TYPE})  # fmt: skip
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]
    errors = response.json()["errors"]
    assert {e["extensions"]["code"] for e in errors} == {"SERVICE_UNAVAILABLE"}
    [request_id] = {e["extensions"]["requestId"] for e in errors}
    # Both fields failed: still one line, the request's.
    assert [line["request_id"] for line in request_lines(log_output())] == [request_id]
    the_outage_line(log_output(), request_id)
    assert outage_lines(caplog) == []
    assert not any(r.exc_info for r in caplog.records)


async def test_readyz_is_503_while_the_database_is_away_and_200_again_by_itself(
    client, tmp_path, caplog, log_output
):
    assert (await client.get("/readyz")).status_code == 200
    async with database_away(tmp_path):
        with caplog.at_level(logging.INFO):
            for _ in range(3):
                response = await client.get("/readyz")
                assert response.status_code == 503
                assert response.json() == {"status": "unavailable"}
        # One line a probe: its request line, a warning with the cause.
        lines = request_lines(log_output())[-3:]
        assert [line["path"] for line in lines] == ["/readyz"] * 3
        assert all(line["level"] == "warning" and line["cause"] for line in lines)
        assert outage_lines(caplog) == []
        assert not any(r.exc_info for r in caplog.records)
    # Back: no restart, no reset; the next probe reconnects.
    response = await client.get("/readyz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    body = (await client.post("/graphql", json={"query": "{ viewer { role } }"},
                              headers=AUTH)).json()  # fmt: skip
    assert body["data"] == {"viewer": {"role": "ADMIN"}}


def test_the_drivers_own_outage_warnings_are_one_line(caplog):
    """asyncpg's pool logs a traceback each time it fails to reconnect its minimum size."""
    from server import quiet_driver_outages

    quiet_driver_outages()
    pool_log = logging.getLogger("asyncpg.pool")
    with caplog.at_level(logging.WARNING, logger="asyncpg.pool"):
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError:
            pool_log.warning("Failed to restore the pool connection floor; retrying", exc_info=True)
        try:
            raise KeyError("not an outage")
        except KeyError:
            pool_log.warning("something else", exc_info=True)
    outage, other = caplog.records
    assert outage.exc_info is None and "ConnectionRefusedError" in outage.getMessage()
    assert other.exc_info is not None  # other errors keep their traceback
