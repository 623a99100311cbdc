"""The server as operators and clients meet it: start-up, WebSocket, GET, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect

from engine.limits import MAX_COST
from models import Contact
from server import build_app
from settings import DEFAULT_DATABASE_URL, Settings, load_settings
from tests.conftest import ADMIN_TOKEN, gid, gql, make_account

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def live_server(app, client) -> AsyncIterator[str]:
    """The app on a real loopback port (the ORM is already up: no second lifespan)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def ws_query(address: str, init: dict, query: str) -> list[dict]:
    async with connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        ack = json.loads(await ws.recv())
        if ack["type"] != "connection_ack":
            return [ack]
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        messages = []
        while not messages or messages[-1]["type"] not in ("complete", "error"):
            messages.append(json.loads(await ws.recv()))
        return messages


async def test_websocket_signs_in_with_the_token_in_connection_init(live_server):
    messages = await ws_query(
        live_server, {"Authorization": f"Bearer {ADMIN_TOKEN}"}, "{ viewer { role } }"
    )
    assert messages[0]["payload"]["data"] == {"viewer": {"role": "ADMIN"}}
    assert messages[0]["payload"]["extensions"]["cost"]["requested"] == 1


async def test_websocket_operations_meet_the_same_limits(live_server):
    init = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    query = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(31)) + " }"
    [error] = await ws_query(live_server, init, query)
    assert error["type"] == "error"
    assert error["payload"][0]["extensions"]["code"] == "TOO_MANY_ALIASES"
    [error] = await ws_query(live_server, {}, "{ __schema { types { name } } }")
    assert error["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_token_revoked_while_its_websocket_is_open_stops_at_the_next_operation(
    live_server,
):
    from datetime import UTC, datetime

    from models import ApiToken, User
    from resolvers.users import hash_secret

    admin = await User.get(role="ADMIN")
    token = await ApiToken.create(user_id=admin.id, name="ws", secret_hash=hash_secret("ws-1"))
    async with connect(f"ws://{live_server}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": "Bearer ws-1"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"

        async def operation(id: str) -> dict:
            query = {"query": "{ viewer { id } }"}
            await ws.send(json.dumps({"id": id, "type": "subscribe", "payload": query}))
            return json.loads(await ws.recv())

        assert "errors" not in (await operation("1"))["payload"]
        assert json.loads(await ws.recv())["type"] == "complete"
        await ApiToken.filter(id=token.id).update(revoked_at=datetime.now(UTC))
        refused = await operation("2")  # refused before execution: an `error` message
        assert refused["type"] == "error", refused
        assert [e["extensions"]["code"] for e in refused["payload"]] == ["UNAUTHENTICATED"]


async def test_websocket_with_a_bad_token_is_rejected(live_server):
    from websockets.exceptions import ConnectionClosed

    with pytest.raises(ConnectionClosed) as closed:
        await ws_query(live_server, {"Authorization": "Bearer nope"}, "{ viewer { id } }")
    assert closed.value.rcvd.code == 4403


async def test_websocket_without_a_token_is_unauthenticated(live_server):
    messages = await ws_query(live_server, {}, "{ viewer { id } }")
    errors = messages[0]["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_get_serves_queries_but_never_mutations(client):
    account, _ = await make_account()
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    response = await client.get("/graphql", params={"query": "{ viewer { role } }"}, headers=auth)
    assert response.json()["data"] == {"viewer": {"role": "ADMIN"}}
    account_id = gid("Account", account.id)
    mutation = (
        f'mutation {{ createContact(input: {{accountId: "{account_id}", firstName: "A", '
        'lastName: "B"}) { errors { code } } }'
    )
    response = await client.get("/graphql", params={"query": mutation}, headers=auth)
    assert response.status_code == 405
    assert await Contact.all().count() == 0


async def test_metrics_count_requests_in_prometheus_text(client):
    await gql(client, "{ viewer { id } }")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert 'crm_http_requests_total{method="POST",route="/graphql",status="200"}' in response.text
    assert "crm_http_request_duration_seconds_bucket" in response.text


class ServerProcess:
    """``python server.py`` as an operator starts it, on a free loopback port."""

    def __init__(self, *flags: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.flags = flags
        self.output = ""

    async def __aenter__(self) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("CRM_ADMIN_TOKEN", "DATABASE_URL")}
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "server.py"), "--port", str(self.port), *self.flags,
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{self.url}/readyz")).status_code == 200:
                        return self
                if self.process.returncode is not None:
                    break
                await asyncio.sleep(0.1)
        await self.__aexit__()
        raise AssertionError(f"server did not start:\n{self.output}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aexit__(self, *exc: object) -> None:
        if self.process.returncode is None:
            self.process.terminate()
        out, _ = await self.process.communicate()
        self.output += out.decode()


async def test_first_start_prints_an_admin_token_once_and_restarts_never_wipe(tmp_path: Path):
    url = f"sqlite://{tmp_path / 'crm.sqlite3'}"
    first = ServerProcess("--database-url", url)
    async with first:
        pass
    token = next(
        line.strip() for line in first.output.splitlines() if line.strip().startswith("crm_")
    )
    again = ServerProcess("--database-url", url)
    async with again, httpx.AsyncClient() as http:
        headers = {"Authorization": f"Bearer {token}"}
        response = await http.post(
            f"{again.url}/graphql", headers=headers,
            json={"query": "{ viewer { role } }"},
        )  # fmt: skip
    # The first start's admin and token survived the restart, and no second token was made.
    assert response.json()["data"] == {"viewer": {"role": "ADMIN"}}
    assert "API token" not in again.output


def test_flags_and_environment():
    settings = load_settings(
        ["--port", "9000", "--workers", "2", "--demo"],
        {"DATABASE_URL": "postgresql://u@h:5432/db", "CRM_ADMIN_TOKEN": "s3cret"},
    )
    assert (settings.port, settings.workers, settings.demo) == (9000, 2, True)
    assert settings.is_postgres
    assert settings.tortoise_db_url() == "postgres://u@h:5432/db"
    assert settings.admin_token == "s3cret"
    assert load_settings([], {}).database_url == DEFAULT_DATABASE_URL
    with contextlib.suppress(SystemExit), pytest.raises(SystemExit):
        load_settings(["--workers", "0"], {})


def test_protection_flags_and_their_environment_variables():
    defaults = load_settings([], {})
    assert (defaults.cors_origins, defaults.rate_limit_points, defaults.redis_url) == (
        (),
        60_000,
        None,
    )
    assert (defaults.max_body_bytes, defaults.max_upload_bytes) == (256 * 1024, 10 * 1024 * 1024)
    from_env = load_settings([], {
        "CRM_CORS_ORIGINS": "https://app.example.com/, https://admin.example.com",
        "CRM_RATE_LIMIT_POINTS": "120000", "CRM_REDIS_URL": "redis://127.0.0.1:6379/0",
        "CRM_MAX_BODY_BYTES": "1000",
    })  # fmt: skip
    assert from_env.cors_origins == ("https://app.example.com", "https://admin.example.com")
    assert (from_env.rate_limit_points, from_env.redis_url) == (120_000, "redis://127.0.0.1:6379/0")
    assert from_env.max_body_bytes == 1000
    flags = load_settings(["--cors-origins", "https://x.pe", "--rate-limit-points", "0"],
                          {"CRM_CORS_ORIGINS": "https://y.pe"})  # fmt: skip
    assert (flags.cors_origins, flags.rate_limit_points) == (("https://x.pe",), 0)
    # Worker processes rebuild the same settings from the environment.
    assert load_settings([], from_env.environment()) == from_env
    with contextlib.suppress(SystemExit), pytest.raises(SystemExit):
        load_settings(["--rate-limit-points", "-1"], {})


def test_standard_execution_switches_the_breadth_first_executor_off():
    assert load_settings([], {}).fast_execution
    flagged = load_settings(["--standard-execution"], {})
    assert not flagged.fast_execution
    assert not load_settings([], {"CRM_STANDARD_EXECUTION": "1"}).fast_execution
    assert load_settings([], {"CRM_STANDARD_EXECUTION": "false"}).fast_execution
    with pytest.raises(SystemExit, match="CRM_STANDARD_EXECUTION"):
        load_settings([], {"CRM_STANDARD_EXECUTION": "maybe"})
    assert load_settings([], flagged.environment()) == flagged  # workers get it too
    assert graphql_app(build_app(flagged, prepare=False)).fast_execution is False
    assert graphql_app(build_app(load_settings([], {}), prepare=False)).fast_execution is True


def graphql_app(app):
    from server import GraphQLApp

    found = {route.endpoint for route in app.routes
             if isinstance(getattr(route, "endpoint", None), GraphQLApp)}  # fmt: skip
    [graphql] = found
    return graphql


def test_a_rate_limit_smaller_than_one_costly_query_is_refused_at_start():
    with pytest.raises(ValueError, match="rate limit"):
        build_app(Settings(rate_limit_points=MAX_COST - 1))


async def test_a_configured_redis_that_cannot_be_reached_stops_start_up():
    application = build_app(Settings(redis_url="redis://127.0.0.1:1/0"), prepare=False)
    with pytest.raises(Exception, match=r"(?i)connect"):
        async with application.router.lifespan_context(application):
            pass


async def test_a_stalled_client_keeps_a_stopping_server_no_longer_than_the_graceful_timeout(
    tmp_path: Path,
):
    server = ServerProcess("--database-url", f"sqlite://{tmp_path / 'crm.sqlite3'}",
                           "--graceful-timeout", "1")  # fmt: skip
    async with server:
        # A request whose body never comes: the app waits for it until shutdown gives up.
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                     b'Content-Length: 100\r\n\r\n{"query": ')  # fmt: skip
        await writer.drain()
        await asyncio.sleep(0.3)
        started = asyncio.get_running_loop().time()
        server.process.terminate()
        try:
            await asyncio.wait_for(server.process.wait(), 15)
        except TimeoutError:
            server.process.kill()  # fail, rather than hang on a server that does not stop
            raise AssertionError("SIGTERM left the server running for 15 s") from None
        finally:
            writer.close()
        stopped_after = asyncio.get_running_loop().time() - started
    assert stopped_after < 6, stopped_after
    assert "timeout graceful shutdown exceeded" in server.output


def test_graceful_timeout_flag_and_environment():
    assert load_settings([], {}).graceful_timeout == 20
    assert load_settings(["--graceful-timeout", "5"], {}).graceful_timeout == 5
    from_env = load_settings([], {"CRM_GRACEFUL_TIMEOUT": "7"})
    assert from_env.graceful_timeout == 7
    assert load_settings([], from_env.environment()) == from_env  # workers get it too


@pytest.mark.parametrize("flags, environ", [(["--rate-limit-points", "30"], {}),
                                            ([], {"CRM_RATE_LIMIT_POINTS": "30"})])  # fmt: skip
def test_a_rate_limit_below_one_costly_query_is_a_flag_error_not_a_traceback(flags, environ):
    env = {**os.environ, **environ}
    env.pop("CRM_ADMIN_TOKEN", None)
    result = subprocess.run([sys.executable, str(ROOT / "server.py"), *flags], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "server.py: error: --rate-limit-points must be 0 (off) or at least" in result.stderr
    assert "Traceback" not in result.stderr
