"""One structured line per request: who asked, what it answered, what it cost; matched to
the response by its request id (``X-Request-ID``, the masked errors' ``requestId``), and
never holding the token, the query's values or its search terms."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from websockets.asyncio.client import connect

from resolvers.users import user_for_token
from settings import load_settings
from tests.conftest import (
    ADMIN_TOKEN,
    count_statements,
    logging_to,
    make_account,
    request_lines,
    the_line,
)
from tests.test_outage import database_away
from tests.test_server import live_server, ws_query  # noqa: F401  (a fixture)

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SECRET_SEARCH = "busqueda-secreta-7731"
SECRET_NAME = "Nombre-Secreto-4410"


async def admin_ids() -> tuple[int, int]:
    user, token = await user_for_token(ADMIN_TOKEN)
    return user.pk, token.pk


async def test_a_query_logs_its_operation_caller_cost_and_statements(client, log_output):
    await make_account()
    query = "query ContactList($s: String) { contacts(search: $s, first: 5) { totalCount } }"
    with count_statements() as counter:
        response = await client.post(
            "/graphql", json={"query": query, "variables": {"s": "andina"}}, headers=AUTH
        )
    assert response.status_code == 200, response.text
    line = the_line(log_output())
    user_id, token_id = await admin_ids()
    assert line["event"] == "request" and line["level"] == "info"
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert (line["method"], line["path"], line["status"]) == ("POST", "/graphql", 200)
    assert (line["operation_name"], line["operation_type"]) == ("ContactList", "query")
    assert (line["user_id"], line["token_id"]) == (user_id, token_id)
    assert line["error_codes"] == []
    assert line["cost"] == response.json()["extensions"]["cost"]["requested"] > 0
    assert line["statements"] == len(counter.statements) > 0
    assert line["duration_ms"] > 0
    assert "timestamp" in line


async def test_a_mutation_logs_its_type_and_the_statements_it_wrote(client, log_output):
    mutation = "mutation Alta($input: CreateAccountInput!) { createAccount(input: $input) " \
               "{ account { id } errors { code } } }"  # fmt: skip
    with count_statements() as counter:
        response = await client.post(
            "/graphql", json={"query": mutation, "variables": {"input": {"name": "Andes"}}},
            headers=AUTH,
        )  # fmt: skip
    assert response.json()["data"]["createAccount"]["errors"] == []
    line = the_line(log_output())
    assert (line["operation_name"], line["operation_type"]) == ("Alta", "mutation")
    assert line["statements"] == len(counter.statements)
    assert any(s.lstrip().upper().startswith("INSERT") for s in counter.statements)
    assert line["user_id"] == (await admin_ids())[0]


async def test_a_mutations_user_errors_are_logged_and_counted_by_code(client, log_output):
    from tests.test_metrics import samples, value

    before = await samples(client)
    mutation = "mutation Alta($input: CreateAccountInput!) { createAccount(input: $input) " \
               "{ account { id } errors { code } } }"  # fmt: skip
    response = await client.post(
        "/graphql", json={"query": mutation, "variables": {"input": {"name": "  "}}},
        headers=AUTH,
    )  # fmt: skip
    [error] = response.json()["data"]["createAccount"]["errors"]
    line = request_lines(log_output())[-1]
    assert line["operation_name"] == "Alta" and line["error_codes"] == [error["code"]]
    after = await samples(client)
    name = "crm_graphql_errors_total"
    assert value(after, name, code=error["code"]) - value(before, name, code=error["code"]) == 1
    assert value(after, name, code="OTHER") == value(before, name, code="OTHER")


async def test_an_anonymous_request_logs_no_caller(client, log_output):
    response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200
    line = the_line(log_output())
    assert (line["user_id"], line["token_id"]) == (None, None)
    assert (line["operation_name"], line["operation_type"]) == (None, "query")
    assert line["error_codes"] == []


async def test_errors_are_logged_by_code(client, log_output):
    response = await client.post("/graphql", json={"query": "{ viewer { name } }"},
                                 headers={"Authorization": "Bearer not-a-token"})  # fmt: skip
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    response = await client.post("/graphql", json={"query": "{ nope }"}, headers=AUTH)
    response = await client.put("/graphql", json={"query": "{ viewer { name } }"})
    assert response.status_code == 405
    unauthenticated, invalid, refused = request_lines(log_output())
    assert unauthenticated["error_codes"] == ["UNAUTHENTICATED"]
    assert unauthenticated["user_id"] is None
    assert invalid["error_codes"] == ["GRAPHQL_VALIDATION_FAILED"]
    assert (refused["status"], refused["error_codes"]) == (405, ["METHOD_NOT_ALLOWED"])


async def test_an_internal_errors_request_id_is_its_log_lines(client, monkeypatch, log_output):
    from schema.users import User

    def broken(row):
        raise RuntimeError("boom")

    monkeypatch.setattr(User, "from_row", broken)
    response = await client.post("/graphql", json={"query": "{ viewer { id } }"}, headers=AUTH)
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    line = the_line(log_output())
    assert error["extensions"]["requestId"] == line["request_id"]
    assert response.headers["X-Request-ID"] == line["request_id"]
    assert line["error_codes"] == ["INTERNAL_SERVER_ERROR"]
    # The traceback's line names the same request.
    [failure] = [json.loads(t) for t in log_output().splitlines() if "exception" in t]
    assert failure["request_id"] == line["request_id"] and "boom" in failure["exception"]


async def test_an_outages_request_id_is_its_log_lines(client, tmp_path, log_output):
    async with database_away(tmp_path):
        response = await client.post("/graphql", json={"query": "{ viewer { name } }"},
                                     headers=AUTH)  # fmt: skip
    assert response.status_code == 503
    [error] = response.json()["errors"]
    line = the_line(log_output())
    assert error["extensions"]["requestId"] == line["request_id"]
    assert response.headers["X-Request-ID"] == line["request_id"]
    assert (line["status"], line["error_codes"]) == (503, ["SERVICE_UNAVAILABLE"])


async def test_no_token_variable_value_or_search_term_is_logged(client, log_output):
    await make_account()
    search = "query Buscar($s: String) { contacts(search: $s) { totalCount } }"
    create = 'mutation { createAccount(input: {name: "NAME"}) { account { id } } }'.replace(
        "NAME", SECRET_NAME
    )
    await client.post("/graphql", json={"query": search, "variables": {"s": SECRET_SEARCH}},
                      headers=AUTH)  # fmt: skip
    await client.post("/graphql", json={"query": create}, headers=AUTH)
    await client.get("/graphql", params={"query": f'{{ contacts(search: "{SECRET_SEARCH}") '
                                                  "{ totalCount } }"}, headers=AUTH)  # fmt: skip
    await client.get("/export/contacts.csv", params={"search": SECRET_SEARCH}, headers=AUTH)
    output = log_output()
    assert len(request_lines(output)) == 4
    for secret in (ADMIN_TOKEN, SECRET_SEARCH, SECRET_NAME):
        assert secret not in output
    paths = {line["path"] for line in request_lines(output)}
    assert paths == {"/graphql", "/export/contacts.csv"}  # without their query strings


@pytest.mark.parametrize(
    "sent, kept",
    [
        ("3f2c1d9e-5b7a-4c1e-9f0a-2b3c4d5e6f70", True),
        ("Root=1-67891233-abcdef012345678912345678", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("abc;rm -rf", False),
        ("<script>", False),
        ("", False),
    ],
)
async def test_x_request_id_is_taken_when_it_looks_like_an_id(client, log_output, sent, kept):
    response = await client.post("/graphql", json={"query": "{ __typename }"},
                                 headers={"X-Request-ID": sent})  # fmt: skip
    echoed = response.headers["X-Request-ID"]
    assert the_line(log_output())["request_id"] == echoed
    if kept:
        assert echoed == sent
    else:
        assert echoed != sent and len(echoed) == 16 and int(echoed, 16) >= 0


async def test_every_route_echoes_a_fresh_request_id(client, log_output):
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    assert [line["request_id"] for line in request_lines(log_output())] == [
        first.headers["X-Request-ID"], second.headers["X-Request-ID"]]  # fmt: skip


async def _rendered(client, log_format: str) -> str:
    with logging_to(log_format) as stream:
        await client.post("/graphql", json={"query": "query Hola { __typename }"},
                          headers={"X-Request-ID": "abc123"})  # fmt: skip
    return stream.getvalue()


async def test_json_format_is_one_object_a_line_and_text_is_for_a_terminal(client):
    [json_line] = (await _rendered(client, "json")).splitlines()
    line = json.loads(json_line)
    assert set(line) == {
        "event", "logger", "level", "timestamp", "request_id", "method", "path",
        "operation_name", "operation_type", "user_id", "token_id", "status", "error_codes",
        "duration_ms", "cost", "statements"}  # fmt: skip
    assert (line["request_id"], line["operation_name"], line["status"]) == ("abc123", "Hola", 200)
    [text_line] = (await _rendered(client, "text")).splitlines()
    assert "request_id=abc123" in text_line and "operation_name=Hola" in text_line
    assert "status=200" in text_line and not text_line.startswith("{")


def test_the_log_format_flag_and_its_variable():
    assert load_settings([]).log_format == "text"
    assert load_settings(["--log-format", "json"]).log_format == "json"
    assert load_settings([], {"CRM_LOG_FORMAT": "json"}).log_format == "json"
    assert load_settings([], {"CRM_LOG_FORMAT": "json"}).environment()["CRM_LOG_FORMAT"] == "json"
    with pytest.raises(SystemExit):
        load_settings(["--log-format", "xml"])
    with pytest.raises(SystemExit):
        load_settings([], {"CRM_LOG_FORMAT": "yaml"})


async def websocket_lines(output) -> list[dict]:
    """The WebSocket lines, once the server has written them (a moment after the client's
    side closed)."""
    for _ in range(200):
        lines = [line for line in request_lines(output()) if line["event"] == "websocket"]
        if lines:
            return lines
        await asyncio.sleep(0.005)
    raise AssertionError("no WebSocket line")


async def test_a_websocket_logs_one_line_when_it_ends(live_server, log_output):  # noqa: F811
    async with connect(f"ws://{live_server}/graphql", subprotocols=["graphql-transport-ws"],
                       additional_headers={"X-Request-ID": "ws-abc"}) as ws:  # fmt: skip
        assert ws.response.headers["X-Request-ID"] == "ws-abc"
        await ws.send(json.dumps({"type": "connection_init", "payload": AUTH}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for number in ("1", "2"):
            await ws.send(json.dumps({"id": number, "type": "subscribe",
                                      "payload": {"query": "{ viewer { name } }"}}))  # fmt: skip
            assert json.loads(await ws.recv())["type"] == "next"
            assert json.loads(await ws.recv())["type"] == "complete"
    [line] = await websocket_lines(log_output)
    user_id, token_id = await admin_ids()
    assert line["request_id"] == "ws-abc" and line["path"] == "/graphql"
    assert (line["user_id"], line["token_id"]) == (user_id, token_id)
    assert (line["operations"], line["close_code"], line["level"]) == (2, 1000, "info")
    assert line["statements"] > 0 and line["duration_ms"] > 0 and line["error_codes"] == []
    assert ADMIN_TOKEN not in log_output()


async def test_a_websocket_with_a_bad_token_logs_its_refusal(live_server, log_output):  # noqa: F811
    from websockets.exceptions import ConnectionClosed

    with pytest.raises(ConnectionClosed) as closed:
        await ws_query(live_server, {"Authorization": "Bearer nope"}, "{ __typename }")
    assert closed.value.rcvd.code == 4403
    [line] = await websocket_lines(log_output)
    assert (line["close_code"], line["error_codes"], line["user_id"]) == (
        4403, ["UNAUTHENTICATED"], None)  # fmt: skip


async def test_two_authorization_headers_on_the_upgrade_are_refused(live_server, log_output):  # noqa: F811
    from websockets.exceptions import InvalidStatus

    headers = [("Authorization", f"Bearer {ADMIN_TOKEN}"), ("Authorization", "Bearer other")]
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"ws://{live_server}/graphql", subprotocols=["graphql-transport-ws"],
                           additional_headers=headers):  # fmt: skip
            pass
    response = refused.value.response
    assert response.status_code == 400
    [error] = json.loads(response.body)["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST" and "Authorization" in error["message"]
    [line] = await websocket_lines(log_output)
    assert (line["close_code"], line["error_codes"]) == (400, ["BAD_REQUEST"])
    # One header is fine.
    data, _complete = await ws_query(live_server, AUTH, "{ viewer { role } }")
    assert data["payload"]["data"] == {"viewer": {"role": "ADMIN"}}


@pytest.mark.parametrize("where", ["connection_init", "upgrade"])
async def test_a_websocket_signing_in_while_the_database_is_away_is_closed_1013(
    live_server, tmp_path, log_output, caplog, where  # noqa: F811
):
    from websockets.exceptions import ConnectionClosed

    headers, init = (AUTH, {}) if where == "upgrade" else ({}, AUTH)
    async with database_away(tmp_path):
        with caplog.at_level(logging.INFO):
            async with connect(f"ws://{live_server}/graphql", additional_headers=headers,
                               subprotocols=["graphql-transport-ws"]) as ws:  # fmt: skip
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.send(json.dumps({"type": "connection_init", "payload": init}))
                    await ws.recv()
    assert closed.value.rcvd.code == 1013 and "retry" in closed.value.rcvd.reason
    [line] = await websocket_lines(log_output)
    assert (line["level"], line["close_code"], line["error_codes"]) == (
        "warning", 1013, ["SERVICE_UNAVAILABLE"])  # fmt: skip
    assert line["cause"]
    # That line is the only one: no traceback, no second line saying why.
    assert not any(r.exc_info for r in caplog.records)
    assert [r for r in caplog.records if r.name.startswith(("crm", "strawberry", "uvicorn"))
            and r.levelno >= logging.WARNING] == []  # fmt: skip
