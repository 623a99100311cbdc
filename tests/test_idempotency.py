"""Idempotency-Key on mutation requests: a retry answers the first response and writes
nothing more; another body is 422; concurrent requests with one key run once; keys are per
token, at most 255 characters, kept 24 hours; queries and anonymous requests keep nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from tortoise import timezone

import resolvers.contact_writes
from models import ApiToken, AuditEvent, Contact, IdempotencyKey, Outbox, User
from models.enums import Role
from resolvers.users import hash_secret
from tests.conftest import ADMIN_TOKEN, gid, make_account

CREATE = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id contactNo } errors { code field } }
}"""


def body_of(account_id: int, first_name: str = "Ana") -> dict:
    contact = {"accountId": gid("Account", account_id), "firstName": first_name,
               "lastName": "Ruiz"}  # fmt: skip
    return {"query": CREATE, "variables": {"input": contact}}


async def post(client, body: dict, key: str | None, token: str | None = ADMIN_TOKEN):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if key is not None:
        headers["Idempotency-Key"] = key
    # The same bytes each time, as a client's retry sends them.
    return await client.post("/graphql", content=json.dumps(body).encode(), headers=headers)


async def written() -> tuple[int, int, int]:
    return await Contact.all().count(), await AuditEvent.all().count(), await Outbox.all().count()


def store(app):
    route = next(route for route in app.routes if getattr(route, "path", "") == "/graphql")
    return route.app.idempotency


async def test_a_retried_create_contact_makes_one_contact_and_answers_the_first_response(client):
    account, _ = await make_account()
    before = await written()
    first = await post(client, body_of(account.id), "alta-ana-1")
    again = await post(client, body_of(account.id), "alta-ana-1")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert first.json()["data"]["createContact"]["errors"] == []
    assert await written() == tuple(n + 1 for n in before)


async def test_a_reused_key_with_another_body_is_422_and_writes_nothing(client):
    account, _ = await make_account()
    await post(client, body_of(account.id, "Ana"), "clave-1")
    before = await written()
    response = await post(client, body_of(account.id, "Eva"), "clave-1")
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert "another request body" in error["message"]
    assert await written() == before
    assert await Contact.filter(first_name="Eva").count() == 0


async def test_concurrent_requests_with_one_key_make_one_contact(client):
    account, _ = await make_account()
    before = await written()
    responses = await asyncio.gather(
        *(post(client, body_of(account.id), "a-la-vez") for _ in range(6))
    )
    assert {r.status_code for r in responses} <= {200, 409}
    bodies = {r.content for r in responses if r.status_code == 200}
    assert len(bodies) == 1
    assert await written() == tuple(n + 1 for n in before)


async def test_a_request_while_the_first_with_its_key_runs_waits_or_gets_409(
    client, app, monkeypatch
):
    account, _ = await make_account()
    release = asyncio.Event()
    real = resolvers.contact_writes.create_contacts

    async def held(*args, **kwargs):
        await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(resolvers.contact_writes, "create_contacts", held)
    monkeypatch.setattr(store(app), "wait_seconds", 0.0)
    first = asyncio.create_task(post(client, body_of(account.id), "lenta"))
    while not await IdempotencyKey.filter(key="lenta").exists():
        await asyncio.sleep(0.01)
    busy = await post(client, body_of(account.id), "lenta")
    assert busy.status_code == 409
    assert busy.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS"
    assert busy.headers["retry-after"] == "1"
    monkeypatch.setattr(store(app), "wait_seconds", 10.0)
    waiting = asyncio.create_task(post(client, body_of(account.id), "lenta"))
    await asyncio.sleep(0.1)
    release.set()
    done, waited = await first, await waiting
    assert done.status_code == waited.status_code == 200
    assert waited.content == done.content
    assert await Contact.all().count() == 1


async def test_keys_are_per_token(client):
    account, _ = await make_account()
    admin = await User.get(email="admin@crm.local")
    await ApiToken.create(user_id=admin.id, name="otro", secret_hash=hash_secret("otro-token"))
    first = await post(client, body_of(account.id), "misma")
    other = await post(client, body_of(account.id), "misma", token="otro-token")
    assert first.status_code == other.status_code == 200
    assert first.content != other.content
    assert await Contact.all().count() == 2


@pytest.mark.parametrize("length", [256, 1000])
async def test_a_key_over_255_characters_is_400_and_writes_nothing(client, length):
    account, _ = await make_account()
    before = await written()
    response = await post(client, body_of(account.id), "k" * length)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "255" in error["message"] and str(length) in error["message"]
    assert await written() == before
    assert await IdempotencyKey.all().count() == 0
    assert (await post(client, body_of(account.id), "k" * 255)).status_code == 200


async def test_an_expired_key_runs_again_and_expired_keys_are_purged(client, app):
    account, _ = await make_account()
    await post(client, body_of(account.id), "ayer")
    await post(client, body_of(account.id, "Eva"), "anteayer")
    past = timezone.now() - timedelta(seconds=1)
    await IdempotencyKey.all().update(expires_at=past)  # 24 hours have passed
    again = await post(client, body_of(account.id), "ayer")
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers
    assert await Contact.filter(first_name="Ana").count() == 2
    store(app)._purged_at = float("-inf")  # the next claim purges, as a minute later
    await post(client, body_of(account.id, "Luz"), "hoy")
    assert sorted(await IdempotencyKey.all().values_list("key", flat=True)) == ["ayer", "hoy"]


async def test_queries_and_anonymous_requests_keep_nothing(client):
    account, _ = await make_account()
    query = {"query": "{ viewer { id } }"}
    assert (await post(client, query, "consulta")).status_code == 200
    assert (await post(client, query, "k" * 300)).status_code == 200  # ignored on queries
    anonymous = await post(client, body_of(account.id), "anonima", token=None)
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await IdempotencyKey.all().count() == 0
    assert await Contact.all().count() == 0


async def test_a_multipart_request_is_keyed_by_its_raw_body(client):
    account, _ = await make_account()
    operations = json.dumps(body_of(account.id))
    files = {"operations": (None, operations), "map": (None, "{}")}
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Idempotency-Key": "formulario",
               "GraphQL-Require-Preflight": "1"}  # fmt: skip
    request = client.build_request("POST", "/graphql", files=files, headers=headers)
    raw = request.read()
    multipart = {**headers, "Content-Type": request.headers["content-type"]}
    first = await client.post("/graphql", content=raw, headers=multipart)
    again = await client.post("/graphql", content=raw, headers=multipart)
    assert first.status_code == again.status_code == 200, first.text
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    other = raw.replace(b'"Ana"', b'"Eva"')
    assert (await client.post("/graphql", content=other, headers=multipart)).status_code == 422
    assert await Contact.all().count() == 1


async def test_an_agents_batch_retried_is_written_once(client):
    account, _ = await make_account()
    agent = await User.create(name="Rosa", email="rosa@crm.pe", role=Role.ADMIN)
    await ApiToken.create(user_id=agent.id, name="rosa", secret_hash=hash_secret("rosa-token"))
    batch = {"query": """mutation($input: CreateContactsInput!) {
      createContacts(input: $input) { contacts { id } errors { code } } }""",
             "variables": {"input": {"contacts": [
                 {"accountId": gid("Account", account.id), "firstName": f"P{n}", "lastName": "R"}
                 for n in range(20)]}}}  # fmt: skip
    responses = [await post(client, batch, "lote-1", token="rosa-token") for _ in range(3)]
    assert len({r.content for r in responses}) == 1
    assert await Contact.all().count() == 20
