"""createContacts / updateContacts: errors under each item's index, atomic or partial, the
limit of 100, collisions between items, rule 1 under concurrent batches, and one statement
plan per batch (the count does not grow with the items)."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import connections

from models import AuditEvent, Channel, Contact, Location, Outbox, Team, User
from models.enums import Role
from resolvers.ids import decode_id
from tests.conftest import count_statements, gid, gql, make_account, ok
from tests.test_access import person

CREATE_MANY = """
mutation($input: CreateContactsInput!) {
  createContacts(input: $input) {
    contacts { id contactNo firstName email isPreferred captureSource
               channels { kind value isPrimary } location { id } }
    errors { code field message }
  }
}"""
UPDATE_MANY = """
mutation($input: UpdateContactsInput!) {
  updateContacts(input: $input) {
    contacts { id firstName jobTitle email isPreferred location { id } }
    errors { code field message }
  }
}"""


async def counts() -> tuple[int, int, int, int]:
    return (await Contact.all().count(), await Channel.all().count(),
            await AuditEvent.all().count(), await Outbox.all().count())  # fmt: skip


async def create_many(client, items: list[dict], atomic: bool = False, token=None) -> dict:
    variables = {"input": {"contacts": items, "atomic": atomic}}
    if token is None:
        return (await ok(client, CREATE_MANY, variables))["createContacts"]
    body = await gql(client, CREATE_MANY, variables, token=token)
    assert "errors" not in body, body
    return body["data"]["createContacts"]


async def update_many(client, items: list[dict], atomic: bool = False) -> dict:
    variables = {"input": {"contacts": items, "atomic": atomic}}
    return (await ok(client, UPDATE_MANY, variables))["updateContacts"]


def person_item(account_id: int, n: int, **fields) -> dict:
    return {"accountId": gid("Account", account_id), "firstName": f"Persona{n}",
            "lastName": "Núñez", **fields}  # fmt: skip


def pk(global_id: str) -> int:
    return decode_id(global_id)[1]


# ---------------------------------------------------------------- partial and atomic


async def test_a_partial_batch_writes_the_good_items_and_names_the_bad_one_by_index(client):
    account, main = await make_account()
    items = [person_item(account.id, n, email=f"p{n}@andina.pe") for n in range(10)]
    items[7]["email"] = "not-an-email"
    before = await counts()
    payload = await create_many(client, items)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID_EMAIL", ["contacts", "7", "email"])
    ]
    written = payload["contacts"]
    assert written[7] is None
    assert [c["firstName"] for c in written if c] == [f"Persona{n}" for n in range(10) if n != 7]
    assert all(c["location"]["id"] == gid("Location", main.id) for c in written if c)
    assert all(c["captureSource"] == "API" for c in written if c)
    assert await counts() == tuple(n + 9 for n in before)
    stored = await Contact.filter(first_name="Persona3").first()
    event = await AuditEvent.get(resource_type="Contact", resource_id=stored.id)
    assert event.action == "CREATED"
    assert event.changes["firstName"] == {"from": None, "to": "Persona3"}
    assert await Contact.filter(first_name="Persona7").count() == 0


async def test_an_atomic_batch_with_one_bad_item_writes_nothing(client):
    account, _ = await make_account()
    items = [person_item(account.id, n) for n in range(5)]
    items[3]["firstName"] = "  "
    items[4]["birthday"] = "2999-01-01"
    before = await counts()
    payload = await create_many(client, items, atomic=True)
    assert payload["contacts"] == [None] * 5
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("BLANK", ["contacts", "3", "firstName"]),
        ("INVALID_DATE", ["contacts", "4", "birthday"]),
    ]
    assert await counts() == before


async def test_a_batch_of_101_is_refused_with_the_limit_and_nothing_written(client):
    account, _ = await make_account()
    before = await counts()
    payload = await create_many(client, [person_item(account.id, n) for n in range(101)])
    assert payload["contacts"] is None
    [error] = payload["errors"]
    assert (error["code"], error["field"]) == ("OUT_OF_RANGE", ["contacts"])
    assert "100" in error["message"] and "101" in error["message"]
    assert await counts() == before
    contact = (await create_many(client, [person_item(account.id, 1)]))["contacts"][0]
    update = [{"id": contact["id"], "jobTitle": f"Cargo {n}"} for n in range(101)]
    before = await counts()
    payload = await update_many(client, update)
    assert (payload["contacts"], [e["code"] for e in payload["errors"]]) == (None, ["OUT_OF_RANGE"])
    assert await counts() == before
    assert (await Contact.get(id=pk(contact["id"]))).job_title is None


async def test_a_batch_of_100_is_written(client):
    account, _ = await make_account()
    payload = await create_many(client, [person_item(account.id, n) for n in range(100)])
    assert payload["errors"] == []
    numbers = [c["contactNo"] for c in payload["contacts"]]
    assert len(set(numbers)) == 100
    assert await Contact.all().count() == 100


# ---------------------------------------------------------------- rules inside one batch


async def test_rule4_the_same_email_or_document_twice_in_one_batch(client):
    account, _ = await make_account()
    doc = {"documentType": "DNI", "documentNumber": "45678912"}
    items = [
        person_item(account.id, 0, email="ana@andina.pe"),
        person_item(account.id, 1, email="ANA@Andina.PE"),
        person_item(account.id, 2, **doc),
        person_item(account.id, 3, **doc),
    ]
    before = await counts()
    payload = await create_many(client, items)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("DUPLICATE_EMAIL", ["contacts", "1", "email"]),
        ("DUPLICATE_DOCUMENT", ["contacts", "3", "documentNumber"]),
    ]
    assert "item 0" in payload["errors"][0]["message"]
    assert "item 2" in payload["errors"][1]["message"]
    assert [c is not None for c in payload["contacts"]] == [True, False, True, False]
    assert (await counts())[0] == before[0] + 2


async def test_rule4_an_email_taken_by_a_stored_contact_is_refused_at_its_item(client):
    account, _ = await make_account()
    first = await create_many(client, [person_item(account.id, 0, email="ana@andina.pe")])
    existing = first["contacts"][0]
    items = [person_item(account.id, 1), person_item(account.id, 2, email="Ana@andina.pe")]
    payload = await create_many(client, items)
    [error] = payload["errors"]
    assert (error["code"], error["field"]) == ("DUPLICATE_EMAIL", ["contacts", "1", "email"])
    assert existing["contactNo"] in error["message"]
    assert payload["contacts"][0] is not None and payload["contacts"][1] is None


async def test_rule1_two_preferred_at_one_location_in_one_batch(client):
    account, main = await make_account()
    outlet = await Location.create(account_id=account.id, kind="OUTLET", name="Punto Sur")
    old = (await create_many(client, [person_item(account.id, 0, isPreferred=True)]))["contacts"][0]
    items = [
        person_item(account.id, 1, isPreferred=True),
        person_item(account.id, 2, isPreferred=True),
        person_item(account.id, 3, isPreferred=True, locationId=gid("Location", outlet.id)),
    ]
    payload = await create_many(client, items)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("BATCH_CONFLICT", ["contacts", "1", "isPreferred"])
    ]
    assert "Item 0" in payload["errors"][0]["message"]
    preferred = await Contact.filter(is_preferred=True).order_by("id").values_list(
        "first_name", "location_id"
    )
    assert preferred == [("Persona1", main.id), ("Persona3", outlet.id)]
    assert (await Contact.get(id=pk(old["id"]))).is_preferred is False


async def test_rule3_channels_of_a_batch_item_get_their_primaries(client):
    account, _ = await make_account()
    channels = [{"kind": "EMAIL", "value": "uno@a.pe"},
                {"kind": "EMAIL", "value": "dos@a.pe", "isPrimary": True},
                {"kind": "PHONE", "value": "+51 1 411 1111"},
                {"kind": "PHONE", "value": "+51 1 422 2222"}]  # fmt: skip
    payload = await create_many(client, [person_item(account.id, 0, channels=channels)])
    [contact] = payload["contacts"]
    primary = {c["value"]: c["isPrimary"] for c in contact["channels"]}
    assert primary == {"uno@a.pe": False, "dos@a.pe": True,
                       "+51 1 411 1111": True, "+51 1 422 2222": False}  # fmt: skip
    assert contact["email"] == "dos@a.pe"


async def test_batch_created_contacts_are_found_by_search_and_number(client):
    account, _ = await make_account()
    items = [person_item(account.id, 0, firstName="José", mobile="+51 987 654 321"),
             person_item(account.id, 1, firstName="Ángela")]  # fmt: skip
    payload = await create_many(client, items)
    query = "query($s: String) { contacts(search: $s) { nodes { firstName } } }"
    for text, names in (("jose", ["José"]), ("987654321", ["José"]),
                        (payload["contacts"][1]["contactNo"], ["Ángela"])):  # fmt: skip
        data = await ok(client, query, {"s": text})
        assert [n["firstName"] for n in data["contacts"]["nodes"]] == names


# ---------------------------------------------------------------- updates


async def test_update_batch_partial_not_found_twice_and_atomic(client):
    account, main = await make_account()
    outlet = await Location.create(account_id=account.id, kind="OUTLET", name="Punto Sur")
    made = (await create_many(client, [person_item(account.id, n) for n in range(3)]))["contacts"]
    ids = [c["id"] for c in made]
    items = [
        {"id": ids[0], "jobTitle": "Jefa", "email": "jefa@andina.pe", "isPreferred": True},
        {"id": gid("Contact", 99999), "jobTitle": "Nadie"},
        {"id": ids[1], "locationId": gid("Location", outlet.id), "isPreferred": True},
        {"id": ids[0], "jobTitle": "Otra vez"},
    ]
    before = await counts()
    payload = await update_many(client, items, atomic=True)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("NOT_FOUND", ["contacts", "1", "id"]),
        ("BATCH_CONFLICT", ["contacts", "3", "id"]),
    ]
    assert payload["contacts"] == [None] * 4
    assert await counts() == before
    assert (await Contact.get(id=pk(ids[0]))).job_title is None

    payload = await update_many(client, items)
    assert [c is not None for c in payload["contacts"]] == [True, False, True, False]
    assert payload["contacts"][0] == {"id": ids[0], "firstName": "Persona0", "jobTitle": "Jefa",
                                      "email": "jefa@andina.pe", "isPreferred": True,
                                      "location": {"id": gid("Location", main.id)}}  # fmt: skip
    assert payload["contacts"][2]["location"] == {"id": gid("Location", outlet.id)}
    assert payload["contacts"][2]["isPreferred"] is True
    assert await AuditEvent.filter(action="UPDATED").count() == 2
    assert await Outbox.filter(action="UPDATED").count() == 2


async def test_update_batch_only_writes_what_each_item_sends(client):
    account, _ = await make_account()
    made = (await create_many(client, [
        person_item(account.id, 0, jobTitle="Gerente", email="a@a.pe"),
        person_item(account.id, 1, jobTitle="Contador", phone="+51 1 411 1111"),
    ]))["contacts"]  # fmt: skip
    payload = await update_many(client, [{"id": made[0]["id"], "firstName": "Ana"},
                                         {"id": made[1]["id"], "jobTitle": "Jefe", "email": None}])
    assert payload["errors"] == []
    rows = {row.id: row for row in await Contact.all()}
    first, second = rows[pk(made[0]["id"])], rows[pk(made[1]["id"])]
    assert (first.first_name, first.job_title) == ("Ana", "Gerente")
    assert (second.first_name, second.job_title) == ("Persona1", "Jefe")
    assert await Channel.filter(contact_id=first.id).values_list("value", flat=True) == ["a@a.pe"]
    stamp = "mutation($input: UpdateContactsInput!) { updateContacts(input: $input) { " \
        "contacts { updatedAt } errors { code } } }"  # fmt: skip
    data = await ok(client, stamp, {"input": {"contacts": [{"id": made[0]["id"], "isVip": True}]}})
    answered = data["updateContacts"]["contacts"][0]["updatedAt"]
    assert answered == (await Contact.get(id=first.id)).updated_at.isoformat()


# ---------------------------------------------------------------- rule 8


async def test_rule8_an_agent_cannot_write_into_another_teams_account(client):
    north, south = await Team.create(name="Norte"), await Team.create(name="Sur")
    secret = await person("Rosa", Role.AGENT, north)
    rosa = await User.get(name="Rosa")
    other = await User.create(name="Iván", email="ivan@crm.pe", role=Role.AGENT, team_id=south.id)
    mine, _ = await make_account("Mía", owner_id=rosa.id)
    theirs, _ = await make_account("Ajena", owner_id=other.id)
    hidden = await create_many(client, [person_item(theirs.id, 0, email="oculta@ajena.pe")])
    before = await counts()
    payload = await create_many(client, [
        person_item(mine.id, 1), person_item(theirs.id, 2),
        person_item(mine.id, 3, email="oculta@ajena.pe"),
    ], atomic=True, token=secret)  # fmt: skip
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("NOT_FOUND", ["contacts", "1", "accountId"]),
        ("DUPLICATE_EMAIL", ["contacts", "2", "email"]),
    ]
    # What the agent cannot see is not named.
    assert hidden["contacts"][0]["contactNo"] not in payload["errors"][1]["message"]
    assert "Ajena" not in str(payload["errors"])
    assert await counts() == before


async def test_a_token_without_contacts_write_is_forbidden_and_writes_nothing(client):
    account, _ = await make_account()
    secret = await person("Lectora", Role.ADMIN, scopes=["contacts:read"])
    before = await counts()
    body = await gql(client, CREATE_MANY, {"input": {"contacts": [person_item(account.id, 0)]}},
                     token=secret)  # fmt: skip
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "contacts:write" in body["errors"][0]["message"]
    assert await counts() == before


# ---------------------------------------------------------------- concurrency


async def test_rule1_holds_under_two_concurrent_batches_at_one_location(client):
    account, main = await make_account()
    db = connections.get("default")
    if db.capabilities.dialect == "postgres":
        await db.execute_query("SELECT 1")
        assert db._pool is not None and db._pool.get_max_size() >= 2  # truly concurrent there
    for round_ in range(3):
        batches = [
            [person_item(account.id, 100 * round_ + 10 * b + n, isPreferred=n == 2)
             for n in range(5)]
            for b in range(2)
        ]  # fmt: skip
        payloads = await asyncio.gather(*(create_many(client, items) for items in batches))
        assert all(p["errors"] == [] for p in payloads), payloads
        assert await Contact.filter(location_id=main.id, is_preferred=True).count() == 1
    assert await Contact.all().count() == 30
    assert await AuditEvent.filter(resource_type="Contact").count() == 30


async def test_rule4_holds_under_concurrent_batches_with_one_email(client):
    account, _ = await make_account()
    batches = [[person_item(account.id, 10 * b), person_item(account.id, 10 * b + 1,
                                                                email="ana@andina.pe")]
               for b in range(4)]  # fmt: skip
    payloads = await asyncio.gather(*(create_many(client, items) for items in batches))
    refused = [e for p in payloads for e in p["errors"]]
    assert [(e["code"], e["field"][1:]) for e in refused] == [
        ("DUPLICATE_EMAIL", ["1", "email"])
    ] * 3
    assert await Channel.filter(normalized="ana@andina.pe").count() == 1
    assert await Contact.all().count() == 5


# ---------------------------------------------------------------- one statement plan


async def statements_of(client, request) -> int:
    with count_statements() as counter:
        payload = await request
    assert payload["errors"] == [], payload["errors"]
    return len(counter.statements)


@pytest.mark.parametrize("kind", ["create", "update"])
async def test_a_batch_costs_the_same_statements_for_1_10_and_100_items(client, kind):
    account, _ = await make_account()
    outlet = await Location.create(account_id=account.id, kind="OUTLET", name="Punto Sur")
    admin = await User.get(email="admin@crm.local")
    made: list[str] = []
    if kind == "update":
        for start in (0, 100, 200, 300):
            items = [person_item(account.id, start + n, phone=f"+51 1 4{start + n:06d}")
                     for n in range(100)]  # fmt: skip
            made += [c["id"] for c in (await create_many(client, items))["contacts"]]

    def items(size: int, start: int) -> list[dict]:
        if kind == "create":
            return [
                person_item(account.id, start + n, email=f"p{start + n}@andina.pe",
                            mobile="+51 987 654 321", documentType="DNI",
                            documentNumber=f"{start + n:08d}", ownerId=gid("User", admin.id),
                            isPreferred=n == 0, tags=["mayorista"],
                            channels=[{"kind": "WHATSAPP", "value": "+51 987 654 321"}],
                            **({"locationId": gid("Location", outlet.id)} if n % 2 else {}))
                for n in range(size)
            ]  # fmt: skip
        return [
            {"id": made[start + n], "jobTitle": f"Cargo {n}", "email": f"u{start + n}@andina.pe",
             "phone": "+51 1 499 9999", "isPreferred": n == 0,
             **({} if n % 2 else {"locationId": gid("Location", outlet.id)})}
            for n in range(size)
        ]  # fmt: skip

    send = create_many if kind == "create" else update_many
    await statements_of(client, send(client, items(1, 300)))  # the token's first use is noted
    sizes, start = {}, 0
    for size in (1, 10, 100):
        sizes[size] = await statements_of(client, send(client, items(size, start)))
        start += size
    assert sizes[1] == sizes[10] == sizes[100], sizes
