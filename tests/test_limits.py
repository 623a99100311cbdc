"""Limits on what a client controls: each refused with a coded error, before anything runs;
the cost of every request in ``extensions.cost``; the per-minute rate limit."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from graphql import get_introspection_query

from engine.limits import (
    MAX_ALIASES,
    MAX_COMMENTS,
    MAX_COST,
    MAX_DEPTH,
    MAX_DIRECTIVES_PER_FIELD,
    MAX_FIELDS,
    MAX_QUERY_LENGTH,
    MAX_TOKENS,
    MUTATION_COST,
)
from models import Account, ApiToken, Contact, User
from models.enums import Role
from ratelimit import MemoryRateLimiter, RedisRateLimiter
from resolvers.users import hash_secret
from server import build_app
from settings import Settings
from tests.conftest import ADMIN_TOKEN, count_statements, gql, make_account, ok

RESPONSE_TYPE = "application/graphql-response+json"
CREATE_ACCOUNT = 'createAccount(input: {name: "Limite S.A.C."}) { account { id } }'


def code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


def refused_before_execution(body: dict) -> bool:
    return body.get("data") is None and all("path" not in e for e in body["errors"])


async def agent_token() -> str:
    """The secret of a token of a signed-in AGENT (not an admin)."""
    user = await User.create(name="Ana", email="ana@crm.pe", role=Role.AGENT)
    await ApiToken.create(user_id=user.id, name="ana", secret_hash=hash_secret("ana-secret"))
    return "ana-secret"


# Cost ----------------------------------------------------------------------------------


async def test_cost_is_reported_on_every_response(client):
    body = await gql(
        client, "{ contacts(first: 50) { nodes { activities(first: 3) { nodes { id } } } } }"
    )
    cost = body["extensions"]["cost"]
    assert (cost["requested"], cost["limit"]) == (1 + 50 + 50 * 3, MAX_COST)
    assert 0 < cost["remaining"] < 60_000
    for failing in ("{ viewer { id }", "{ nope }", "{ contacts(first: 101) { totalCount } }",
                    "{ __schema { types { name } } }"):  # fmt: skip
        body = await gql(client, failing, token=None if "__schema" in failing else ADMIN_TOKEN)
        assert body["errors"], failing
        assert set(body["extensions"]["cost"]) == {"requested", "limit", "remaining"}, failing


async def test_remaining_falls_by_the_cost_of_each_request(client):
    first = (await gql(client, "{ contacts(first: 10) { totalCount } }"))["extensions"]["cost"]
    second = (await gql(client, "{ contacts(first: 10) { totalCount } }"))["extensions"]["cost"]
    assert first["requested"] == 11
    assert second["remaining"] == first["remaining"] - 11


async def test_a_query_over_the_cost_limit_by_one_is_refused_before_running(client):
    # 1 + 100 + 100 * 99 = 10_001 = MAX_COST + 1
    query = "{ contacts(first: 100) { nodes { activities(first: 99) { nodes { id } } } } }"
    with count_statements() as counter:
        body = await gql(client, query)
    [error] = body["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "limit": MAX_COST,
                                   "actual": MAX_COST + 1}  # fmt: skip
    assert refused_before_execution(body)
    # Only the sign-in ran: no list was read.
    assert not [s for s in counter.statements if '"contact"' in s or '"activity"' in s]
    at_limit = "{ contacts(first: 100) { nodes { activities(first: 98) { nodes { id } } } } }"
    assert "errors" not in await gql(client, at_limit)


async def test_page_sizes_from_variables_and_their_defaults_count_too(client):
    query = "query($n: Int) { contacts(first: $n) { nodes { activities(first: $n) { nodes { id } } } } }"  # noqa: E501
    assert code(await gql(client, query, {"n": 100})) == "QUERY_TOO_COSTLY"
    defaulted = query.replace("$n: Int", "$n: Int = 100")
    assert code(await gql(client, defaulted)) == "QUERY_TOO_COSTLY"


async def test_plain_lists_mutations_and_root_nodes_have_their_cost(client):
    channels = await gql(client, "{ contacts(first: 10) { nodes { channels { value } } } }")
    assert channels["extensions"]["cost"]["requested"] == 1 + 10 + 10 * 30
    nodes = await gql(client, '{ nodes(ids: ["a", "b", "c"]) { id } }')
    assert nodes["extensions"]["cost"]["requested"] == 1 + 3
    mutation = await gql(client, "mutation { " + CREATE_ACCOUNT + " }")
    assert mutation["extensions"]["cost"]["requested"] == 1 + MUTATION_COST


async def test_a_page_larger_than_100_is_an_error_not_a_silent_cut(client):
    body = await gql(client, "{ contacts(first: 101) { totalCount } }")
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "first"}


# Shape ---------------------------------------------------------------------------------


async def test_a_12_level_query_is_refused(client):
    levels = "account { mainLocation { " * 6  # 12 levels of objects under the contact list
    query = "{ contacts(first: 1) { nodes { " + levels + "id" + " } }" * 6 + " } } }"
    body = await gql(client, query)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert body["errors"][0]["extensions"]["limit"] == MAX_DEPTH
    assert refused_before_execution(body)


async def test_a_normal_contact_card_query_is_allowed(client):
    account, main = await make_account()
    await Contact.create(account_id=account.id, location_id=main.id, first_name="A", last_name="B")
    data = await ok(
        client,
        """{ contacts(first: 1) { edges { node {
        account { locations(first: 20) { edges { node { contacts(first: 5) { nodes {
          channels { value } } } } } } } } } } }""",
    )
    assert data["contacts"]["edges"]


async def test_a_300_alias_query_is_refused(client):
    query = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(300)) + " }"
    body = await gql(client, query)
    assert body["errors"][0]["extensions"] == {"code": "TOO_MANY_ALIASES",
                                               "limit": MAX_ALIASES, "actual": 300}  # fmt: skip
    assert refused_before_execution(body)


async def test_a_300_alias_mutation_writes_nothing(client):
    aliases = " ".join(f"a{i}: createAccount(input: $input) {{ __typename }}" for i in range(300))
    mutation = "mutation($input: CreateAccountInput!) { " + aliases + " }"
    body = await gql(client, mutation, {"input": {"name": "Limite S.A.C."}})
    assert code(body) == "TOO_MANY_ALIASES"
    assert await Account.all().count() == 0


async def test_include_repeated_100_times_is_refused(client):
    query = "{ viewer { id " + "@include(if: true) " * 100 + "} }"
    body = await gql(client, query)
    assert body["errors"][0]["extensions"] == {"code": "TOO_MANY_DIRECTIVES",
                                               "limit": MAX_DIRECTIVES_PER_FIELD,
                                               "actual": 100}  # fmt: skip
    assert refused_before_execution(body)


async def test_a_document_over_the_token_limit_is_refused(client):
    query = "{ viewer { " + "id " * MAX_TOKENS + "} }"
    body = await gql(client, query)
    assert code(body) == "TOO_MANY_TOKENS"
    assert str(MAX_TOKENS) in body["errors"][0]["message"]


async def test_a_document_over_the_length_or_comment_limit_is_refused(client):
    for query in ("{ viewer { id } }" + " " * MAX_QUERY_LENGTH,
                  "{ viewer { id } }" + "\n#" * (MAX_COMMENTS + 1)):  # fmt: skip
        body = await gql(client, query)
        assert code(body) == "QUERY_TOO_LARGE"
        assert refused_before_execution(body)


async def test_a_field_repeated_500_times_is_refused(client):
    body = await gql(client, "query { " + "__typename \n" * 500 + "}")
    assert body["errors"][0]["extensions"] == {"code": "TOO_MANY_FIELDS", "limit": MAX_FIELDS,
                                               "actual": 500}  # fmt: skip


async def test_fragments_spread_exponentially_are_counted_and_refused_at_once(client):
    # F0 spreads F1 twice, F1 spreads F2 twice, …: 2^30 fields once expanded.
    fragments = " ".join(f"fragment F{i} on User {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30))
    query = "{ viewer { ...F0 } } " + fragments + " fragment F30 on User { id }"
    started = time.perf_counter()
    body = await gql(client, query)
    assert code(body) == "TOO_MANY_FIELDS"
    assert time.perf_counter() - started < 1


# Introspection and error texts ---------------------------------------------------------


async def test_introspection_needs_a_token_and_typename_does_not(client):
    for query in ("{ __schema { queryType { name } } }", '{ __type(name: "Contact") { name } }',
                  "{ ...F } fragment F on Query { __schema { types { name } } }"):  # fmt: skip
        body = await gql(client, query, token=None)
        assert code(body) == "UNAUTHENTICATED", query
        assert refused_before_execution(body)
    assert (await gql(client, "{ __typename }", token=None))["data"] == {"__typename": "Query"}


async def test_graphiqls_introspection_query_works_with_a_token(client):
    query = get_introspection_query(descriptions=True, input_value_deprecation=True,
                                    specified_by_url=True, directive_is_repeatable=True,
                                    schema_description=True)  # fmt: skip
    for token in (ADMIN_TOKEN, await agent_token()):
        body = await gql(client, query, token=token)
        assert "errors" not in body, body.get("errors")
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_circular_introspection_is_refused(client):
    query = (
        "query { __schema { types { fields { type { fields { type { fields { type { fields "
        "{ type { name } } } } } } } } } } }"
    )
    body = await gql(client, query)
    assert code(body) == "QUERY_TOO_DEEP"
    assert refused_before_execution(body)


async def test_field_suggestions_are_for_admins_only(client):
    query = "{ contacts(first: 1) { nodes { firstNam } } }"
    admin = await gql(client, query)
    assert "Did you mean" in admin["errors"][0]["message"]
    agent = await agent_token()
    body = await gql(client, query, token=agent)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert body["errors"][0]["message"] == "Cannot query field 'firstNam' on type 'Contact'."
    for query, variables in (
        ("{ contacts(filter: {status: ACTIV}) { totalCount } }", None),
        ("query($f: ContactFilter) { contacts(filter: $f) { totalCount } }",
         {"f": {"statu": "ACTIVE"}}),
    ):  # fmt: skip
        body = await gql(client, query, variables, token=agent)
        assert body["errors"] and "Did you mean" not in str(body), body
    anonymous = await gql(client, "{ __schema { directive } }", token=None)
    assert "Did you mean" not in str(anonymous)


async def test_a_bad_token_is_refused_before_anything_runs(client):
    with count_statements() as counter:
        body = await gql(client, "{ contacts(first: 5) { totalCount } }", token="nope")
    assert code(body) == "UNAUTHENTICATED" and body["data"] is None
    assert refused_before_execution(body)
    assert not [s for s in counter.statements if '"contact"' in s]


# Rate limit ----------------------------------------------------------------------------

# 1 + 100 + 100 * 59 = 6_001 points: one fits in a budget of 10_000, two do not.
COSTLY = "{ contacts(first: 100) { nodes { activities(first: 59) { nodes { id } } } } }"


REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL")


@pytest.fixture(params=["memory", "redis"])
async def limited(request, app, client) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same database, with a budget of MAX_COST points a minute, kept
    in this process or (when CRM_TEST_REDIS_URL is set) in Redis."""
    if request.param == "redis" and not REDIS_URL:
        pytest.skip("CRM_TEST_REDIS_URL is not set")
    redis_url = REDIS_URL if request.param == "redis" else None
    limited_app = build_app(Settings(rate_limit_points=MAX_COST, redis_url=redis_url),
                            prepare=False)  # fmt: skip
    limiter = limited_app.state.rate_limiter
    limiter.clock = lambda: 1_000_040.0  # 20 s before the minute ends, whenever the test runs
    if redis_url:
        limiter.prefix = f"crm:test:{uuid.uuid4().hex}:"
        await limiter.ping()  # an unreachable Redis fails the test
    transport = httpx.ASGITransport(app=limited_app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http
    finally:
        if redis_url:
            await forget(limiter)
        await limiter.close()


async def forget(limiter: RedisRateLimiter) -> None:
    """Delete the test's keys (they would expire within a minute anyway)."""
    keys = [key async for key in limiter._redis.scan_iter(match=f"{limiter.prefix}*")]
    if keys:
        await limiter._redis.delete(*keys)


async def test_over_the_rate_limit_is_429_with_retry_after_and_nothing_runs(limited):
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    first = await limited.post("/graphql", json={"query": COSTLY}, headers=auth)
    assert first.status_code == 200
    assert first.json()["extensions"]["cost"]["remaining"] == MAX_COST - 6_001
    for accept in ("application/json", RESPONSE_TYPE):
        response = await limited.post(
            "/graphql", json={"query": COSTLY}, headers={**auth, "Accept": accept}
        )
        assert response.status_code == 429
        assert response.headers["content-type"].startswith(accept)
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert body["errors"][0]["extensions"]["retryAfter"] == int(response.headers["Retry-After"])
        assert body["extensions"]["cost"]["requested"] == 6_001
    # A refused request spends nothing: a cheap one still fits, and a mutation over the
    # budget writes nothing.
    cheap = await limited.post("/graphql", json={"query": "{ viewer { id } }"}, headers=auth)
    assert cheap.status_code == 200 and "errors" not in cheap.json()
    many = "mutation { " + " ".join(f"a{i}: {CREATE_ACCOUNT}" for i in range(30)) + " }"
    await limited.post("/graphql", json={"query": COSTLY.replace("59", "38")}, headers=auth)
    refused = await limited.post("/graphql", json={"query": many}, headers=auth)
    assert refused.status_code == 429, refused.json()
    assert await Account.all().count() == 0


async def test_each_token_has_its_own_budget(limited):
    await limited.post("/graphql", json={"query": COSTLY},
                       headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})  # fmt: skip
    other = {"Authorization": f"Bearer {await agent_token()}"}
    response = await limited.post("/graphql", json={"query": COSTLY}, headers=other)
    assert response.status_code == 200


async def test_the_memory_store_starts_every_budget_afresh_each_minute():
    now = [120.0]
    limiter = MemoryRateLimiter(100, clock=lambda: now[0])
    assert (await limiter.charge("a", 60)).remaining == 40
    refused = await limiter.charge("a", 41)
    assert (refused.allowed, refused.remaining, refused.retry_after) == (False, 40, 60)
    assert (await limiter.charge("b", 100)).allowed
    now[0] = 179.5
    assert (await limiter.charge("a", 41)).retry_after == 1
    now[0] = 180.0
    assert (await limiter.charge("a", 100)).allowed


@pytest.mark.skipif(not REDIS_URL, reason="CRM_TEST_REDIS_URL is not set")
async def test_the_redis_store_is_shared_by_processes_and_spends_nothing_when_refused():
    prefix = f"crm:test:{uuid.uuid4().hex}:"
    now = [1_000_040.0]
    one = RedisRateLimiter(REDIS_URL, 100, prefix=prefix, clock=lambda: now[0])
    two = RedisRateLimiter(REDIS_URL, 100, prefix=prefix, clock=lambda: now[0])
    try:
        await one.ping()  # an unreachable Redis fails the test
        assert (await one.charge("token:1", 60)).remaining == 40
        refused = await two.charge("token:1", 41)
        assert (refused.allowed, refused.remaining, refused.retry_after) == (False, 40, 40)
        assert (await two.charge("token:1", 40)).remaining == 0
        assert (await one.charge("token:2", 100)).allowed
        ttl = await one._redis.ttl(f"{prefix}token:1:{int(now[0] // 60)}")
        assert 0 < ttl <= 65
        now[0] += 60
        assert (await two.charge("token:1", 100)).allowed
    finally:
        await forget(one)
        await one.close()
        await two.close()


async def test_the_export_spends_the_same_budget(limited):
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    spend = await limited.post("/graphql", json={"query": COSTLY}, headers=auth)
    left = spend.json()["extensions"]["cost"]["remaining"]
    account, main = await make_account()
    await Contact.bulk_create([
        Contact(account_id=account.id, location_id=main.id, first_name=f"N{i}", last_name="X")
        for i in range(120)
    ])  # fmt: skip
    exported = await limited.get("/export/contacts.csv", headers=auth)
    assert exported.status_code == 200 and exported.text.count("\n") == 121
    after = await limited.post("/graphql", json={"query": "{ viewer { id } }"}, headers=auth)
    assert after.json()["extensions"]["cost"]["remaining"] == left - 3 - 1  # 1 + 120/100, then 1
    for query in (COSTLY.replace("59", "38"), "{ contacts(first: 93) { nodes { id } } }"):
        spent = await limited.post("/graphql", json={"query": query}, headers=auth)
    assert spent.json()["extensions"]["cost"]["remaining"] == 0
    refused = await limited.get("/export/contacts.csv", headers=auth)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_a_repeated_document_is_validated_once_and_keeps_its_errors(client, monkeypatch):
    from engine import limits

    validated = []
    real = limits.validate_document

    def counting(schema, document, rules):
        validated.append(document)
        return real(schema, document, rules)

    monkeypatch.setattr(limits, "validate_document", counting)
    unique = f"# {uuid.uuid4()}"  # documents no other test sent
    wrong = "{ contacts { nodes { noSuchField } } } " + unique
    right = "{ contacts { totalCount } } " + unique
    answers = [await gql(client, query) for query in (wrong, right, wrong, right)]
    assert len(validated) == 2, "a repeated document was validated again"
    for body in answers[0], answers[2]:
        assert [error["extensions"]["code"] for error in body["errors"]] == [
            "GRAPHQL_VALIDATION_FAILED"
        ]
        assert "noSuchField" in body["errors"][0]["message"]
    for body in answers[1], answers[3]:
        assert "errors" not in body and body["data"]["contacts"]["totalCount"] == 0
