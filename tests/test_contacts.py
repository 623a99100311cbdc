"""Contacts through the API: creation, the contract's rules, search, and bad input."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest

import resolvers.channels
from models import AuditEvent, Channel, Contact, Location, Outbox
from tests.conftest import gid, gql, make_account, ok

CREATE = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) {
    contact { id contactNo fullName email phone mobile isPreferred status
              channels { id kind value isPrimary } location { id kind } }
    errors { code field message }
  }
}"""
UPDATE = """
mutation($input: UpdateContactInput!) {
  updateContact(input: $input) {
    contact { id fullName email isPreferred location { id } }
    errors { code field message }
  }
}"""


async def create(client, account_id: int, **fields) -> dict:
    data = await ok(client, CREATE, {"input": {"accountId": gid("Account", account_id), **fields}})
    return data["createContact"]


async def created(client, account_id: int, **fields) -> dict:
    payload = await create(client, account_id, **fields)
    assert payload["errors"] == [], payload["errors"]
    return payload["contact"]


async def counts() -> tuple[int, int, int]:
    return await Contact.all().count(), await Channel.all().count(), await AuditEvent.all().count()


async def test_create_contact_defaults_to_main_location_and_writes_channels_and_audit(client):
    account, main = await make_account()
    contact = await created(
        client, account.id, firstName=" José ", lastName="Pérez", email="Jose@Andina.pe",
        mobile="+51 987 654 321", channels=[{"kind": "WHATSAPP", "value": "+51 987 654 321"}],
    )  # fmt: skip
    assert contact["fullName"] == "José Pérez"
    assert contact["contactNo"].startswith("CON-")
    assert contact["location"] == {"id": gid("Location", main.id), "kind": "MAIN"}
    assert contact["email"] == "Jose@Andina.pe"
    assert {c["kind"]: c["isPrimary"] for c in contact["channels"]} == {
        "EMAIL": True, "MOBILE": True, "WHATSAPP": True,
    }  # fmt: skip
    row = await Contact.get(account_id=account.id)
    assert row.location_id == main.id
    event = await AuditEvent.get(resource_type="Contact", resource_id=row.id)
    assert event.action == "CREATED"
    assert event.changes["firstName"] == {"from": None, "to": "José"}


async def test_rule1_one_preferred_contact_per_location(client):
    account, main = await make_account()
    first = await created(client, account.id, firstName="Ana", lastName="Gómez", isPreferred=True)
    second = await created(client, account.id, firstName="Luis", lastName="Chávez")
    data = await ok(
        client,
        "mutation($id: ID!) { setPreferredContact(input: {id: $id}) "
        "{ contact { isPreferred } errors { code } } }",
        {"id": second["id"]},
    )
    assert data["setPreferredContact"]["contact"]["isPreferred"] is True
    preferred = await Contact.filter(location_id=main.id, is_preferred=True).values_list(
        "id", flat=True
    )
    assert [gid("Contact", pk) for pk in preferred] == [second["id"]]
    assert first["id"] != second["id"]


async def test_rule1_holds_under_20_concurrent_set_preferred_calls(client):
    account, main = await make_account()
    ids = [
        (await created(client, account.id, firstName=f"Persona{n}", lastName="Núñez"))["id"]
        for n in range(20)
    ]
    mutation = (
        "mutation($id: ID!) { setPreferredContact(input: {id: $id}) "
        "{ contact { id } errors { code } } }"
    )
    results = await asyncio.gather(*(gql(client, mutation, {"id": pk}) for pk in ids))
    assert all("errors" not in body for body in results), results
    preferred = await Contact.filter(location_id=main.id, is_preferred=True).count()
    assert preferred == 1


async def test_rule1_holds_when_updates_race_with_set_preferred(client):
    """An update writes only what it changes: it never writes back a stale isPreferred."""
    account, main = await make_account()
    ids = [
        (await created(client, account.id, firstName=f"Persona{n}", lastName="Rojas"))["id"]
        for n in range(10)
    ]
    prefer = "mutation($id: ID!) { setPreferredContact(input: {id: $id}) { errors { code } } }"
    await ok(client, prefer, {"id": ids[0]})
    calls = []
    for n, pk in enumerate(ids):
        calls.append(gql(client, UPDATE, {"input": {"id": pk, "jobTitle": f"Cargo {n}"}}))
        calls.append(gql(client, prefer, {"id": ids[(n + 1) % len(ids)]}))
    results = await asyncio.gather(*calls)
    assert all("errors" not in body for body in results), results
    assert await Contact.filter(location_id=main.id, is_preferred=True).count() == 1
    titles = await Contact.filter(location_id=main.id).values_list("job_title", flat=True)
    assert sorted(titles) == sorted(f"Cargo {n}" for n in range(10))


async def test_rule3_first_channel_of_a_kind_is_primary_and_removal_promotes_oldest(client):
    account, _ = await make_account()
    contact = await created(client, account.id, firstName="Rosa", lastName="Muñoz")
    add = (
        "mutation($input: AddChannelInput!) { addChannel(input: $input) "
        "{ channel { id isPrimary } contact { email } errors { code field } } }"
    )
    values = ["rosa@uno.pe", "rosa@dos.pe", "rosa@tres.pe"]
    channels = []
    for value in values:
        data = await ok(
            client, add, {"input": {"contactId": contact["id"], "kind": "EMAIL", "value": value}}
        )
        channels.append(data["addChannel"]["channel"])
    assert [c["isPrimary"] for c in channels] == [True, False, False]

    data = await ok(
        client,
        "mutation($id: ID!) { setPrimaryChannel(input: {id: $id}) { contact { email } } }",
        {"id": channels[2]["id"]},
    )
    assert data["setPrimaryChannel"]["contact"]["email"] == "rosa@tres.pe"
    assert await Channel.filter(kind="EMAIL", is_primary=True).count() == 1

    data = await ok(
        client,
        "mutation($id: ID!) { removeChannel(input: {id: $id}) { contact { email } } }",
        {"id": channels[2]["id"]},
    )
    assert data["removeChannel"]["contact"]["email"] == "rosa@uno.pe"  # the oldest left


async def test_one_channel_removed_twice_at_once_is_removed_once(client, monkeypatch):
    account, _ = await make_account()
    second = [{"kind": "EMAIL", "value": "rosa@uno.pe"}]
    contact = await created(client, account.id, firstName="Ana", lastName="Ruiz",
                            email="ana@uno.pe", channels=second)  # fmt: skip
    [primary] = [c["id"] for c in contact["channels"] if c["isPrimary"]]
    # Both removals read the channel before either takes the contact's lock, as two sent at
    # once do on PostgreSQL; SQLite runs one transaction at a time, and only this makes the
    # second one's check, under the lock, the one that must see the channel gone.
    both_read = asyncio.Barrier(2)
    real_change = resolvers.channels.change

    @asynccontextmanager
    async def change_once_both_have_read(*args, **kwargs):
        await asyncio.wait_for(both_read.wait(), 10)
        async with real_change(*args, **kwargs) as unit:
            yield unit

    monkeypatch.setattr(resolvers.channels, "change", change_once_both_have_read)
    before = (await AuditEvent.all().count(), await Outbox.all().count())
    remove = """mutation($id: ID!) { removeChannel(input: {id: $id}) {
      channel { id } contact { email } errors { code field } } }"""
    bodies = await asyncio.gather(*(gql(client, remove, {"id": primary}) for _ in range(2)))
    payloads = sorted((body["data"]["removeChannel"] for body in bodies),
                      key=lambda payload: bool(payload["errors"]))  # fmt: skip
    assert payloads == [
        {"channel": {"id": primary}, "contact": {"email": "rosa@uno.pe"}, "errors": []},
        {"channel": None, "contact": None, "errors": [{"code": "NOT_FOUND", "field": ["id"]}]},
    ]
    assert (await AuditEvent.all().count(), await Outbox.all().count()) == (
        before[0] + 1, before[1] + 1,
    )  # fmt: skip
    left = await Channel.filter(contact_id=_pk(contact["id"])).values_list("value", "is_primary")
    assert left == [("rosa@uno.pe", True)]


async def test_rule4_duplicate_email_in_any_case_names_the_existing_contact(client):
    account, _ = await make_account()
    existing = await created(client, account.id, firstName="Ana", lastName="Ruiz",
                             email="ana@andina.pe")  # fmt: skip
    before = await counts()
    payload = await create(client, account.id, firstName="Otra", lastName="Ana",
                           email="ANA@Andina.PE")  # fmt: skip
    assert payload["contact"] is None
    [error] = payload["errors"]
    assert error["code"] == "DUPLICATE_EMAIL"
    assert error["field"] == ["email"]
    assert existing["contactNo"] in error["message"]
    assert existing["id"] in error["message"]
    assert await counts() == before


async def test_rule4_duplicate_document_pair(client):
    account, _ = await make_account()
    doc = {"documentType": "DNI", "documentNumber": "45678912"}
    await created(client, account.id, firstName="Ana", lastName="Ruiz", **doc)
    before = await counts()
    payload = await create(client, account.id, firstName="Eva", lastName="Ruiz", **doc)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("DUPLICATE_DOCUMENT", ["documentNumber"])
    ]
    assert await counts() == before
    # Same number under another document type is another document.
    await created(client, account.id, firstName="Eva", lastName="Ruiz",
                  documentType="CE", documentNumber="45678912")  # fmt: skip


async def test_rule4_email_is_free_after_deactivation_and_blocks_reactivation(client):
    account, _ = await make_account()
    old = await created(client, account.id, firstName="Ana", lastName="Ruiz", email="a@b.pe")
    deactivate = "mutation($id: ID!) { deactivateContact(input: {id: $id}) { contact { status } } }"
    await ok(client, deactivate, {"id": old["id"]})
    await created(client, account.id, firstName="Eva", lastName="Ruiz", email="A@B.pe")
    data = await ok(
        client,
        "mutation($id: ID!) { activateContact(input: {id: $id}) "
        "{ contact { status } errors { code } } }",
        {"id": old["id"]},
    )
    assert data["activateContact"]["errors"] == [{"code": "DUPLICATE_EMAIL"}]
    assert (await Contact.get(id=int(_pk(old["id"])))).status == "INACTIVE"


def _pk(global_id: str) -> int:
    from resolvers.ids import decode_id

    return decode_id(global_id)[1]


async def test_rule5_deactivation_hides_but_keeps_the_contact(client):
    account, _main = await make_account()
    contact = await created(client, account.id, firstName="Ana", lastName="Ruiz",
                            isPreferred=True)  # fmt: skip
    await created(client, account.id, firstName="Eva", lastName="Soto")
    await ok(
        client,
        "mutation($id: ID!) { deactivateContact(input: {id: $id}) { contact { id } } }",
        {"id": contact["id"]},
    )
    names = "{ contacts%s { totalCount nodes { firstName } } }"
    assert (await ok(client, names % ""))["contacts"]["totalCount"] == 1
    inactive = await ok(client, names % "(filter: {status: INACTIVE})")
    assert [n["firstName"] for n in inactive["contacts"]["nodes"]] == ["Ana"]
    everyone = await ok(client, names % "(filter: {includeInactive: true})")
    assert everyone["contacts"]["totalCount"] == 2
    node = await ok(client, "query($id: ID!) { node(id: $id) { ... on Contact { status } } }",
                    {"id": contact["id"]})  # fmt: skip
    assert node["node"]["status"] == "INACTIVE"
    row = await Contact.get(id=_pk(contact["id"]))
    assert row.is_preferred is False  # an inactive contact is nobody's default
    assert await AuditEvent.filter(resource_id=row.id, action="DEACTIVATED").count() == 1


async def test_deactivating_the_preferred_contact_leaves_the_location_without_one(client):
    account, main = await make_account()
    ana = await created(client, account.id, firstName="Ana", lastName="Ruiz", isPreferred=True)
    eva = await created(client, account.id, firstName="Eva", lastName="Soto")
    body = await ok(
        client,
        "mutation($id: ID!) { deactivateContact(input: {id: $id}) {"
        " contact { status isPreferred location { preferredContact { id } } } errors { code } } }",
        {"id": ana["id"]},
    )
    contact = body["deactivateContact"]["contact"]
    assert contact == {"status": "INACTIVE", "isPreferred": False,
                       "location": {"preferredContact": None}}  # fmt: skip
    # Nobody is promoted in Ana's place; the flag is gone from every row of the location.
    assert await Contact.filter(location_id=main.id, is_preferred=True).count() == 0
    event = await AuditEvent.get(resource_id=_pk(ana["id"]), action="DEACTIVATED")
    assert event.changes["isPreferred"] == {"from": True, "to": False}
    # Reactivating does not bring the flag back; making someone preferred does.
    await ok(client, "mutation($id: ID!) { activateContact(input: {id: $id}) { contact { id } } }",
             {"id": ana["id"]})  # fmt: skip
    assert (await Contact.get(id=_pk(ana["id"]))).is_preferred is False
    prefer = "mutation($id: ID!) { setPreferredContact(input: {id: $id}) { contact { id } } }"
    await ok(client, prefer, {"id": eva["id"]})
    assert await Contact.filter(location_id=main.id, is_preferred=True).count() == 1


async def test_deactivating_a_contact_that_is_not_preferred_audits_no_preferred_change(client):
    account, _ = await make_account()
    await created(client, account.id, firstName="Ana", lastName="Ruiz", isPreferred=True)
    eva = await created(client, account.id, firstName="Eva", lastName="Soto")
    deactivate = "mutation($id: ID!) { deactivateContact(input: {id: $id}) { contact { id } } }"
    await ok(client, deactivate, {"id": eva["id"]})
    event = await AuditEvent.get(resource_id=_pk(eva["id"]), action="DEACTIVATED")
    assert "isPreferred" not in event.changes
    assert await Contact.filter(first_name="Ana", is_preferred=True).count() == 1


async def test_rule7_contact_cannot_be_put_in_a_location_of_another_account(client):
    account, _ = await make_account()
    _, foreign = await make_account("Farmacias del Pacífico")
    before = await counts()
    payload = await create(client, account.id, firstName="Ana", lastName="Ruiz",
                           locationId=gid("Location", foreign.id))  # fmt: skip
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("LOCATION_MISMATCH", ["locationId"])
    ]
    assert await counts() == before


async def test_moving_a_contact_to_an_outlet_keeps_one_contact(client):
    account, _ = await make_account()
    outlet = await Location.create(account_id=account.id, kind="OUTLET", name="Punto Miraflores")
    contact = await created(client, account.id, firstName="Ana", lastName="Ruiz")
    move = {"id": contact["id"], "locationId": gid("Location", outlet.id)}
    data = await ok(client, UPDATE, {"input": move})
    assert data["updateContact"]["contact"]["location"]["id"] == gid("Location", outlet.id)
    assert await Contact.all().count() == 1


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"firstName": ""}, "BLANK", ["firstName"]),
        ({"lastName": "   "}, "BLANK", ["lastName"]),
        ({"email": "not-an-email"}, "INVALID_EMAIL", ["email"]),
        ({"mobile": "+51 98A 654 321"}, "INVALID_PHONE", ["mobile"]),
        ({"firstName": "x" * 101}, "TOO_LONG", ["firstName"]),
        ({"birthday": "2999-01-01"}, "INVALID_DATE", ["birthday"]),
        ({"imageUrl": "javascript:alert(1)"}, "INVALID_FORMAT", ["imageUrl"]),
        ({"ownerId": "bm9wZTox"}, "INVALID_ID", ["ownerId"]),
        ({"channels": [{"kind": "EMAIL", "value": "x@"}]}, "INVALID_EMAIL",
         ["channels", "0", "value"]),
        ({"documentNumber": "123"}, "REQUIRED", ["documentType"]),
    ],
)  # fmt: skip
async def test_bad_contact_input_is_refused_and_nothing_written(client, fields, code, field):
    account, _ = await make_account()
    before = await counts()
    payload = await create(client, account.id, **{"firstName": "Ana", "lastName": "Ruiz",
                                                  **fields})  # fmt: skip
    assert payload["contact"] is None
    assert (code, field) in [(e["code"], e["field"]) for e in payload["errors"]]
    assert all(e["message"] for e in payload["errors"])
    assert await counts() == before


@pytest.mark.parametrize(
    ("account_id", "code"),
    [
        ("not base64 at all!", "INVALID_ID"),
        (None, "NOT_FOUND"),  # well-formed Account id that does not exist
        ("contact", "INVALID_ID"),  # a Contact id where an Account id is expected
    ],
)
async def test_bad_account_id_is_refused(client, account_id, code):
    account, _ = await make_account()
    other = await created(client, account.id, firstName="Ana", lastName="Ruiz")
    value = {None: gid("Account", 99999), "contact": other["id"]}.get(account_id, account_id)
    before = await counts()
    body = await gql(client, CREATE, {"input": {"accountId": value, "firstName": "A",
                                                "lastName": "B"}})  # fmt: skip
    errors = body["data"]["createContact"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [(code, ["accountId"])]
    assert await counts() == before


async def test_invalid_enum_unknown_field_and_malformed_json_are_coded_errors(client):
    account, _ = await make_account()
    before = await counts()
    body = await gql(client, CREATE, {"input": {"accountId": gid("Account", account.id),
                                                "firstName": "A", "lastName": "B",
                                                "role": "CEO"}})  # fmt: skip
    assert body["errors"][0]["extensions"]["code"] in ("BAD_USER_INPUT",
                                                       "GRAPHQL_VALIDATION_FAILED")  # fmt: skip
    body = await gql(client, "{ contacts { nodes { shoeSize } } }")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "shoeSize" in body["errors"][0]["message"]
    response = await client.post(
        "/graphql", content=b'{"query": "{ viewer { id } ', headers={
            "Authorization": "Bearer test-admin-token", "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Traceback" not in response.text
    assert await counts() == before


async def test_updating_with_blank_name_or_future_birthday_changes_nothing(client):
    account, _ = await make_account()
    contact = await created(client, account.id, firstName="Ana", lastName="Ruiz")
    before = await counts()
    data = await ok(client, UPDATE, {"input": {"id": contact["id"], "firstName": " ",
                                               "birthday": "2999-05-05"}})  # fmt: skip
    codes = {e["code"] for e in data["updateContact"]["errors"]}
    assert codes == {"BLANK", "INVALID_DATE"}
    row = await Contact.get(id=_pk(contact["id"]))
    assert row.first_name == "Ana" and row.birthday is None
    assert await counts() == before


async def test_search_is_accent_and_case_insensitive_over_names_numbers_and_documents(client):
    account, _ = await make_account()
    jose = await created(client, account.id, firstName="José", lastName="Pérez",
                         mobile="+51 987 654 321", documentType="DNI",
                         documentNumber="45678912")  # fmt: skip
    await created(client, account.id, firstName="Ángela", lastName="Núñez",
                  email="angela@andina.pe")  # fmt: skip
    await created(client, account.id, firstName="Luis", lastName="Ramírez")

    async def found(text: str) -> list[str]:
        query = "query($s: String) { contacts(search: $s) { nodes { firstName } } }"
        data = await ok(client, query, {"s": text})
        return sorted(n["firstName"] for n in data["contacts"]["nodes"])

    assert await found("jose perez") == ["José"]
    assert await found("JOSÉ") == ["José"]
    assert await found("nunez") == ["Ángela"]
    assert await found("ANGELA@ANDINA") == ["Ángela"]
    assert await found("987654321") == ["José"]
    assert await found("987 654") == ["José"]
    assert await found("45678912") == ["José"]
    assert await found(jose["contactNo"]) == ["José"]
    assert await found("ramirez luis") == ["Luis"]
    assert await found("nadie") == []


async def test_rule4_holds_under_concurrent_creates_with_one_email(client):
    account, _ = await make_account()
    payloads = await asyncio.gather(*(
        create(client, account.id, firstName=f"Ana{n}", lastName="Ruiz", email="ana@andina.pe")
        for n in range(10)
    ))  # fmt: skip
    winners = [p for p in payloads if p["contact"] is not None]
    assert len(winners) == 1
    assert {e["code"] for p in payloads if not p["contact"] for e in p["errors"]} == {
        "DUPLICATE_EMAIL"
    }
    assert await Contact.all().count() == 1
    assert await AuditEvent.filter(resource_type="Contact").count() == 1


async def test_update_email_null_removes_the_primary_and_promotes_the_next(client):
    account, _ = await make_account()
    contact = await created(client, account.id, firstName="Ana", lastName="Ruiz",
                            channels=[{"kind": "EMAIL", "value": "uno@a.pe"},
                                      {"kind": "EMAIL", "value": "dos@a.pe"}])  # fmt: skip
    assert (await Channel.get(value="uno@a.pe")).is_primary
    data = await ok(client, UPDATE, {"input": {"id": contact["id"], "email": None}})
    assert data["updateContact"]["contact"]["email"] == "dos@a.pe"
    assert await Channel.filter(contact_id=_pk(contact["id"])).count() == 1


async def test_contacts_filter_by_tag_matches_whole_tags_only(client):
    account, _ = await make_account()
    await created(client, account.id, firstName="Ana", lastName="Ruiz", tags=["mayorista"])
    await created(client, account.id, firstName="Luis", lastName="Soto", tags=["mayorista-sur"])
    query = "query($t: String) { contacts(filter: {tag: $t}) { nodes { firstName } } }"
    data = await ok(client, query, {"t": "mayorista"})
    assert [n["firstName"] for n in data["contacts"]["nodes"]] == ["Ana"]
