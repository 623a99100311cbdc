"""Test harness: the real app over HTTP (httpx + ASGITransport) on a fresh database.

SQLite (a temporary file) by default. With ``CRM_TEST_POSTGRES_URL`` set (``.ci/run`` sets
it), the same suite runs on that PostgreSQL database and fails if it cannot be reached.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise import connections

import requestlog
from server import build_app
from settings import Settings

ADMIN_TOKEN = "test-admin-token"


def tables_children_first() -> list[str]:
    """Every table of the models, each before the tables its foreign keys point at (the
    order rows can be deleted in)."""
    from tortoise import Tortoise

    def parents(model) -> set:
        meta = model._meta
        return {meta.fields_map[name].related_model for name in meta.fk_fields} - {model}

    remaining, ordered = list(Tortoise.apps["models"].values()), []
    while remaining:
        pointed_at = set().union(*map(parents, remaining))
        free = [model for model in remaining if model not in pointed_at]
        assert free, f"foreign keys form a cycle among {remaining}"
        ordered += free
        remaining = [model for model in remaining if model not in free]
    return [model._meta.db_table for model in ordered]


def database_url(tmp_dir: Path) -> str:
    postgres = os.environ.get("CRM_TEST_POSTGRES_URL")
    if postgres:
        return postgres
    return f"sqlite://{tmp_dir / 'test.sqlite3'}"


@pytest.fixture(scope="session")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    url = database_url(tmp_path_factory.mktemp("db"))
    settings = Settings(database_url=url, admin_token=ADMIN_TOKEN,
                        storage_dir=str(tmp_path_factory.mktemp("documents")))
    application = build_app(settings)
    async with application.router.lifespan_context(application):
        await wipe()
        yield application


async def wipe() -> None:
    db = connections.get("default")
    tables = tables_children_first()
    if db.capabilities.dialect == "postgres":
        await db.execute_script(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    else:
        for table in tables:
            await db.execute_script(f'DELETE FROM "{table}"')
        await db.execute_script("DELETE FROM sqlite_sequence")  # ids restart, as on PostgreSQL


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an empty database holding only the bootstrap admin."""
    from resolvers.users import ensure_admin

    await wipe()
    await ensure_admin(ADMIN_TOKEN)
    # Each test starts with the admin's full per-minute budget: ids restart with the
    # database, so one token would otherwise carry every earlier test's cost.
    app.state.rate_limiter._used.clear()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = ADMIN_TOKEN,
) -> dict[str, Any]:
    """POST a GraphQL request; returns the decoded body."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code in (200, 400), response.text
    return response.json()


async def gql_upload(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    files: dict[str, tuple[str, bytes, str]],
    token: str | None = ADMIN_TOKEN,
) -> httpx.Response:
    """POST a GraphQL multipart request: ``files`` maps a variable's path
    (``variables.input.file``) to the part sent for it (file name, bytes, content type)."""
    headers = {"GraphQL-Require-Preflight": "1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    paths = list(files)
    form = {
        "operations": json.dumps({"query": query, "variables": variables}),
        "map": json.dumps({str(n): [path] for n, path in enumerate(paths)}),
    }
    parts = {str(n): files[path] for n, path in enumerate(paths)}
    return await client.post("/graphql", data=form, files=parts, headers=headers)


async def ok(client: httpx.AsyncClient, query: str, variables: dict | None = None) -> dict:
    """Data of a request that must succeed, with no GraphQL errors."""
    body = await gql(client, query, variables)
    assert "errors" not in body, body.get("errors")
    return body["data"]


@contextmanager
def logging_to(log_format: str) -> Iterator[io.StringIO]:
    """Logging configured as ``server.py --log-format <log_format>`` does, into a string
    (the test's HTTP client logs its own requests, URLs included: left out)."""
    root = logging.getLogger()
    handlers, level, line = root.handlers, root.level, requestlog._line
    stream = io.StringIO()
    requestlog.configure_logging(log_format, stream)
    root.handlers[0].addFilter(lambda record: not record.name.startswith("httpx"))
    try:
        yield stream
    finally:
        root.handlers, requestlog._line = handlers, line
        root.setLevel(level)


@pytest.fixture
def log_output() -> Iterator[Callable[[], str]]:
    """Everything the server logs while the test runs, as ``--log-format json`` writes it."""
    with logging_to("json") as stream:
        yield stream.getvalue


def request_lines(output: str) -> list[dict]:
    lines = [json.loads(line) for line in output.splitlines()]
    return [line for line in lines if line.get("logger") == "crm.requests"]


def the_line(output: str) -> dict:
    [line] = request_lines(output)
    return line


class StatementCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.statements.append(message)


@contextmanager
def count_statements() -> Iterator[StatementCounter]:
    """Counts the SQL statements Tortoise sends while the block runs."""
    logger = logging.getLogger("tortoise.db_client")
    counter = StatementCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)


async def make_account(name: str = "Distribuidora Andina S.A.C.", **fields: Any):
    """An account with its MAIN location, written directly (for tests of other domains)."""
    from models import Account, Location

    account = await Account.create(name=name, **fields)
    account.search_text = account.search_document()
    await account.save()
    main = await Location.create(account_id=account.id, kind="MAIN", name=name)
    return account, main


DEFINE_FIELD = """mutation($input: CreateCustomFieldDefinitionInput!) {
  createCustomFieldDefinition(input: $input) {
    customFieldDefinition { id } errors { code field message } } }"""


async def define_field(
    client: httpx.AsyncClient,
    entity: str,
    key: str,
    type: str,
    options: list[str] | None = None,
    *,
    required: bool = False,
) -> str:
    """A custom field definition made through the API as an admin; its global id."""
    variables = {"input": {"entity": entity, "key": key, "label": key.title(), "type": type,
                           "options": options, "required": required}}  # fmt: skip
    data = (await ok(client, DEFINE_FIELD, variables))["createCustomFieldDefinition"]
    assert data["errors"] == [], data["errors"]
    return data["customFieldDefinition"]["id"]


def gid(type_name: str, pk: int) -> str:
    from resolvers.ids import encode_id

    return encode_id(type_name, pk)
