"""GraphQL over HTTP as the spec describes it (the npm graphql-http audit, run by
tools/http_audit.sh, checks the rest), the refusals outside GraphQL, and what GraphQL
security scanners look for, with and without a token."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from models import Account
from server import MAX_JSON_DEPTH, build_app
from settings import Settings
from tests.conftest import ADMIN_TOKEN

RESPONSE_TYPE = "application/graphql-response+json"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CREATE = 'mutation { createAccount(input: {name: "CSRF S.A.C."}) { account { id } } }'


async def post(client, body, accept: str | None = None, token: str | None = ADMIN_TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept:
        headers["Accept"] = accept
    return await client.post("/graphql", json=body, headers=headers)


def code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


# Media types and status codes ------------------------------------------------------------


async def test_graphql_response_json_is_used_when_accepted(client):
    response = await post(client, {"query": "{ viewer { role } }"}, RESPONSE_TYPE)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{RESPONSE_TYPE}; charset=utf-8"
    assert response.json()["data"] == {"viewer": {"role": "ADMIN"}}


@pytest.mark.parametrize("accept", [None, "*/*", "application/json",
                                    f"application/json, {RESPONSE_TYPE};q=0.5"])  # fmt: skip
async def test_application_json_otherwise(client, accept):
    response = await post(client, {"query": "{ viewer { role } }"}, accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"


async def test_unparsable_and_invalid_documents_are_400_without_data(client):
    for query, expected in (("{ viewer { id }", "GRAPHQL_PARSE_FAILED"),
                            ("{ nope }", "GRAPHQL_VALIDATION_FAILED")):  # fmt: skip
        response = await post(client, {"query": query}, RESPONSE_TYPE)
        assert response.status_code == 400, query
        assert "data" not in response.json()
        assert code(response) == expected


async def test_bad_variables_are_400(client):
    response = await post(
        client, {"query": "query($n: Int) { contacts(first: $n) { totalCount } }",
                 "variables": {"n": "many"}}, RESPONSE_TYPE,
    )  # fmt: skip
    assert response.status_code == 400
    assert code(response) == "BAD_USER_INPUT"


async def test_auth_failures_before_execution_are_401_with_www_authenticate(client):
    for token, query in (("nope", "{ viewer { id } }"), (None, "{ __schema { types { name } } }")):
        response = await post(client, {"query": query}, RESPONSE_TYPE, token=token)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert code(response) == "UNAUTHENTICATED"
        assert "data" not in response.json()


async def test_field_errors_stay_200_with_data(client):
    response = await post(client, {"query": "{ contacts(first: 500) { totalCount } }"},
                          RESPONSE_TYPE)  # fmt: skip
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert response.json()["errors"][0]["path"] == ["contacts"]


async def test_plain_json_clients_keep_200(client):
    for query in ("{ nope }", "{ viewer { id }"):
        response = await post(client, {"query": query})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["data"] is None


# Refused outside GraphQL: each with a coded JSON error -----------------------------------


async def test_50_batched_operations_are_refused_and_write_nothing(client):
    for body in ([{"query": "{ viewer { id } }"}] * 50, [{"query": CREATE}] * 50):
        for accept in (None, RESPONSE_TYPE):
            response = await post(client, body, accept)
            assert response.status_code == 400
            assert code(response) == "BATCHING_NOT_SUPPORTED"
    assert await Account.all().count() == 0


async def test_a_1_mb_query_is_413_before_it_is_read(client):
    mutation = CREATE.replace("CSRF S.A.C.", "x" * (1024 * 1024))
    response = await post(client, {"query": mutation}, RESPONSE_TYPE)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith(RESPONSE_TYPE)
    assert code(response) == "REQUEST_TOO_LARGE"
    assert await Account.all().count() == 0

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        yield b'{"query": "'
        for _ in range(64):
            yield b"x" * 16 * 1024
        yield b'"}'

    response = await client.post(
        "/graphql", content=streamed(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert code(response) == "REQUEST_TOO_LARGE"


async def test_mutations_over_get_are_405_and_write_nothing(client):
    for query in (CREATE, "mutation { __typename }"):
        response = await client.get("/graphql", params={"query": query},
                                    headers={**AUTH, "Accept": RESPONSE_TYPE})  # fmt: skip
        assert response.status_code == 405
        assert response.headers["Allow"] == "POST"
        assert code(response) == "METHOD_NOT_ALLOWED"
    assert await Account.all().count() == 0


async def test_get_serves_queries_to_callers_with_a_token(client):
    params = {"query": "query($n: Int) { contacts(first: $n) { totalCount } }",
              "variables": '{"n": 3}'}  # fmt: skip
    response = await client.get("/graphql", params=params, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["data"] == {"contacts": {"totalCount": 0}}
    anonymous = await client.get("/graphql", params={"query": "{ __typename }"})
    assert anonymous.status_code == 401
    assert code(anonymous) == "UNAUTHENTICATED"


async def test_form_encoded_and_other_non_json_posts_are_415_and_write_nothing(client):
    for content_type in ("application/x-www-form-urlencoded", "text/plain", None):
        headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
        body = f"query={CREATE}" if content_type != "text/plain" else f'{{"query": "{CREATE}"}}'
        response = await client.post("/graphql", content=body, headers=headers)
        assert response.status_code == 415, content_type
        assert code(response) == "UNSUPPORTED_MEDIA_TYPE"
    response = await client.post("/graphql", data={"query": CREATE}, headers=AUTH)
    assert response.status_code == 415
    assert await Account.all().count() == 0


async def test_multipart_posts_need_a_token_or_a_preflight_header(client):
    form = {"operations": f'{{"query": "{CREATE.replace(chr(34), chr(92) + chr(34))}"}}',
            "map": "{}"}  # fmt: skip
    files = {"unused": ("a.csv", b"x", "text/csv")}
    # What an HTML form on another site can send: no token, no preflight header.
    response = await client.post("/graphql", data=form, files=files)
    assert response.status_code == 400
    assert code(response) == "PREFLIGHT_REQUIRED"
    assert await Account.all().count() == 0
    # A bearer token already forces a browser's preflight (shared/API.md: uploads need only it).
    response = await client.post("/graphql", data=form, files=files, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["createAccount"]["account"]["id"]
    response = await client.post("/graphql", data=form, files=files,
                                 headers={"GraphQL-Require-Preflight": "1"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert code(response) == "UNAUTHENTICATED"
    assert await Account.all().count() == 1


@pytest.mark.parametrize("body", [b'{"query": "{ viewer', b"", b'{"variables": {}}',
                                  b'{"query": {"a": 1}}', b'{"query": "{ __typename }", '
                                  b'"variables": [1]}', b'"just a string"'])  # fmt: skip
async def test_malformed_requests_are_400(client, body):
    headers = {**AUTH, "Content-Type": "application/json"}
    response = await client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400
    assert code(response) == "BAD_REQUEST"


async def test_other_methods_are_405(client):
    response = await client.put("/graphql", json={"query": "{ __typename }"}, headers=AUTH)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"
    assert code(response) == "METHOD_NOT_ALLOWED"


NESTED = '{"query": "{viewer{name}}", "variables": {"x": ' + "[" * 1000 + "]" * 1000 + "}}"


@pytest.mark.parametrize("token", [None, ADMIN_TOKEN])
async def test_a_deeply_nested_json_body_is_400_without_a_traceback(client, caplog, token):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with caplog.at_level(logging.INFO):
        response = await client.post("/graphql", content=NESTED, headers=headers)
        too_deep = {"x": json_nest(MAX_JSON_DEPTH - 1)}  # one level over the limit
        over_limit = await post(client, {"query": "{ viewer { name } }", "variables": too_deep})
    for refused in (response, over_limit):
        assert refused.status_code == 400
        assert refused.headers["content-type"].startswith("application/json")
        assert code(refused) == "BAD_REQUEST"
        assert refused.json()["errors"][0]["extensions"]["limit"] == MAX_JSON_DEPTH
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    # At the limit, it is only a variable like any other.
    at_limit = {"x": json_nest(MAX_JSON_DEPTH - 2)}  # body, variables, then x's lists
    ok = await post(client, {"query": "{ viewer { name } }", "variables": at_limit})
    assert ok.status_code == 200 and "errors" not in ok.json(), ok.text


def json_nest(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


async def test_deeply_nested_variables_and_extensions_over_get_are_400(client, caplog):
    deep = "[" * 1000 + "]" * 1000
    for name in ("variables", "extensions"):
        with caplog.at_level(logging.INFO):
            response = await client.get(
                "/graphql", params={"query": "{ viewer { name } }", name: f'{{"x": {deep}}}'},
                headers=AUTH,
            )  # fmt: skip
        assert response.status_code == 400, name
        assert code(response) == "BAD_REQUEST"
        assert name in response.json()["errors"][0]["message"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_deeply_nested_multipart_operations_are_400(client):
    form = {"operations": '{"query": "{ __typename }", "variables": {"x": '
                          + "[" * 1000 + "]" * 1000 + "}}", "map": "{}"}  # fmt: skip
    files = {"unused": ("a.csv", b"x", "text/csv")}
    response = await client.post("/graphql", data=form, files=files,
                                 headers={**AUTH, "GraphQL-Require-Preflight": "1"})  # fmt: skip
    assert response.status_code == 400
    assert code(response) == "BAD_REQUEST"


@pytest.mark.parametrize("accept", [None, RESPONSE_TYPE])
async def test_several_operations_without_operation_name_are_a_request_error(client, accept):
    document = f"query A {{ viewer {{ name }} }} {CREATE.replace('mutation', 'mutation B')}"
    for body in ({"query": document}, {"query": document, "operationName": None},
                 {"query": "{ viewer { name } } query B { __typename }"}):  # fmt: skip
        response = await post(client, body, accept)
        assert response.status_code == 400, response.text
        assert code(response) == "BAD_REQUEST"
        assert "data" not in response.json()
        message = response.json()["errors"][0]["message"]
        assert "operationName" in message and "B" in message
    response = await post(client, {"query": document, "operationName": "C"}, accept)
    assert response.status_code == 400 and code(response) == "BAD_REQUEST"
    assert "C" in response.json()["errors"][0]["message"]
    assert await Account.all().count() == 0
    # Named, either one runs.
    response = await post(client, {"query": document, "operationName": "A"}, accept)
    assert response.json()["data"] == {"viewer": {"name": "Administrador"}}
    response = await post(client, {"query": document, "operationName": "B"}, accept)
    assert response.json()["data"]["createAccount"]["account"]["id"]


@pytest.mark.parametrize("bad", ["Bearer nope", "Basic YTpi", "Bearer " + ADMIN_TOKEN])
async def test_two_authorization_headers_are_refused_whatever_their_order(client, bad):
    good = f"Bearer {ADMIN_TOKEN}"
    for pair in ([good, bad], [bad, good]):
        headers = [("Authorization", value) for value in pair]
        for request in (
            client.post("/graphql", json={"query": CREATE}, headers=headers),
            client.get("/graphql", params={"query": "{ viewer { name } }"}, headers=headers),
            client.get("/export/contacts.csv", headers=headers),
        ):
            response = await request
            assert response.status_code == 400, response.text
            assert code(response) == "BAD_REQUEST"
            assert "Authorization" in response.json()["errors"][0]["message"]
    assert await Account.all().count() == 0


async def test_a_client_hanging_up_mid_body_is_one_info_line_not_a_traceback(app, client, caplog):
    messages = [{"type": "http.request", "body": b'{"query": "{ vie', "more_body": True},
                {"type": "http.disconnect"}]  # fmt: skip
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"),
               (b"authorization", AUTH["Authorization"].encode())]  # fmt: skip
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/graphql", "raw_path": b"/graphql",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
             "server": ("test", 80), "headers": headers}  # fmt: skip
    with caplog.at_level(logging.DEBUG):
        await app(scope, receive, send)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    [line] = [r for r in caplog.records if "hung up" in r.getMessage()]
    assert line.levelno == logging.INFO
    assert sent[0]["status"] == 400  # uvicorn drops it: nobody is left to read it


# Errors say nothing of the server --------------------------------------------------------


async def test_unexpected_exceptions_are_masked_and_logged_with_a_request_id(
    client, monkeypatch, caplog
):
    from schema.users import User

    def broken(row):
        raise RuntimeError('SELECT "secret_hash" FROM "api_token"')

    monkeypatch.setattr(User, "from_row", broken)
    with caplog.at_level(logging.ERROR, logger="crm.errors"):
        response = await post(client, {"query": "{ viewer { id } }"})
    [error] = response.json()["errors"]
    assert error["message"] == "Internal server error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "SELECT" not in response.text and "Traceback" not in response.text
    request_id = error["extensions"]["requestId"]
    [record] = [r for r in caplog.records if request_id in r.getMessage()]
    assert record.exc_info and "secret_hash" in str(record.exc_info[1])


async def test_an_extension_that_crashes_still_answers_a_coded_error(client, monkeypatch, caplog):
    import engine.limits

    def broken(tally):
        raise RuntimeError('relation "api_token" does not exist')

    monkeypatch.setattr(engine.limits, "shape_errors", broken)
    with caplog.at_level(logging.ERROR, logger="crm.server"):
        response = await post(client, {"query": "{ viewer { id } }"}, RESPONSE_TYPE)
    assert response.status_code == 500
    assert code(response) == "INTERNAL_SERVER_ERROR"
    assert "api_token" not in response.text
    assert any("api_token" in r.getMessage() for r in caplog.records)


# What security scanners check (graphql-cop's tests), with and without a token ------------

SCANNER_TOKENS = [None, ADMIN_TOKEN]


@pytest.mark.parametrize("token", SCANNER_TOKENS)
async def test_scanner_alias_overloading(client, token):
    query = "query { " + " ".join(f"alias{i}:__typename" for i in range(101)) + " }"
    body = (await post(client, {"query": query}, token=token)).json()
    assert not (body.get("data") or {}).get("alias100")


@pytest.mark.parametrize("token", SCANNER_TOKENS)
async def test_scanner_array_batching(client, token):
    response = await post(client, [{"query": "query { __typename }"}] * 11, token=token)
    assert not isinstance(response.json(), list)
    assert not isinstance(response.json().get("data"), list)


@pytest.mark.parametrize("token", SCANNER_TOKENS)
async def test_scanner_directive_overloading(client, token):
    body = (await post(client, {"query": "query { __typename " + "@aa" * 10 + " }"},
                       token=token)).json()  # fmt: skip
    assert len(body["errors"]) == 1


@pytest.mark.parametrize("token", SCANNER_TOKENS)
async def test_scanner_field_duplication_and_circular_fragments(client, token):
    body = (await post(client, {"query": "query { " + "__typename \n" * 500 + "}"},
                       token=token)).json()  # fmt: skip
    assert not (body.get("data") or {}).get("__typename")
    circular = ("query { __schema { ...A } } fragment A on __Schema { __typename ...B } "
                "fragment B on __Schema { ...A }")  # fmt: skip
    assert "errors" in (await post(client, {"query": circular}, token=token)).json()


@pytest.mark.parametrize("token", SCANNER_TOKENS)
async def test_scanner_circular_introspection(client, token):
    query = ("query { __schema { types { fields { type { fields { type { fields { type { "
             "fields { type { name } } } } } } } } } } }")  # fmt: skip
    body = (await post(client, {"query": query}, token=token)).json()
    assert not (body.get("data") or {}).get("__schema")


@pytest.mark.parametrize("token", SCANNER_TOKENS)
async def test_scanner_mutations_over_get_and_url_encoded_posts(client, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    get = await client.get("/graphql", params={"query": "mutation {__typename}"}, headers=headers)
    assert get.status_code >= 400 and not (get.json().get("data") or {}).get("__typename")
    posted = await client.post("/graphql", params={"query": "query {__typename}"},
                               headers=headers)  # fmt: skip
    assert posted.status_code == 415 and "data" not in posted.json()


async def test_scanner_queries_over_get_without_a_token(client):
    response = await client.get("/graphql", params={"query": "{__typename}"})
    assert not (response.json().get("data") or {}).get("__typename")


@pytest.mark.parametrize("token", SCANNER_TOKENS)
async def test_scanner_trace_mode_exceptions_and_suggestions(client, token):
    for query in ("query { __typename }", "qwerty cop { abc }", "query { __schema { directive } }",
                  "{ contacts(first: 1) { nodes { firstNam } } }"):  # fmt: skip
        body = (await post(client, {"query": query}, token=token and await agent(client))).json()
        for error in body.get("errors", []):
            assert set(error.get("extensions", {})) <= {"code", "argument", "limit", "actual"}
        assert "tracing" not in body.get("extensions", {})
        assert "stacktrace" not in str(body).lower() and "exception" not in str(body).lower()
        assert "Did you mean" not in str(body)


async def agent(client) -> str:
    """A non-admin token (admins keep field suggestions, on purpose)."""
    from models import ApiToken, User
    from models.enums import Role
    from resolvers.users import hash_secret

    user, _ = await User.get_or_create(email="scan@crm.pe",
                                       defaults={"name": "Scan", "role": Role.AGENT})  # fmt: skip
    await ApiToken.get_or_create(secret_hash=hash_secret("scan-secret"),
                                 defaults={"user_id": user.id, "name": "scan"})  # fmt: skip
    return "scan-secret"


# GraphiQL and browsers ----------------------------------------------------------------
# (The GraphiQL page itself: tests/test_graphiql.py.)


@pytest.fixture
async def spa(app, client) -> AsyncIterator[httpx.AsyncClient]:
    """The app configured for one single-page-application origin."""
    cors_app = build_app(Settings(cors_origins=("https://app.example.com",)), prepare=False)
    transport = httpx.ASGITransport(app=cors_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_cors_lets_configured_origins_send_the_token(spa):
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}  # fmt: skip
    response = await spa.options("/graphql", headers=preflight)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    response = await spa.post("/graphql", json={"query": "{ viewer { role } }"},
                              headers={**AUTH, "Origin": "https://app.example.com"})  # fmt: skip
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "retry-after" in response.headers["access-control-expose-headers"].lower()


async def test_cors_refuses_other_origins(spa, client):
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    response = await spa.options("/graphql", headers=preflight)
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    # Without configured origins, no cross-site browser request is allowed at all.
    response = await client.post("/graphql", json={"query": "{ __typename }"},
                                 headers={"Origin": "https://app.example.com"})  # fmt: skip
    assert "access-control-allow-origin" not in response.headers
