"""Users, teams and API tokens through the API: lists, paging, admin mutations, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models import ApiToken, AuditEvent, Team, User
from tests.conftest import gid, gql, ok

CREATE_TEAM = """
mutation($input: CreateTeamInput!) {
  createTeam(input: $input) { team { id name } errors { code field message } }
}"""
CREATE_USER = """
mutation($input: CreateUserInput!) {
  createUser(input: $input) {
    user { id name email role isActive team { id name } }
    errors { code field message }
  }
}"""
UPDATE_USER = """
mutation($input: UpdateUserInput!) {
  updateUser(input: $input) {
    user { id name email role isActive team { id } }
    errors { code field message }
  }
}"""
CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) {
  createApiToken(input: $input) {
    apiToken { id name scopes expiresAt revokedAt user { id } }
    secret
    errors { code field message }
  }
}"""
REVOKE_TOKEN = """
mutation($id: ID!) {
  revokeApiToken(input: {id: $id}) { apiToken { id revokedAt } errors { code field } }
}"""
USERS = """
query($filter: UserFilter, $orderBy: [UserOrder!], $search: String, $first: Int,
      $after: String, $last: Int, $before: String) {
  users(filter: $filter, orderBy: $orderBy, search: $search, first: $first, after: $after,
        last: $last, before: $before) {
    nodes { id name email role }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}"""


async def counts() -> tuple[int, int, int, int]:
    return (
        await Team.all().count(),
        await User.all().count(),
        await ApiToken.all().count(),
        await AuditEvent.all().count(),
    )


async def team(client, name: str) -> str:
    payload = (await ok(client, CREATE_TEAM, {"input": {"name": name}}))["createTeam"]
    assert payload["errors"] == [], payload["errors"]
    return payload["team"]["id"]


async def user(client, name: str, email: str, role: str = "AGENT", **fields) -> dict:
    variables = {"input": {"name": name, "email": email, "role": role, **fields}}
    payload = (await ok(client, CREATE_USER, variables))["createUser"]
    assert payload["errors"] == [], payload["errors"]
    return payload["user"]


async def test_create_team_and_user_write_rows_and_audit_events(client):
    team_id = await team(client, "Ventas Lima")
    created = await user(client, " Rosa  Quispe ", "Rosa.Quispe@CRM.pe", "MANAGER", teamId=team_id)
    assert created["name"] == "Rosa Quispe"
    assert created["email"] == "rosa.quispe@crm.pe"
    assert created["team"] == {"id": team_id, "name": "Ventas Lima"}
    row = await User.get(email="rosa.quispe@crm.pe")
    assert row.role == "MANAGER" and row.is_active and "rosa quispe" in row.search_text
    team_row = await Team.get(name="Ventas Lima")
    assert row.team_id == team_row.id
    team_event = await AuditEvent.get(resource_type="Team", resource_id=team_row.id)
    assert team_event.action == "CREATED"
    event = await AuditEvent.get(resource_type="User", resource_id=row.id)
    assert event.action == "CREATED" and event.resource_name == "Rosa Quispe"
    assert event.changes["email"] == {"from": None, "to": "rosa.quispe@crm.pe"}
    assert event.changes["teamId"] == {"from": None, "to": team_row.id}


async def test_update_user_changes_only_what_is_sent_and_audits_the_diff(client):
    team_id = await team(client, "Norte")
    created = await user(client, "Luis Chávez", "luis@crm.pe", teamId=team_id)
    data = await ok(
        client, UPDATE_USER, {"input": {"id": created["id"], "role": "MANAGER", "teamId": None}}
    )
    payload = data["updateUser"]
    assert payload["errors"] == []
    assert payload["user"] == {
        "id": created["id"], "name": "Luis Chávez", "email": "luis@crm.pe", "role": "MANAGER",
        "isActive": True, "team": None,
    }  # fmt: skip
    row = await User.get(email="luis@crm.pe")
    assert row.role == "MANAGER" and row.team_id is None
    event = await AuditEvent.get(resource_type="User", resource_id=row.id, action="UPDATED")
    assert event.changes == {
        "role": {"from": "AGENT", "to": "MANAGER"},
        "teamId": {"from": (await Team.get(name="Norte")).id, "to": None},
    }


async def test_update_user_email_is_lower_cased_and_searchable(client):
    created = await user(client, "Ana Gómez", "ana@crm.pe")
    data = await ok(client, UPDATE_USER, {"input": {"id": created["id"], "email": "ANA.G@CRM.PE"}})
    assert data["updateUser"]["user"]["email"] == "ana.g@crm.pe"
    found = await ok(client, USERS, {"search": "ana.g@crm"})
    assert [n["id"] for n in found["users"]["nodes"]] == [created["id"]]


async def test_duplicate_team_name_in_any_case_is_refused_and_nothing_written(client):
    await team(client, "Ventas Lima")
    before = await counts()
    payload = (await ok(client, CREATE_TEAM, {"input": {"name": "VENTAS lima"}}))["createTeam"]
    assert payload["team"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("DUPLICATE_NAME", ["name"])]
    assert await counts() == before


@pytest.mark.parametrize(
    ("name", "code"), [("", "BLANK"), ("   ", "BLANK"), ("x" * 101, "TOO_LONG")]
)
async def test_bad_team_name_is_refused_and_nothing_written(client, name, code):
    before = await counts()
    payload = (await ok(client, CREATE_TEAM, {"input": {"name": name}}))["createTeam"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, ["name"])]
    assert await counts() == before


async def test_duplicate_user_email_in_any_case_is_refused_and_nothing_written(client):
    await user(client, "Rosa Quispe", "rosa@crm.pe")
    before = await counts()
    variables = {"input": {"name": "Otra Rosa", "email": "ROSA@crm.PE", "role": "AGENT"}}
    payload = (await ok(client, CREATE_USER, variables))["createUser"]
    assert payload["user"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("DUPLICATE_EMAIL", ["email"])]
    assert await counts() == before


async def test_update_to_another_users_email_is_refused_and_nothing_written(client):
    await user(client, "Rosa Quispe", "rosa@crm.pe")
    luis = await user(client, "Luis Chávez", "luis@crm.pe")
    before = await counts()
    data = await ok(client, UPDATE_USER, {"input": {"id": luis["id"], "email": "Rosa@crm.pe"}})
    errors = data["updateUser"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("DUPLICATE_EMAIL", ["email"])]
    assert await counts() == before
    assert (await User.get(name="Luis Chávez")).email == "luis@crm.pe"


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"email": "no-es-un-correo"}, "INVALID_EMAIL", ["email"]),
        ({"name": "  "}, "BLANK", ["name"]),
        ({"name": "x" * 151}, "TOO_LONG", ["name"]),
        ({"teamId": "not-an-id"}, "INVALID_ID", ["teamId"]),
        ({"teamId": "VGVhbTo5OTk5"}, "NOT_FOUND", ["teamId"]),  # Team:9999
    ],
)
async def test_bad_user_input_is_refused_and_nothing_written(client, fields, code, field):
    before = await counts()
    variables = {"input": {"name": "Rosa", "email": "rosa@crm.pe", "role": "AGENT", **fields}}
    payload = (await ok(client, CREATE_USER, variables))["createUser"]
    assert payload["user"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await counts() == before


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"name": None}, "REQUIRED", ["name"]),
        ({"email": None}, "REQUIRED", ["email"]),
        ({"role": None}, "REQUIRED", ["role"]),
        ({"isActive": None}, "REQUIRED", ["isActive"]),
        ({"email": "@crm.pe"}, "INVALID_EMAIL", ["email"]),
        ({"teamId": gid("Contact", 1)}, "INVALID_ID", ["teamId"]),
    ],
)
async def test_bad_update_is_refused_and_nothing_written(client, fields, code, field):
    created = await user(client, "Rosa Quispe", "rosa@crm.pe")
    before = await counts()
    data = await ok(client, UPDATE_USER, {"input": {"id": created["id"], **fields}})
    payload = data["updateUser"]
    assert payload["user"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await counts() == before
    row = await User.get(email="rosa@crm.pe")
    assert (row.name, row.role, row.is_active) == ("Rosa Quispe", "AGENT", True)


async def test_update_of_an_unknown_user_is_not_found(client):
    data = await ok(client, UPDATE_USER, {"input": {"id": gid("User", 9999), "name": "X"}})
    errors = data["updateUser"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["id"])]


async def test_users_filter_by_role_team_and_active(client):
    norte = await team(client, "Norte")
    rosa = await user(client, "Rosa Quispe", "rosa@crm.pe", "MANAGER", teamId=norte)
    luis = await user(client, "Luis Chávez", "luis@crm.pe", teamId=norte)
    ana = await user(client, "Ana Gómez", "ana@crm.pe")
    await ok(client, UPDATE_USER, {"input": {"id": ana["id"], "isActive": False}})

    async def ids(filter: dict) -> list[str]:
        data = await ok(client, USERS, {"filter": filter})
        return [n["id"] for n in data["users"]["nodes"]]

    assert await ids({"role": "AGENT"}) == [ana["id"], luis["id"]]
    assert await ids({"teamId": norte}) == [luis["id"], rosa["id"]]
    assert await ids({"isActive": False}) == [ana["id"]]
    assert await ids({"role": "AGENT", "isActive": True}) == [luis["id"]]
    body = await gql(client, USERS, {"filter": {"teamId": rosa["id"]}})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_users_search_is_accent_and_case_insensitive(client):
    luis = await user(client, "Luis Chávez", "luis@crm.pe")
    data = await ok(client, USERS, {"search": "CHAVEZ"})
    assert [n["id"] for n in data["users"]["nodes"]] == [luis["id"]]


async def test_users_keyset_paging_both_ways_and_order_by_email_desc(client):
    names = ["Ana", "Beto", "Carla", "Dario", "Elena"]
    for name in names:
        await user(client, name, f"{name.lower()}@crm.pe")
    order = [{"field": "EMAIL", "direction": "DESC"}]
    page1 = (await ok(client, USERS, {"orderBy": order, "first": 2}))["users"]
    emails = [n["email"] for n in page1["nodes"]]
    assert emails == ["elena@crm.pe", "dario@crm.pe"]
    assert page1["totalCount"] == 6  # with the bootstrap admin
    assert page1["pageInfo"]["hasNextPage"] is True
    await user(client, "Zoe", "zoe@crm.pe")  # inserted before the cursor: no shift
    after = page1["pageInfo"]["endCursor"]
    page2 = (await ok(client, USERS, {"orderBy": order, "first": 2, "after": after}))["users"]
    assert [n["email"] for n in page2["nodes"]] == ["carla@crm.pe", "beto@crm.pe"]
    assert page2["pageInfo"]["hasPreviousPage"] is True
    before = page2["pageInfo"]["startCursor"]
    back = (await ok(client, USERS, {"orderBy": order, "last": 2, "before": before}))["users"]
    assert [n["email"] for n in back["nodes"]] == ["elena@crm.pe", "dario@crm.pe"]
    assert back["pageInfo"]["hasPreviousPage"] is True  # zoe, inserted later, comes first
    body = await gql(client, USERS, {"first": 101})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_teams_list_by_name_with_search_and_paging(client):
    for name in ("Sur", "Norte", "Centro Ñuñoa"):
        await team(client, name)
    query = """query($search: String, $first: Int, $after: String) {
      teams(search: $search, first: $first, after: $after) {
        nodes { name } pageInfo { endCursor hasNextPage } totalCount } }"""
    page = (await ok(client, query, {"first": 2}))["teams"]
    assert [n["name"] for n in page["nodes"]] == ["Centro Ñuñoa", "Norte"]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"] is True
    rest = (await ok(client, query, {"after": page["pageInfo"]["endCursor"]}))["teams"]
    assert [n["name"] for n in rest["nodes"]] == ["Sur"]
    found = (await ok(client, query, {"search": "nunoa"}))["teams"]
    assert [n["name"] for n in found["nodes"]] == ["Centro Ñuñoa"]


async def test_create_api_token_for_another_user_with_scopes_and_expiry(client):
    rosa = await user(client, "Rosa Quispe", "rosa@crm.pe")
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    scopes = ["contacts:read", "accounts:write", "contacts:read"]
    variables = {
        "input": {"userId": rosa["id"], "name": "ERP", "expiresAt": expires, "scopes": scopes}
    }
    payload = (await ok(client, CREATE_TOKEN, variables))["createApiToken"]
    assert payload["errors"] == []
    assert payload["apiToken"]["user"]["id"] == rosa["id"]
    assert payload["apiToken"]["scopes"] == ["contacts:read", "accounts:write"]
    row = await ApiToken.get(name="ERP")
    assert row.scopes == ["contacts:read", "accounts:write"] and row.expires_at is not None
    event = await AuditEvent.get(resource_type="ApiToken", resource_id=row.id)
    assert event.action == "CREATED"
    assert set(event.changes) == {"name", "userId", "scopes", "expiresAt"}
    viewer = await gql(client, "{ viewer { id } }", token=payload["secret"])
    assert viewer["data"]["viewer"]["id"] == rosa["id"]


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"name": ""}, "BLANK", ["name"]),
        ({"name": "x" * 101}, "TOO_LONG", ["name"]),
        ({"scopes": ["contacts:read", "contacts:delete"]}, "INVALID_FORMAT", ["scopes", "1"]),
        ({"scopes": ["billing:read"]}, "INVALID_FORMAT", ["scopes", "0"]),
        ({"scopes": ["*"]}, "INVALID_FORMAT", ["scopes", "0"]),
        ({"expiresAt": "2020-01-01T00:00:00Z"}, "INVALID_DATE", ["expiresAt"]),
        ({"expiresAt": "2020-01-01T00:00:00"}, "INVALID_DATE", ["expiresAt"]),
        ({"userId": gid("User", 9999)}, "NOT_FOUND", ["userId"]),
        ({"userId": gid("Team", 1)}, "INVALID_ID", ["userId"]),
    ],
)
async def test_bad_api_token_input_is_refused_and_nothing_written(client, fields, code, field):
    before = await counts()
    variables = {"input": {"name": "ERP", **fields}}
    payload = (await ok(client, CREATE_TOKEN, variables))["createApiToken"]
    assert payload["apiToken"] is None and payload["secret"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await counts() == before


async def test_token_for_an_inactive_user_is_refused(client):
    rosa = await user(client, "Rosa Quispe", "rosa@crm.pe")
    await ok(client, UPDATE_USER, {"input": {"id": rosa["id"], "isActive": False}})
    before = await counts()
    variables = {"input": {"userId": rosa["id"], "name": "ERP"}}
    payload = (await ok(client, CREATE_TOKEN, variables))["createApiToken"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INACTIVE", ["userId"])]
    assert await counts() == before


async def test_revoking_twice_is_already_in_state_and_writes_nothing(client):
    payload = (await ok(client, CREATE_TOKEN, {"input": {"name": "ERP"}}))["createApiToken"]
    token_id = payload["apiToken"]["id"]
    first = (await ok(client, REVOKE_TOKEN, {"id": token_id}))["revokeApiToken"]
    assert first["errors"] == [] and first["apiToken"]["revokedAt"] is not None
    row = await ApiToken.get(name="ERP")
    event = await AuditEvent.get(resource_type="ApiToken", resource_id=row.id, action="DEACTIVATED")
    assert list(event.changes) == ["revokedAt"]
    before = await counts()
    second = (await ok(client, REVOKE_TOKEN, {"id": token_id}))["revokeApiToken"]
    assert second["apiToken"] is None
    assert [(e["code"], e["field"]) for e in second["errors"]] == [("ALREADY_IN_STATE", ["id"])]
    assert await counts() == before
    assert (await ApiToken.get(id=row.id)).revoked_at == row.revoked_at


@pytest.mark.parametrize(
    ("token_id", "code"), [("nope", "INVALID_ID"), (gid("ApiToken", 9999), "NOT_FOUND")]
)
async def test_revoking_a_bad_or_unknown_token_id(client, token_id, code):
    before = await counts()
    payload = (await ok(client, REVOKE_TOKEN, {"id": token_id}))["revokeApiToken"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, ["id"])]
    assert await counts() == before


@pytest.mark.parametrize(
    ("mutation", "variables"),
    [
        (CREATE_TEAM, {"input": {"name": "Intrusos"}}),
        (UPDATE_USER, {"input": {"id": "VXNlcjox", "role": "ADMIN"}}),  # User:1
    ],
)
async def test_non_admins_cannot_manage_teams_or_users(client, mutation, variables):
    manager = await user(client, "Rosa Quispe", "rosa@crm.pe", "MANAGER")
    token = await ok(client, CREATE_TOKEN, {"input": {"name": "m", "userId": manager["id"]}})
    secret = token["createApiToken"]["secret"]
    before = await counts()
    body = await gql(client, mutation, variables, token=secret)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await counts() == before


async def test_an_expiry_without_a_time_zone_is_read_as_utc(client):
    variables = {"input": {"name": "ERP", "expiresAt": "2999-01-01T00:00:00"}}
    payload = (await ok(client, CREATE_TOKEN, variables))["createApiToken"]
    assert payload["errors"] == []
    assert payload["apiToken"]["expiresAt"].startswith("2999-01-01T00:00:00")
    row = await ApiToken.get(name="ERP")
    assert row.expires_at == datetime(2999, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "field"), [({"role": "MANAGER"}, ["role"]), ({"isActive": False}, ["isActive"])]
)
async def test_the_last_admin_cannot_be_demoted_or_deactivated(client, change, field):
    viewer = (await ok(client, "{ viewer { id } }"))["viewer"]["id"]
    before = await counts()
    payload = (await ok(client, UPDATE_USER, {"input": {"id": viewer, **change}}))["updateUser"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("LAST_ADMIN", field)]
    assert await counts() == before
    assert (await User.get(role="ADMIN")).is_active
