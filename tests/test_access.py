"""Rule 8: who sees and does what. Agents see their team's accounts and nothing else, by any
road (by id, nodes, nested lists, search, counts, mutations); tokens narrow their user by
scopes and field allowlists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from models import (
    Account,
    Activity,
    ApiToken,
    AuditEvent,
    Channel,
    Contact,
    Location,
    Team,
    User,
)
from models.enums import Role
from resolvers.users import hash_secret
from tests.conftest import gid, gql, make_account


@dataclass
class World:
    """Two teams, each with an agent owning one account with one contact."""

    north_agent: str  # secrets
    south_agent: str
    partner: str
    manager: str
    north_account: Account
    south_account: Account
    north_contact: Contact
    south_contact: Contact
    north_user: User
    south_user: User


async def person(name: str, role: Role, team: Team | None = None, **token: object) -> str:
    """A user with one API token; returns the token's secret."""
    user = await User.create(
        name=name, email=f"{name.lower()}@crm.pe", role=role, team_id=team.id if team else None
    )
    secret = f"secret-{name.lower()}-{len(token)}"
    await ApiToken.create(user_id=user.id, name=name, secret_hash=hash_secret(secret), **token)
    return secret


async def contact_at(account: Account, main: Location, first: str, last: str) -> Contact:
    contact = await Contact.create(
        account_id=account.id, location_id=main.id, first_name=first, last_name=last
    )
    contact.search_text = contact.search_document([])
    await contact.save()
    return contact


@pytest.fixture
async def world(client) -> World:
    north, south = await Team.create(name="Norte"), await Team.create(name="Sur")
    north_agent = await person("Nora", Role.AGENT, north)
    await person("Nico", Role.AGENT, north)  # Nora's teammate
    south_agent = await person("Sara", Role.AGENT, south)
    partner = await person("Pablo", Role.PARTNER, north)
    manager = await person("Mario", Role.MANAGER)
    nico = await User.get(name="Nico")
    sara = await User.get(name="Sara")
    north_account, north_main = await make_account("Bodega Norte", owner_id=nico.id)
    south_account, south_main = await make_account("Bodega Sur", owner_id=sara.id)
    north_contact = await contact_at(north_account, north_main, "José", "Pérez")
    south_contact = await contact_at(south_account, south_main, "Josefa", "Núñez")
    for account, contact in ((north_account, north_contact), (south_account, south_contact)):
        await Activity.create(
            account_id=account.id, contact_id=contact.id, kind="NOTE", subject="Visita"
        )
    return World(
        north_agent, south_agent, partner, manager, north_account, south_account,
        north_contact, south_contact, await User.get(name="Nora"), sara,
    )  # fmt: skip


def names(connection: dict) -> list[str]:
    return sorted(node.get("name") or node.get("fullName") for node in connection["nodes"])


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


# ---------------------------------------------------------------- rows


async def test_an_agent_lists_only_the_accounts_of_their_team(client, world):
    query = "{ accounts { totalCount nodes { name } } contacts { totalCount nodes { fullName } } }"
    body = await gql(client, query, token=world.north_agent)
    assert body["data"]["accounts"] == {"totalCount": 1, "nodes": [{"name": "Bodega Norte"}]}
    assert body["data"]["contacts"] == {"totalCount": 1, "nodes": [{"fullName": "José Pérez"}]}
    everything = await gql(client, query, token=world.manager)
    assert everything["data"]["accounts"]["totalCount"] == 2
    assert everything["data"]["contacts"]["totalCount"] == 2


async def test_another_teams_contact_by_id_is_null_as_if_it_did_not_exist(client, world):
    query = "query($id: ID!) { node(id: $id) { id ... on Contact { fullName } } }"
    body = await gql(client, query, {"id": gid("Contact", world.south_contact.id)},
                     token=world.north_agent)  # fmt: skip
    assert body["data"] == {"node": None} and "errors" not in body
    missing = await gql(client, query, {"id": gid("Contact", 99999)}, token=world.north_agent)
    # Indistinguishable from an id that does not exist.
    assert missing["data"] == body["data"] and "errors" not in missing


async def test_a_statement_cached_for_one_caller_never_serves_another(client, world):
    """Loaders build their SQL once per shape (``engine.rows.keyed_sql``); what the caller
    may see is part of the shape, so the same request by others gets their own rows."""
    ids = [gid("Contact", world.south_contact.id), gid("Contact", world.north_contact.id)]
    query = """query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Contact {
        account { name } stats { activitiesTotal } } } }"""
    seen = {}
    for name in ("manager", "north_agent", "south_agent", "manager"):
        body = await gql(client, query, {"ids": ids}, token=getattr(world, name))
        seen[name] = [node and node["account"]["name"] for node in body["data"]["nodes"]]
    assert seen == {
        "manager": ["Bodega Sur", "Bodega Norte"],
        "north_agent": [None, "Bodega Norte"],
        "south_agent": ["Bodega Sur", None],
    }


async def test_nodes_answer_null_in_place_for_what_the_agent_cannot_see(client, world):
    ids = [gid("Contact", world.south_contact.id), gid("Contact", world.north_contact.id),
           gid("Account", world.south_account.id), gid("Location", 99999)]  # fmt: skip
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    body = await gql(client, query, {"ids": ids}, token=world.north_agent)
    assert body["data"]["nodes"] == [None, {"id": ids[1]}, None, None]


async def test_search_and_counts_leave_out_other_teams(client, world):
    query = "query($s: String) { contacts(search: $s) { totalCount nodes { fullName } } }"
    body = await gql(client, query, {"s": "josefa nunez"}, token=world.north_agent)
    assert body["data"]["contacts"] == {"totalCount": 0, "nodes": []}
    body = await gql(client, query, {"s": "jose"}, token=world.south_agent)
    assert names(body["data"]["contacts"]) == ["Josefa Núñez"]


async def test_filters_naming_another_teams_account_find_nothing(client, world):
    query = """query($a: ID!) {
      contacts(filter: {accountId: $a}) { totalCount }
      activities(filter: {accountId: $a}) { totalCount }
      locations(filter: {accountId: $a}) { totalCount }
    }"""
    body = await gql(client, query, {"a": gid("Account", world.south_account.id)},
                     token=world.north_agent)  # fmt: skip
    assert body["data"] == {
        "contacts": {"totalCount": 0}, "activities": {"totalCount": 0},
        "locations": {"totalCount": 0},
    }  # fmt: skip


async def test_nested_lists_and_stats_stay_inside_the_team(client, world):
    query = """{ accounts { nodes { name
        contacts { totalCount nodes { fullName stats { activitiesTotal } } }
        activities { totalCount }
        locations { totalCount } } } }"""
    body = await gql(client, query, token=world.north_agent)
    [account] = body["data"]["accounts"]["nodes"]
    assert account["name"] == "Bodega Norte"
    assert account["contacts"]["nodes"] == [
        {"fullName": "José Pérez", "stats": {"activitiesTotal": 1}}
    ]
    assert account["activities"]["totalCount"] == 1
    assert account["locations"]["totalCount"] == 1


async def test_the_whole_audit_log_is_for_managers_and_admins(client, world):
    body = await gql(client, "{ auditEvents { totalCount } }", token=world.north_agent)
    assert codes(body) == ["FORBIDDEN"]
    body = await gql(client, "{ auditEvents { totalCount } }", token=world.manager)
    assert "errors" not in body


# ---------------------------------------------------------------- writes


UPDATE_CONTACT = """mutation($input: UpdateContactInput!) {
  updateContact(input: $input) { contact { id jobTitle } errors { code field } } }"""
UPDATE_ACCOUNT = """mutation($input: UpdateAccountInput!) {
  updateAccount(input: $input) { account { id status } errors { code field } } }"""
CREATE_ACCOUNT = """mutation($input: CreateAccountInput!) {
  createAccount(input: $input) { account { id } errors { code field } } }"""
CREATE_CONTACT = """mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } errors { code field } } }"""


async def test_writing_another_teams_contact_is_not_found_and_writes_nothing(client, world):
    before = await AuditEvent.all().count()
    variables = {"input": {"id": gid("Contact", world.south_contact.id), "jobTitle": "Jefa"}}
    body = await gql(client, UPDATE_CONTACT, variables, token=world.north_agent)
    assert body["data"]["updateContact"] == {
        "contact": None, "errors": [{"code": "NOT_FOUND", "field": ["id"]}]
    }  # fmt: skip
    assert (await Contact.get(id=world.south_contact.id)).job_title is None
    assert await AuditEvent.all().count() == before


async def test_an_agent_cannot_put_a_contact_into_another_teams_account(client, world):
    variables = {"input": {"accountId": gid("Account", world.south_account.id),
                           "firstName": "Ana", "lastName": "Ruiz"}}  # fmt: skip
    body = await gql(client, CREATE_CONTACT, variables, token=world.north_agent)
    assert body["data"]["createContact"]["errors"] == [
        {"code": "NOT_FOUND", "field": ["accountId"]}
    ]
    assert await Contact.all().count() == 2


DUPLICATE_CASES = {
    "createContact": ("CreateContactInput", "contact",
                      lambda w, taken: {"accountId": gid("Account", w.north_account.id),
                                        "firstName": "Ana", "lastName": "Ruiz", **taken}),
    "updateContact": ("UpdateContactInput", "contact",
                      lambda w, taken: {"id": gid("Contact", w.north_contact.id), **taken}),
    "addChannel": ("AddChannelInput", "channel",
                   lambda w, taken: {"contactId": gid("Contact", w.north_contact.id),
                                     "kind": "EMAIL", "value": taken["email"]}),
    "updateChannel": ("UpdateChannelInput", "channel",
                      lambda w, taken: {"id": gid("Channel", w.north_email.id),
                                        "value": taken["email"]}),
    "activateContact": ("ActivateContactInput", "contact",
                        lambda w, taken: {"id": gid("Contact", w.north_inactive.id)}),
}  # fmt: skip


@pytest.fixture
async def taken(world) -> dict:
    """Josefa (south team) holds an email and a DNI; the north team has a contact with an
    email of its own and an inactive one whose email is Josefa's."""
    josefa = world.south_contact
    await Channel.create(contact_id=josefa.id, kind="EMAIL", value="Josefa@Sur.pe",
                         normalized="josefa@sur.pe", is_primary=True)  # fmt: skip
    josefa.document_type, josefa.document_number = "DNI", "45678912"
    await josefa.save()
    world.north_email = await Channel.create(
        contact_id=world.north_contact.id, kind="EMAIL", value="jose@norte.pe",
        normalized="jose@norte.pe", is_primary=True,
    )  # fmt: skip
    north_main = await Location.get(account_id=world.north_account.id)
    world.north_inactive = await contact_at(world.north_account, north_main, "Eva", "Soto")
    world.north_inactive.status = "INACTIVE"
    await world.north_inactive.save()
    await Channel.create(
        contact_id=world.north_inactive.id, kind="EMAIL", value="josefa@sur.pe",
        normalized="josefa@sur.pe", is_primary=True, contact_active=False,
    )  # fmt: skip
    return {"email": "JOSEFA@sur.pe", "documentType": "DNI", "documentNumber": "45678912"}


@pytest.mark.parametrize("mutation", list(DUPLICATE_CASES))
async def test_a_duplicate_names_the_other_contact_only_to_a_caller_who_sees_it(
    client, world, taken, mutation
):
    input_type, entity, build = DUPLICATE_CASES[mutation]
    query = f"""mutation($input: {input_type}!) {{
      {mutation}(input: $input) {{ {entity} {{ id }} errors {{ code field message }} }} }}"""
    josefa = world.south_contact
    revealing = ("Josefa", "Núñez", josefa.contact_no, gid("Contact", josefa.id), "Sur.pe")

    async def refused(secret: str) -> list[dict]:
        before = (await Contact.all().count(), await Channel.all().count(),
                  await AuditEvent.all().count())  # fmt: skip
        body = await gql(client, query, {"input": build(world, taken)}, token=secret)
        payload = body["data"][mutation]
        assert payload[entity] is None and payload["errors"], payload
        assert (await Contact.all().count(), await Channel.all().count(),
                await AuditEvent.all().count()) == before  # fmt: skip
        return payload["errors"]

    hidden = await refused(world.north_agent)
    # The contact's own inputs carry the document too; the others an email only.
    both = mutation in ("createContact", "updateContact")
    expected = {"DUPLICATE_EMAIL", "DUPLICATE_DOCUMENT"} if both else {"DUPLICATE_EMAIL"}
    assert {error["code"] for error in hidden} == expected
    for error in hidden:
        assert error["message"] and not [w for w in revealing if w in error["message"]], error
    seen = await refused(world.manager)
    assert {error["code"] for error in seen} == expected
    for error in seen:
        assert "Josefa Núñez" in error["message"] and josefa.contact_no in error["message"]
        assert gid("Contact", josefa.id) in error["message"]


async def test_an_agent_updates_their_teams_contact(client, world):
    variables = {"input": {"id": gid("Contact", world.north_contact.id), "jobTitle": "Gerente"}}
    body = await gql(client, UPDATE_CONTACT, variables, token=world.north_agent)
    assert body["data"]["updateContact"]["errors"] == []
    assert (await Contact.get(id=world.north_contact.id)).job_title == "Gerente"


async def test_deactivating_an_account_takes_a_manager(client, world):
    variables = {"input": {"id": gid("Account", world.north_account.id), "status": "INACTIVE"}}
    body = await gql(client, UPDATE_ACCOUNT, variables, token=world.north_agent)
    assert codes(body) == ["FORBIDDEN"] and body["data"] is None
    assert (await Account.get(id=world.north_account.id)).status == "ACTIVE"
    body = await gql(client, UPDATE_ACCOUNT, variables, token=world.manager)
    assert body["data"]["updateAccount"]["account"]["status"] == "INACTIVE"


async def test_an_agent_cannot_give_an_account_to_another_team(client, world):
    variables = {"input": {"id": gid("Account", world.north_account.id),
                           "ownerId": gid("User", world.south_user.id)}}  # fmt: skip
    body = await gql(client, UPDATE_ACCOUNT, variables, token=world.north_agent)
    assert codes(body) == ["FORBIDDEN"]
    assert (await Account.get(id=world.north_account.id)).owner_id != world.south_user.id


async def test_a_partner_may_not_create_accounts(client, world):
    body = await gql(client, CREATE_ACCOUNT, {"input": {"name": "Nueva"}}, token=world.partner)
    assert codes(body) == ["FORBIDDEN"]
    assert await Account.all().count() == 2


# ---------------------------------------------------------------- tokens


async def scoped(world: World, secret: str, **narrowing: object) -> str:
    user = await User.get(name="Nora")
    await ApiToken.create(user_id=user.id, name="partner", secret_hash=hash_secret(secret),
                          **narrowing)  # fmt: skip
    return secret


async def test_a_read_scoped_token_cannot_write(client, world):
    secret = await scoped(world, "read-only", scopes=["contacts:read"])
    variables = {"input": {"id": gid("Contact", world.north_contact.id), "jobTitle": "Jefa"}}
    body = await gql(client, UPDATE_CONTACT, variables, token=secret)
    assert codes(body) == ["FORBIDDEN"]
    assert "contacts:write" in body["errors"][0]["message"]
    assert (await Contact.get(id=world.north_contact.id)).job_title is None


async def test_a_scope_never_grants_more_than_the_role(client, world):
    secret = await scoped(world, "users-write", scopes=["users:write"])
    body = await gql(client, "mutation { createTeam(input: {name: \"X\"}) { team { id } } }",
                     token=secret)  # fmt: skip
    assert codes(body) == ["FORBIDDEN"]
    assert await Team.all().count() == 2


async def test_a_scoped_token_reads_only_its_areas(client, world):
    secret = await scoped(world, "contacts-only", scopes=["contacts:read"])
    body = await gql(client, "{ contacts { nodes { fullName account { id name } } } }",
                     token=secret)  # fmt: skip
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["path"] == ["contacts", "nodes", 0, "account", "name"]
    assert "accounts:read" in error["message"]


async def test_a_field_allowlist_forbids_other_fields_at_their_path_only(client, world):
    secret = await scoped(
        world, "slim", allowed_fields=["Contact.fullName", "Contact.email", "Account.name",
                                       "Contact.account", "Contact.jobTitle"],
    )  # fmt: skip
    query = "{ contacts { nodes { id fullName email jobTitle phone account { name taxId } } } }"
    body = await gql(client, query, token=secret)
    [node] = body["data"]["contacts"]["nodes"]
    assert node == {
        "id": gid("Contact", world.north_contact.id), "fullName": "José Pérez", "email": None,
        "jobTitle": None, "phone": None, "account": {"name": "Bodega Norte", "taxId": None},
    }  # fmt: skip
    assert sorted((e["extensions"]["code"], tuple(e["path"])) for e in body["errors"]) == [
        ("FORBIDDEN", ("contacts", "nodes", 0, "account", "taxId")),
        ("FORBIDDEN", ("contacts", "nodes", 0, "phone")),
    ]


async def test_an_allowlist_naming_unknown_fields_is_refused(client, world):
    query = """mutation($f: [String!]) { createApiToken(input: {name: "x", allowedFields: $f}) {
      secret errors { code field } } }"""
    body = await gql(client, query, {"f": ["Contact.fullName", "Contact.password", "nope"]},
                     token=world.north_agent)  # fmt: skip
    assert body["data"]["createApiToken"] == {"secret": None, "errors": [
        {"code": "INVALID_FORMAT", "field": ["allowedFields", "1"]},
        {"code": "INVALID_FORMAT", "field": ["allowedFields", "2"]},
    ]}  # fmt: skip


async def test_a_token_with_an_allowlist_cannot_mint_a_wider_one(client, world):
    secret = await scoped(world, "narrow", allowed_fields=["Contact.fullName"])
    query = 'mutation { createApiToken(input: {name: "wide"}) { secret } }'
    body = await gql(client, query, token=secret)
    assert codes(body) == ["FORBIDDEN"]


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Bearer a b", "Basic dXNlcjpwYXNz", "bearer\tx", "Token abc"],
)
async def test_malformed_authorization_headers_are_unauthenticated(client, world, header):
    response = await client.post(
        "/graphql", json={"query": "{ viewer { id } }"}, headers={"Authorization": header}
    )
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]


async def test_expired_and_revoked_tokens_of_an_agent_stop_at_once(client, world):
    user = await User.get(name="Nora")
    past = datetime.now(UTC) - timedelta(seconds=1)
    await ApiToken.create(user_id=user.id, name="old", secret_hash=hash_secret("old"),
                          expires_at=past)  # fmt: skip
    await ApiToken.create(user_id=user.id, name="gone", secret_hash=hash_secret("gone"),
                          revoked_at=past)  # fmt: skip
    for secret in ("old", "gone"):
        body = await gql(client, "{ contacts { totalCount } }", token=secret)
        assert codes(body) == ["UNAUTHENTICATED"] and body["data"] is None


async def test_using_a_token_records_when_it_was_last_used(client, world):
    token = await ApiToken.get(name="Nora")
    assert token.last_used_at is None
    await gql(client, "{ viewer { id } }", token=world.north_agent)
    used = (await ApiToken.get(name="Nora")).last_used_at
    assert used is not None and datetime.now(UTC) - used < timedelta(minutes=1)
