"""Signing in with bearer tokens: missing, malformed, unknown, revoked, expired and stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models import ApiToken, AuditEvent, User
from resolvers.ids import decode_id
from resolvers.users import hash_secret
from tests.conftest import gid, gql, ok

VIEWER = "{ viewer { id name role } }"
CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) {
  createApiToken(input: $input) {
    apiToken { id name scopes user { id } }
    secret
    errors { code field message }
  }
}"""
REVOKE_TOKEN = """
mutation($id: ID!) {
  revokeApiToken(input: {id: $id}) { apiToken { id revokedAt } errors { code field } }
}"""
CREATE_USER = """
mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id email role } errors { code field message } }
}"""


def code_of(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


async def new_token(client, **fields) -> tuple[str, str]:
    """A token made through the API: (global id, secret)."""
    data = await ok(client, CREATE_TOKEN, {"input": {"name": "integración", **fields}})
    payload = data["createApiToken"]
    assert payload["errors"] == [], payload["errors"]
    return payload["apiToken"]["id"], payload["secret"]


async def test_no_authorization_header_is_unauthenticated(client):
    body = await gql(client, VIEWER, token=None)
    assert code_of(body) == "UNAUTHENTICATED"
    assert body["data"] is None


async def test_a_scheme_other_than_bearer_is_unauthenticated(client):
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": "Basic xyz"}
    )
    assert code_of(response.json()) == "UNAUTHENTICATED"


async def test_an_unknown_token_is_unauthenticated(client):
    body = await gql(client, VIEWER, token="crm_not-a-real-token")
    assert code_of(body) == "UNAUTHENTICATED"


async def test_a_created_token_works_at_once_as_its_user(client):
    admin = await User.get(role="ADMIN")
    token_id, secret = await new_token(client)
    assert secret.startswith("crm_")
    body = await gql(client, VIEWER, token=secret)
    assert "errors" not in body
    assert body["data"]["viewer"]["id"] == gid("User", admin.id)
    assert decode_id(token_id) is not None
    row = await ApiToken.get(id=decode_id(token_id)[1])
    assert row.user_id == admin.id and row.name == "integración"


async def test_a_revoked_token_is_unauthenticated_on_the_next_request(client):
    token_id, secret = await new_token(client)
    assert "errors" not in await gql(client, VIEWER, token=secret)
    data = await ok(client, REVOKE_TOKEN, {"id": token_id})
    assert data["revokeApiToken"]["errors"] == []
    assert data["revokeApiToken"]["apiToken"]["revokedAt"] is not None
    body = await gql(client, VIEWER, token=secret)
    assert code_of(body) == "UNAUTHENTICATED"
    row = await ApiToken.get(secret_hash=hash_secret(secret))
    assert row.revoked_at is not None


async def test_an_expired_token_is_unauthenticated(client):
    _, secret = await new_token(client)
    await ApiToken.filter(secret_hash=hash_secret(secret)).update(
        expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    assert code_of(await gql(client, VIEWER, token=secret)) == "UNAUTHENTICATED"


async def test_a_deactivated_users_tokens_stop_working(client):
    user_id, secret = await agent_with_token(client)
    assert "errors" not in await gql(client, VIEWER, token=secret)
    await ok(
        client,
        "mutation($id: ID!) { updateUser(input: {id: $id, isActive: false}) { errors { code } } }",
        {"id": user_id},
    )
    assert code_of(await gql(client, VIEWER, token=secret)) == "UNAUTHENTICATED"


async def test_the_database_holds_the_sha256_of_the_secret_never_the_secret(client):
    _, secret = await new_token(client, scopes=["contacts:read"])
    rows = await ApiToken.all().values()
    assert any(row["secret_hash"] == hash_secret(secret) for row in rows)
    assert all(secret not in str(row) for row in rows)
    events = await AuditEvent.filter(resource_type="ApiToken").values()
    assert events and all(
        secret not in str(e) and hash_secret(secret) not in str(e) for e in events
    )


async def agent_with_token(client) -> tuple[str, str]:
    """An AGENT created through the API, with a token an admin made for them."""
    data = await ok(
        client,
        CREATE_USER,
        {"input": {"name": "Rosa Quispe", "email": "rosa@empresa.pe", "role": "AGENT"}},
    )
    user_id = data["createUser"]["user"]["id"]
    _, secret = await new_token(client, userId=user_id)
    return user_id, secret


async def test_a_non_admin_calling_create_user_is_forbidden_and_nothing_is_written(client):
    _, secret = await agent_with_token(client)
    users, events = await User.all().count(), await AuditEvent.all().count()
    body = await gql(
        client,
        CREATE_USER,
        {"input": {"name": "Intruso", "email": "intruso@empresa.pe", "role": "ADMIN"}},
        token=secret,
    )
    assert code_of(body) == "FORBIDDEN"
    assert body["data"] is None
    assert (await User.all().count(), await AuditEvent.all().count()) == (users, events)
    assert not await User.filter(email="intruso@empresa.pe").exists()


async def test_a_non_admin_may_create_tokens_only_for_themselves(client):
    user_id, secret = await agent_with_token(client)
    admin = await User.get(role="ADMIN")
    before = await ApiToken.all().count()
    body = await gql(
        client,
        CREATE_TOKEN,
        {"input": {"name": "ajeno", "userId": gid("User", admin.id)}},
        token=secret,
    )
    assert code_of(body) == "FORBIDDEN"
    assert await ApiToken.all().count() == before
    body = await gql(client, CREATE_TOKEN, {"input": {"name": "propio"}}, token=secret)
    payload = body["data"]["createApiToken"]
    assert payload["errors"] == [] and payload["apiToken"]["user"]["id"] == user_id
    assert await ApiToken.all().count() == before + 1


async def test_a_non_admin_cannot_revoke_another_users_token(client):
    _, secret = await agent_with_token(client)
    admin_token = await ApiToken.get(name="CRM_ADMIN_TOKEN")
    body = await gql(client, REVOKE_TOKEN, {"id": gid("ApiToken", admin_token.id)}, token=secret)
    assert code_of(body) == "FORBIDDEN"
    assert (await ApiToken.get(id=admin_token.id)).revoked_at is None


async def test_a_scoped_token_cannot_mint_a_broader_token(client):
    _, scoped = await new_token(client, scopes=["contacts:read"])
    before = await ApiToken.all().count()
    body = await gql(client, CREATE_TOKEN, {"input": {"name": "todo"}}, token=scoped)
    assert code_of(body) == "FORBIDDEN"
    body = await gql(
        client, CREATE_TOKEN, {"input": {"name": "más", "scopes": ["users:write"]}}, token=scoped
    )
    assert code_of(body) == "FORBIDDEN"
    assert await ApiToken.all().count() == before
