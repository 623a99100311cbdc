"""The unit of work: rule 6 for every write path, the outbox row of each change, the lock order.

Every mutation that writes is a case below; a test fails when the schema gains a mutation
without one. The lock-order tests send real concurrent requests: on PostgreSQL the app's pool
hands them parallel connections (checked), on SQLite transactions run one at a time.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from tortoise import connections

from demo import fill_demo_data
from models import AuditEvent, Contact, Location, Outbox, User
from models.registry import ENTITIES, Visibility
from resolvers.ids import decode_id, encode_id
from resolvers.unit_of_work import LockOrderError, Unit, change
from resolvers.users import ensure_admin
from tests.conftest import (
    ADMIN_TOKEN,
    define_field,
    gql,
    gql_upload,
    ok,
    tables_children_first,
    wipe,
)

# The file every upload of these cases sends.
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


class AuditWriteFailed(RuntimeError):
    """What the patched audit or outbox insert raises."""


# ---------------------------------------------------------------- a world to write in


@dataclass
class World:
    """Global ids of rows every mutation case can act on."""

    ids: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


def payload(data: dict, field: str) -> dict:
    assert data[field]["errors"] == [], data[field]["errors"]
    return data[field]


async def build_world(client) -> World:
    ids: dict[str, str] = {}
    data = await ok(
        client,
        'mutation { createAccount(input: {name: "Andina"}) '
        "{ account { id mainLocation { id } } errors { code } } }",
    )
    account = payload(data, "createAccount")["account"]
    ids["account"], ids["main"] = account["id"], account["mainLocation"]["id"]
    for name in ("outlet", "empty"):
        data = await ok(
            client,
            "mutation($a: ID!, $n: String!) { createLocation(input: "
            "{accountId: $a, kind: OUTLET, name: $n}) { location { id } errors { code } } }",
            {"a": ids["account"], "n": name},
        )
        ids[name] = payload(data, "createLocation")["location"]["id"]
    contact = (
        "mutation($a: ID!, $f: String!, $e: String!, $p: String!) { createContact(input: "
        '{accountId: $a, firstName: $f, lastName: "Ruiz", email: $e, phone: $p}) '
        "{ contact { id channels { id kind } } errors { code } } }"
    )
    for name, phone in (("ana", "+51 1 411 1111"), ("luis", "+51 1 422 2222")):
        data = await ok(
            client, contact, {"a": ids["account"], "f": name, "e": f"{name}@andina.pe", "p": phone}
        )
        made = payload(data, "createContact")["contact"]
        ids[name] = made["id"]
        for channel in made["channels"]:
            ids[f"{name}.{channel['kind'].lower()}"] = channel["id"]
    data = await ok(
        client,
        "mutation($c: ID!) { addChannel(input: {contactId: $c, kind: EMAIL, "
        'value: "ana.ruiz@andina.pe"}) { channel { id } errors { code } } }',
        {"c": ids["ana"]},
    )
    ids["ana.email2"] = payload(data, "addChannel")["channel"]["id"]
    await ok(
        client,
        "mutation($c: ID!) { deactivateContact(input: {id: $c}) { errors { code } } }",
        {"c": ids["luis"]},
    )
    data = await ok(
        client,
        "mutation($c: ID!) { createActivity(input: {contactId: $c, kind: CALL, "
        'subject: "Llamada"}) { activity { id } errors { code } } }',
        {"c": ids["ana"]},
    )
    ids["activity"] = payload(data, "createActivity")["activity"]["id"]
    response = await gql_upload(
        client,
        "mutation($c: ID!, $f: Upload!) { uploadDocument(input: {contactId: $c, file: $f, "
        "kind: CONTRACT}) { document { id } errors { code } } }",
        {"c": ids["ana"], "f": None},
        {"variables.f": ("contrato.pdf", PDF, "application/pdf")},
    )
    ids["document"] = payload(response.json()["data"], "uploadDocument")["document"]["id"]
    data = await ok(
        client, 'mutation { createTeam(input: {name: "Ventas"}) { team { id } errors { code } } }'
    )
    ids["team"] = payload(data, "createTeam")["team"]["id"]
    data = await ok(
        client,
        'mutation($t: ID!) { createUser(input: {name: "Rosa", email: '
        '"rosa@crm.pe", role: AGENT, teamId: $t}) { user { id } errors { code } } }',
        {"t": ids["team"]},
    )
    ids["user"] = payload(data, "createUser")["user"]["id"]
    data = await ok(
        client,
        'mutation { createApiToken(input: {name: "cli"}) { apiToken { id } errors { code } } }',
    )
    ids["token"] = payload(data, "createApiToken")["apiToken"]["id"]
    ids["field"] = await define_field(client, "CONTACT", "nivel", "SELECT", ["alto", "bajo"])
    return World(ids)


# ---------------------------------------------------------------- every mutation that writes


@dataclass(frozen=True)
class Case:
    field: str
    # The mutation; `$id` (and `$other`) take the world ids named by `id` (and `other`).
    document: str
    id: str | None = None
    other: str | None = None
    changes: int = 1  # audit events, and outbox rows, the mutation writes
    upload: bool = False  # sent as a multipart request with a PDF as `$file`

    def variables(self, world: World) -> dict[str, str]:
        named = {"id": self.id, "other": self.other}
        return {key: world[name] for key, name in named.items() if name is not None}

    async def send(self, client, world: World) -> dict:
        """The mutation's response body: JSON, or multipart with its file."""
        if not self.upload:
            return await gql(client, self.document, self.variables(world))
        files = {"variables.file": ("contrato.pdf", PDF, "application/pdf")}
        variables = {**self.variables(world), "file": None}
        response = await gql_upload(client, self.document, variables, files)
        assert response.status_code in (200, 400), response.text
        return response.json()


def one(field: str, arguments: str, variables: str = "", **case: Any) -> Case:
    header = f"({variables})" if variables else ""
    return Case(
        field,
        f"mutation{header} {{ {field}(input: {{{arguments}}}) {{ errors {{ code }} }} }}",
        **case,
    )


ID = "$id: ID!"
BOTH = "$id: ID!, $other: ID!"
CASES = (
    one("createAccount", 'name: "Ferretería Lima"', changes=2),  # the account and its MAIN
    one("updateAccount", 'id: $id, name: "Andina SAC", isVip: true', ID, id="account"),
    one(
        "createLocation",
        'accountId: $id, kind: BRANCH, name: "Sur", isDefault: true',
        ID,
        id="account",
    ),
    one("updateLocation", 'id: $id, city: "Arequipa", isDefault: true', ID, id="outlet"),
    one("deleteLocation", "id: $id", ID, id="empty"),
    one(
        "createContact",
        'accountId: $id, firstName: "Eva", lastName: "Soto", isPreferred: true, '
        'email: "eva@andina.pe"',
        ID,
        id="account",
    ),
    one(
        "updateContact",
        'id: $id, locationId: $other, isPreferred: true, jobTitle: "Jefa"',
        BOTH,
        id="ana",
        other="outlet",
    ),
    one(
        "createContacts",
        'contacts: [{accountId: $id, firstName: "Eva", lastName: "Soto", isPreferred: true}, '
        '{accountId: $id, firstName: "Iris", lastName: "Vega", email: "iris@andina.pe"}]',
        ID,
        id="account",
        changes=2,
    ),
    one(
        "updateContacts",
        'contacts: [{id: $id, jobTitle: "Jefa", isPreferred: true, email: "ana@uno.pe"}, '
        '{id: $other, lastName: "Ruiz Soto", channels: [{kind: PHONE, value: "+51 1 455 5555"}]}]',
        BOTH,
        id="ana",
        other="luis",
        changes=2,
    ),
    one("deactivateContact", "id: $id", ID, id="ana"),
    one("activateContact", "id: $id", ID, id="luis"),
    one("setPreferredContact", "id: $id", ID, id="ana"),
    one("addChannel", 'contactId: $id, kind: WHATSAPP, value: "+51 999 111 222"', ID, id="ana"),
    one("updateChannel", 'id: $id, value: "+51 1 433 3333"', ID, id="ana.phone"),
    one("removeChannel", "id: $id", ID, id="ana.email"),
    one("setPrimaryChannel", "id: $id", ID, id="ana.email2"),
    one("createActivity", 'contactId: $id, kind: TASK, subject: "Enviar catálogo"', ID, id="ana"),
    one("updateActivity", 'id: $id, subject: "Llamada de seguimiento"', ID, id="activity"),
    one("deleteActivity", "id: $id", ID, id="activity"),
    one("uploadDocument", "contactId: $id, file: $file, kind: ID_CARD", "$id: ID!, $file: Upload!",
        id="ana", upload=True),
    one("reviewDocument", 'id: $id, status: REJECTED, note: "Ilegible"', ID, id="document"),
    one("deleteDocument", "id: $id", ID, id="document"),
    one("createTeam", 'name: "Cuentas clave"'),
    one("createUser", 'name: "Iván", email: "ivan@crm.pe", role: MANAGER'),
    one("updateUser", 'id: $id, name: "Rosa María"', ID, id="user"),
    one("createApiToken", 'name: "etl", scopes: ["contacts:read"]'),
    one("revokeApiToken", "id: $id", ID, id="token"),
    one("createCustomFieldDefinition", 'entity: ACCOUNT, key: "zona", label: "Zona", type: TEXT'),
    one("updateCustomFieldDefinition", 'id: $id, label: "Nivel de interés"', ID, id="field"),
    one("archiveCustomFieldDefinition", "id: $id", ID, id="field"),
)


# Mutations that take a file (GraphQL multipart requests): their rule-6 cases are in the
# tests of their domain (tests/test_imports.py).
UPLOADS = frozenset({"importContacts"})


async def table_rows() -> dict[str, list[dict]]:
    """Every row of every table, to compare a database before and after."""
    db = connections.get("default")
    return {
        table: await db.execute_query_dict(f'SELECT * FROM "{table}" ORDER BY "id"')
        for table in tables_children_first()
    }


async def test_every_mutation_that_writes_has_a_case(client):
    data = await ok(client, "{ __schema { mutationType { fields { name } } } }")
    fields = {field["name"] for field in data["__schema"]["mutationType"]["fields"]}
    assert fields == {case.field for case in CASES} | UPLOADS


@pytest.mark.parametrize("failing", ["_insert_audit", "_insert_outbox"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.field)
async def test_rule_6_a_failed_audit_or_outbox_write_leaves_no_trace(
    client, monkeypatch, case: Case, failing: str
):
    world = await build_world(client)
    before = await table_rows()

    async def fail(self, *args):
        raise AuditWriteFailed(failing)

    monkeypatch.setattr(Unit, failing, fail)
    body = await case.send(client, world)
    assert (body["data"] or {}).get(case.field) is None
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert await table_rows() == before


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.field)
async def test_rule_6_each_change_writes_one_audit_event_and_its_outbox_row(client, case: Case):
    world = await build_world(client)
    last_event = await AuditEvent.all().order_by("-id").first()
    last_row = await Outbox.all().order_by("-id").first()
    body = await case.send(client, world)
    assert "errors" not in body, body["errors"]
    data = body["data"]
    assert data[case.field]["errors"] == []
    events = await AuditEvent.filter(id__gt=last_event.id).order_by("id")
    rows = await Outbox.filter(id__gt=last_row.id).order_by("id")
    assert len(events) == len(rows) == case.changes
    assert [row.audit_event_id for row in rows] == [event.id for event in events]
    admin = await User.get(email="admin@crm.local")
    for event, row in zip(events, rows, strict=True):
        await assert_published_as_recorded(event, row, admin)


async def assert_published_as_recorded(event: AuditEvent, row: Outbox, actor: User | None):
    """The outbox row is the contract's Change (Events section) of the audit event."""
    assert (row.action, row.resource_type, row.resource_id) == (
        event.action,
        event.resource_type,
        event.resource_id,
    )
    assert row.actor_id == (actor.id if actor else None) == event.actor_id
    assert row.account_id == await account_of(event.resource_type, event.resource_id)
    assert row.payload == {
        "action": event.action.value,
        "resourceType": event.resource_type,
        "resourceId": encode_id(event.resource_type, event.resource_id),
        "actor": {"id": encode_id("User", actor.id), "name": actor.name} if actor else None,
        "occurredAt": event.occurred_at.isoformat(),
        "changes": event.changes,
    }
    assert decode_id(row.payload["resourceId"]) == (event.resource_type, event.resource_id)


async def account_of(resource_type: str, pk: int) -> int | None:
    """The account of a resource as the database says (deleted rows: their audit says)."""
    entity = ENTITIES[resource_type]
    if entity.visibility is Visibility.PARENT:
        column, parent = entity.parent
        db = connections.get("default")
        [row] = await db.execute_query_dict(
            f'SELECT "{column}" FROM "{entity.table}" WHERE "id" = {pk}'
        )
        return await account_of(parent, row[column])
    if entity.visibility is not Visibility.ACCOUNT:
        return None
    if entity.account_column == "id":
        return pk
    db = connections.get("default")
    found = await db.execute_query_dict(
        f'SELECT "account_id" FROM "{entity.table}" WHERE "id" = {pk}'
    )
    if found:
        return found[0]["account_id"]
    event = await AuditEvent.get(resource_type=resource_type, resource_id=pk, action="DELETED")
    return event.changes["accountId"]["from"]


async def test_a_failed_mutation_writes_no_audit_event_and_no_outbox_row(client):
    world = await build_world(client)
    before = await table_rows()
    data = await ok(
        client,
        "mutation($id: ID!) { deleteLocation(input: {id: $id}) { errors { code } } }",
        {"id": world["main"]},
    )
    assert [e["code"] for e in data["deleteLocation"]["errors"]] == ["MAIN_LOCATION"]
    data = await ok(
        client,
        "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { errors { code } } }",
        {"id": world["token"]},
    )
    data = await ok(
        client,
        "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { errors { code } } }",
        {"id": world["token"]},
    )
    assert [e["code"] for e in data["revokeApiToken"]["errors"]] == ["ALREADY_IN_STATE"]
    after = await table_rows()
    assert len(after["audit_event"]) == len(before["audit_event"]) + 1  # the first revocation
    assert len(after["outbox"]) == len(before["outbox"]) + 1


# What each removal's resolver module is, and the world row it removes.
REMOVALS = {
    "removeChannel": ("channels", "ana.email2"),
    "deleteActivity": ("activities", "activity"),
    "deleteLocation": ("locations", "empty"),
    "deleteDocument": ("documents", "document"),
}


@pytest.mark.parametrize("field", sorted(REMOVALS))
async def test_a_removal_sent_twice_at_once_is_done_once(client, monkeypatch, field):
    """Both requests look the row up before either opens its unit of work (each waits there
    until both have): the second's check inside its unit, after the first committed, is
    what must answer NOT_FOUND, on SQLite (one transaction at a time) as on PostgreSQL."""
    module_name, row = REMOVALS[field]
    world = await build_world(client)
    module = importlib.import_module(f"resolvers.{module_name}")
    real_change = module.change
    both_looked = asyncio.Barrier(2)

    @asynccontextmanager
    async def change_once_both_looked(*args, **kwargs):
        await asyncio.wait_for(both_looked.wait(), 10)
        async with real_change(*args, **kwargs) as unit:
            yield unit

    monkeypatch.setattr(module, "change", change_once_both_looked)
    before = await table_rows()
    document = f"mutation($id: ID!) {{ {field}(input: {{id: $id}}) {{ errors {{ code field }} }} }}"
    bodies = await asyncio.gather(*(gql(client, document, {"id": world[row]}) for _ in range(2)))
    errors = sorted((body["data"][field]["errors"] for body in bodies), key=len)
    assert errors == [[], [{"code": "NOT_FOUND", "field": ["id"]}]]
    after = await table_rows()
    assert len(after["audit_event"]) == len(before["audit_event"]) + 1
    assert len(after["outbox"]) == len(before["outbox"]) + 1


# ---------------------------------------------------------------- writes that are not mutations


@pytest.mark.parametrize("token", [ADMIN_TOKEN, None], ids=["admin-token", "bootstrap"])
async def test_start_up_admin_is_created_with_its_audit_event_and_outbox_row(
    app, monkeypatch, token
):
    await wipe()

    async def fail(self, *args):
        raise AuditWriteFailed

    with monkeypatch.context() as patched:
        patched.setattr(Unit, "_insert_outbox", fail)
        with pytest.raises(AuditWriteFailed):
            await ensure_admin(token)
    assert await table_rows() == {table: [] for table in tables_children_first()}
    await ensure_admin(token)
    [admin] = await User.all()
    [event] = await AuditEvent.all()
    [row] = await Outbox.all()
    assert (event.resource_type, event.resource_id, event.actor_id) == ("User", admin.id, None)
    await assert_published_as_recorded(event, row, None)
    await wipe()
    await ensure_admin(ADMIN_TOKEN)  # the next test's client fixture expects it


async def test_demo_data_writes_an_outbox_row_per_audit_event(app, monkeypatch):
    await wipe()
    try:

        async def fail(self, *args):
            raise AuditWriteFailed

        with monkeypatch.context() as patched:
            patched.setattr(Unit, "_insert_outbox", fail)
            with pytest.raises(AuditWriteFailed):
                await fill_demo_data(accounts=2)
        assert await table_rows() == {table: [] for table in tables_children_first()}
        summary = await fill_demo_data(accounts=2)
        events = {event.id: event for event in await AuditEvent.all()}
        rows = await Outbox.all().order_by("id")
        assert len(events) == len(rows) == summary.audit_events
        assert sorted(row.audit_event_id for row in rows) == sorted(events)
        for row in rows[:5] + rows[-5:]:
            event = events[row.audit_event_id]
            assert row.payload["resourceId"] == encode_id(event.resource_type, event.resource_id)
            assert row.payload["occurredAt"] == event.occurred_at.isoformat()
            assert row.account_id == await account_of(event.resource_type, event.resource_id)
    finally:
        await wipe()


# ---------------------------------------------------------------- the unit itself


async def test_a_unit_refuses_locks_out_of_order_and_writes_after_it_ended(client):
    world = await build_world(client)
    _, location = decode_id(world["main"])
    _, contact_id = decode_id(world["ana"])
    contact = await Contact.get(id=contact_id)
    with pytest.raises(LockOrderError):
        async with change(None, contacts=[contact_id]) as unit:
            await unit.lock(locations=[location])
    with pytest.raises(LockOrderError):
        async with change(None, locations=[location + 1]) as unit:
            await unit.lock(locations=[location])
    with pytest.raises(LockOrderError):  # a rule that needs the location lock checks for it
        async with change(None) as unit:
            unit.require_lock(Location, contact.location_id)
    async with change(None) as unit:
        pass
    with pytest.raises(RuntimeError, match="ended"):
        await unit.record("UPDATED", contact, contact.full_name)


# ---------------------------------------------------------------- the lock order


@pytest.fixture
async def pool_checked(client) -> AsyncIterator[None]:
    """On PostgreSQL the concurrent requests below get parallel connections, or they prove
    nothing; SQLite serialises transactions, and there they check the rules only."""
    db = connections.get("default")
    if db.capabilities.dialect == "postgres":
        await db.execute_query("SELECT 1")
        assert db._pool is not None and db._pool.get_max_size() >= 5
    yield


PREFERRED_CONTACT = """
mutation($a: ID!, $n: String!) {
  createContact(input: {accountId: $a, firstName: $n, lastName: "y", isPreferred: true}) {
    contact { id isPreferred } errors { code }
  }
}"""


async def test_concurrent_preferred_contacts_at_one_location_all_succeed(client, pool_checked):
    """Issue 13 item 2: the insert's key-share lock, then FOR UPDATE, deadlocked on PostgreSQL."""
    world = await build_world(client)
    for round_ in range(3):
        bodies = await asyncio.gather(
            *(
                gql(client, PREFERRED_CONTACT, {"a": world["account"], "n": f"x{round_}.{i}"})
                for i in range(8)
            )
        )
        assert [body.get("errors") for body in bodies] == [None] * 8
        assert all(body["data"]["createContact"]["errors"] == [] for body in bodies)
    _, main = decode_id(world["main"])
    assert await Contact.filter(location_id=main, is_preferred=True).count() == 1


@pytest.mark.parametrize("round_", range(4))
async def test_concurrent_writes_to_one_location_contact_and_channels_finish(
    client, pool_checked, round_: int
):
    """Different mutations on the same location, contacts and channels, all at once (a few
    rounds: which two meet first varies from run to run)."""
    world = await build_world(client)
    mutation = {case.field: case.document for case in CASES}

    def send(field: str, **variables: str):
        return gql(client, mutation[field], {key: world[name] for key, name in variables.items()})

    contact_at_main = mutation["createContact"].replace('"eva@andina.pe"', "null")
    requests = [
        *(gql(client, contact_at_main, {"id": world["account"]}) for _ in range(4)),
        send("setPreferredContact", id="ana"),
        send("updateContact", id="ana", other="outlet"),
        send("addChannel", id="ana"),
        send("addChannel", id="ana"),
        send("setPrimaryChannel", id="ana.email2"),
        send("removeChannel", id="ana.email"),
        send("updateChannel", id="ana.phone"),
        send("activateContact", id="luis"),
        send("removeChannel", id="luis.phone"),
        send("updateLocation", id="outlet"),
        send("createLocation", id="account"),
        send("deleteLocation", id="empty"),
        send("createActivity", id="ana"),
        send("deactivateContact", id="ana"),
        send("setPreferredContact", id="luis"),
        send("createContacts", id="account"),
        send("updateContacts", id="ana", other="luis"),
    ]
    bodies = await asyncio.gather(*requests)
    assert [body.get("errors") for body in bodies] == [None] * len(bodies)
    # What a request may meet from another one that ran first; nothing else.
    allowed = {"INACTIVE", "ALREADY_IN_STATE", "NOT_FOUND"}
    for body in bodies:
        [result] = body["data"].values()
        assert {error["code"] for error in result["errors"]} <= allowed, result["errors"]
    db = connections.get("default")
    doubled = await db.execute_query_dict(
        'SELECT "location_id" FROM "contact" WHERE "is_preferred" GROUP BY "location_id" '
        "HAVING COUNT(*) > 1"
    )
    assert doubled == []
    assert await AuditEvent.all().count() == await Outbox.all().count()


async def test_channel_writes_lock_their_contact_before_the_channel(client, pool_checked):
    """updateChannel and setPrimaryChannel on one channel, many at once: a write that took the
    channel row before the contact's deadlocked with one that took them in the lock order."""
    world = await build_world(client)
    mutation = {case.field: case.document for case in CASES}
    channel = {"id": world["ana.phone"]}
    for _ in range(3):
        bodies = await asyncio.gather(*(
            gql(client, mutation[field], channel)
            for _ in range(5)
            for field in ("updateChannel", "setPrimaryChannel")
        ))  # fmt: skip
        assert [body.get("errors") for body in bodies] == [None] * len(bodies)
        assert all(not next(iter(body["data"].values()))["errors"] for body in bodies)
