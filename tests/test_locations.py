"""Locations through the API: creating, changing and deleting an account's sites."""

from __future__ import annotations

import pytest

from models import Account, Activity, AuditEvent, Contact, Location
from tests.conftest import gid, make_account, ok

CREATE = """
mutation($input: CreateLocationInput!) {
  createLocation(input: $input) {
    location { id kind name city country postalCode isDefault account { id } contact { id } }
    errors { code field message }
  }
}"""
UPDATE = """
mutation($input: UpdateLocationInput!) {
  updateLocation(input: $input) {
    location { id kind name city country }
    errors { code field message }
  }
}"""
DELETE = """
mutation($input: DeleteLocationInput!) {
  deleteLocation(input: $input) {
    location { id kind name }
    errors { code field message }
  }
}"""
CREATE_CONTACT = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } errors { code field } }
}"""
LOCATIONS = """
query($filter: LocationFilter, $orderBy: [LocationOrder!], $search: String, $first: Int,
      $after: String) {
  locations(filter: $filter, orderBy: $orderBy, search: $search, first: $first, after: $after) {
    nodes { id name }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}"""


async def create(client, account: Account, **fields) -> dict:
    variables = {"input": {"accountId": gid("Account", account.id), **fields}}
    return (await ok(client, CREATE, variables))["createLocation"]


async def created(client, account: Account, **fields) -> dict:
    payload = await create(client, account, **{"kind": "OUTLET", **fields})
    assert payload["errors"] == [], payload["errors"]
    return payload["location"]


async def contact_at(client, account: Account, location_id: str, first_name: str = "Ana") -> str:
    variables = {
        "input": {
            "accountId": gid("Account", account.id), "locationId": location_id,
            "firstName": first_name, "lastName": "Gómez",
        }
    }  # fmt: skip
    payload = (await ok(client, CREATE_CONTACT, variables))["createContact"]
    assert payload["errors"] == [], payload["errors"]
    return payload["contact"]["id"]


async def counts() -> tuple[int, int]:
    return await Location.all().count(), await AuditEvent.all().count()


async def names(client, **variables) -> list[str]:
    data = await ok(client, LOCATIONS, variables)
    return [node["name"] for node in data["locations"]["nodes"]]


def pk(global_id: str) -> int:
    from resolvers.ids import decode_id

    return decode_id(global_id)[1]


async def test_create_location_adds_a_site_and_audits_it(client):
    account, _ = await make_account()
    location = await created(
        client, account, name=" Punto de venta  Miraflores ", city="Lima", country="pe",
        postalCode="15074", reference="frente al parque",
    )  # fmt: skip
    assert location["name"] == "Punto de venta Miraflores"
    assert location["country"] == "PE"
    assert location["account"] == {"id": gid("Account", account.id)}
    row = await Location.get(id=pk(location["id"]))
    assert (row.kind, row.city, row.contact_id) == ("OUTLET", "Lima", None)
    assert "frente al parque" in row.search_text
    event = await AuditEvent.get(resource_type="Location", resource_id=row.id)
    assert event.action == "CREATED"
    assert event.changes["city"] == {"from": None, "to": "Lima"}


async def test_create_location_for_a_contact_sets_the_contact(client):
    account, main = await make_account()
    contact = await contact_at(client, account, gid("Location", main.id))
    location = await created(client, account, kind="HOME", name="Casa", contactId=contact)
    assert location["contact"] == {"id": contact}
    assert (await Location.get(id=pk(location["id"]))).contact_id == pk(contact)


async def test_is_default_leaves_one_default_per_kind(client):
    account, _ = await make_account()
    first = await created(client, account, kind="WAREHOUSE", name="Almacén 1", isDefault=True)
    second = await created(client, account, kind="WAREHOUSE", name="Almacén 2", isDefault=True)
    defaults = await Location.filter(account_id=account.id, kind="WAREHOUSE", is_default=True)
    assert [gid("Location", row.id) for row in defaults] == [second["id"]]
    assert first["id"] != second["id"]


async def test_an_account_has_exactly_one_main_location(client):
    account, _ = await make_account()
    before = await counts()
    payload = await create(client, account, kind="MAIN", name="Otra sede principal")
    assert payload["location"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_KIND", ["kind"])]
    assert await counts() == before
    assert await Location.filter(account_id=account.id, kind="MAIN").count() == 1


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"name": ""}, "BLANK", ["name"]),
        ({"name": "  \n "}, "BLANK", ["name"]),
        ({"name": "x" * 201}, "TOO_LONG", ["name"]),
        ({"country": "P3"}, "INVALID_FORMAT", ["country"]),
        # validation.country answers TOO_LONG for a country name (reported to the lead).
        ({"country": "Peru"}, "TOO_LONG", ["country"]),
        ({"postalCode": "1" * 13}, "TOO_LONG", ["postalCode"]),
        ({"street": "x" * 256}, "TOO_LONG", ["street"]),
        ({"kind": "WAREHOUSE", "contactId": "contact"}, "INVALID_KIND", ["kind"]),
        ({"contactId": "bad id"}, "INVALID_ID", ["contactId"]),
        ({"contactId": gid("Account", 1)}, "INVALID_ID", ["contactId"]),
        ({"contactId": gid("Contact", 999999)}, "NOT_FOUND", ["contactId"]),
    ],
)
async def test_create_location_refuses_bad_input_and_writes_nothing(client, fields, code, field):
    account, main = await make_account()
    if fields.get("contactId") == "contact":
        fields["contactId"] = await contact_at(client, account, gid("Location", main.id))
    before = await counts()
    payload = await create(client, account, **{"kind": "HOME", "name": "Casa", **fields})
    assert payload["location"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await counts() == before


@pytest.mark.parametrize(
    ("account_id", "code"),
    [
        ("%%%", "INVALID_ID"),
        (gid("Contact", 1), "INVALID_ID"),
        (gid("Location", 1), "INVALID_ID"),
        (gid("Account", 999999), "NOT_FOUND"),
    ],
)
async def test_create_location_refuses_unknown_malformed_or_wrong_type_account_id(
    client, account_id, code
):
    before = await counts()
    variables = {"input": {"accountId": account_id, "kind": "OUTLET", "name": "Tienda"}}
    payload = (await ok(client, CREATE, variables))["createLocation"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, ["accountId"])]
    assert await counts() == before


async def test_contact_address_needs_a_contact_of_the_same_account(client):
    account, _ = await make_account("Andina")
    other, other_main = await make_account("Pacífico")
    stranger = await contact_at(client, other, gid("Location", other_main.id))
    before = await counts()
    payload = await create(client, account, kind="SHIPPING", name="Envío", contactId=stranger)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("CONTACT_MISMATCH", ["contactId"])
    ]
    assert await counts() == before


async def test_update_location_changes_sent_fields_and_audits_a_diff(client):
    account, _ = await make_account()
    location = await created(client, account, name="Tienda", city="Lima", street="Jr. Unión")
    before = await counts()
    variables = {"input": {"id": location["id"], "city": "Arequipa", "kind": "BRANCH"}}
    payload = (await ok(client, UPDATE, variables))["updateLocation"]
    assert payload["errors"] == []
    assert payload["location"]["kind"] == "BRANCH"
    row = await Location.get(id=pk(location["id"]))
    assert (row.kind, row.city, row.street, row.name) == (
        "BRANCH",
        "Arequipa",
        "Jr. Unión",
        "Tienda",
    )
    assert "arequipa" in row.search_text
    event = await AuditEvent.get(action="UPDATED", resource_type="Location", resource_id=row.id)
    assert event.changes == {
        "city": {"from": "Lima", "to": "Arequipa"},
        "kind": {"from": "OUTLET", "to": "BRANCH"},
    }
    assert await counts() == (before[0], before[1] + 1)


@pytest.mark.parametrize("target", ["main_to_outlet", "outlet_to_main"])
async def test_kind_cannot_change_to_or_from_main(client, target):
    account, main = await make_account()
    outlet = await created(client, account, name="Tienda")
    location_id = gid("Location", main.id) if target == "main_to_outlet" else outlet["id"]
    kind = "OUTLET" if target == "main_to_outlet" else "MAIN"
    before = await counts()
    variables = {"input": {"id": location_id, "kind": kind}}
    payload = (await ok(client, UPDATE, variables))["updateLocation"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("MAIN_LOCATION", ["kind"])]
    assert await counts() == before
    assert await Location.filter(account_id=account.id, kind="MAIN").count() == 1
    assert (await Location.get(id=pk(outlet["id"]))).kind == "OUTLET"


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"name": None}, "REQUIRED", ["name"]),
        ({"name": " "}, "BLANK", ["name"]),
        ({"country": "Perú"}, "TOO_LONG", ["country"]),
        ({"country": "1A"}, "INVALID_FORMAT", ["country"]),
    ],
)
async def test_update_location_refuses_bad_input_and_writes_nothing(client, fields, code, field):
    account, _ = await make_account()
    location = await created(client, account, name="Tienda", country="PE")
    before = await counts()
    payload = (await ok(client, UPDATE, {"input": {"id": location["id"], **fields}}))[
        "updateLocation"
    ]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await counts() == before
    row = await Location.get(id=pk(location["id"]))
    assert (row.name, row.country) == ("Tienda", "PE")


async def test_delete_location_removes_it_keeps_activities_and_audits(client):
    account, _ = await make_account()
    location = await created(client, account, name="Tienda Centro")
    activity = await Activity.create(
        kind="NOTE", subject="Visita", account_id=account.id, location_id=pk(location["id"])
    )
    payload = (await ok(client, DELETE, {"input": {"id": location["id"]}}))["deleteLocation"]
    assert payload["errors"] == []
    assert payload["location"] == {"id": location["id"], "kind": "OUTLET", "name": "Tienda Centro"}
    assert not await Location.exists(id=pk(location["id"]))
    activity = await Activity.get(id=activity.id)
    assert (activity.account_id, activity.location_id) == (account.id, None)
    event = await AuditEvent.get(action="DELETED", resource_type="Location")
    assert event.resource_id == pk(location["id"])
    assert event.changes["name"] == {"from": "Tienda Centro", "to": None}


async def test_the_main_location_cannot_be_deleted(client):
    _, main = await make_account()
    before = await counts()
    payload = (await ok(client, DELETE, {"input": {"id": gid("Location", main.id)}}))[
        "deleteLocation"
    ]
    assert payload["location"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("MAIN_LOCATION", ["id"])]
    assert await counts() == before


@pytest.mark.parametrize("deactivated", [False, True])
async def test_a_location_with_contacts_cannot_be_deleted(client, deactivated):
    account, _ = await make_account()
    location = await created(client, account, name="Tienda")
    await contact_at(client, account, location["id"], "Ana")
    await contact_at(client, account, location["id"], "Luis")
    if deactivated:
        await Contact.filter(location_id=pk(location["id"])).update(status="INACTIVE")
    before = await counts()
    payload = (await ok(client, DELETE, {"input": {"id": location["id"]}}))["deleteLocation"]
    assert payload["location"] is None
    [error] = payload["errors"]
    assert (error["code"], error["field"]) == ("LOCATION_IN_USE", ["id"])
    assert "2 contacts" in error["message"]
    assert await counts() == before
    assert await Contact.filter(location_id=pk(location["id"])).count() == 2


@pytest.mark.parametrize(
    ("location_id", "code"),
    [("???", "INVALID_ID"), (gid("Account", 1), "INVALID_ID"), (gid("Location", 999), "NOT_FOUND")],
)
async def test_delete_location_refuses_unknown_malformed_or_wrong_type_id(
    client, location_id, code
):
    await make_account()
    before = await counts()
    payload = (await ok(client, DELETE, {"input": {"id": location_id}}))["deleteLocation"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, ["id"])]
    assert await counts() == before


# ---------------------------------------------------------------- the root list


async def test_locations_filter_by_account_kind_country_city_and_state(client):
    andina, _ = await make_account("Andina")
    pacifico, _ = await make_account("Pacífico")
    await created(client, andina, name="Lima Centro", city="Lima", state="Lima", country="PE")
    await created(client, andina, kind="WAREHOUSE", name="Almacén", city="Callao", country="PE")
    await created(client, pacifico, name="CDMX", city="Ciudad de México", country="MX")
    assert await names(client, filter={"accountId": gid("Account", pacifico.id)}) == [
        "CDMX", "Pacífico",
    ]  # fmt: skip
    assert await names(client, filter={"kind": "WAREHOUSE"}) == ["Almacén"]
    assert await names(client, filter={"country": "MX"}) == ["CDMX"]
    assert await names(client, filter={"city": "Lima"}) == ["Lima Centro"]
    assert await names(client, filter={"state": "Lima"}) == ["Lima Centro"]
    assert await names(client, filter={"kind": "MAIN"}) == ["Andina", "Pacífico"]


async def test_locations_search_is_accent_insensitive_over_name_and_address(client):
    account, _ = await make_account("Andina")
    await created(client, account, name="Tienda Pacífico", street="Av. José Gálvez")
    await created(client, account, name="Tienda Norte", reference="frente al parque")
    assert await names(client, search="pacifico") == ["Tienda Pacífico"]
    assert await names(client, search="JOSE galvez") == ["Tienda Pacífico"]
    assert await names(client, search="parque") == ["Tienda Norte"]


async def test_locations_keyset_paging_by_city_gives_next_rows_without_overlap(client):
    account, _ = await make_account("Zeta")
    for name, city in (("E", "Lima"), ("A", "Cusco"), ("C", "Lima"), ("B", "Arequipa")):
        await created(client, account, name=name, city=city)
    variables = {"orderBy": [{"field": "CITY"}], "filter": {"kind": "OUTLET"}, "first": 2}
    seen: list[str] = []
    while True:
        page = (await ok(client, LOCATIONS, variables))["locations"]
        seen += [node["name"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        variables["after"] = page["pageInfo"]["endCursor"]
    assert seen == ["B", "A", "C", "E"]


async def test_locations_paging_by_city_passes_rows_without_a_city(client):
    account, _ = await make_account("Zeta")  # its MAIN location has no city
    await created(client, account, name="A", city="Lima")
    variables = {"orderBy": [{"field": "CITY"}], "first": 1}
    seen: list[str] = []
    while True:
        page = (await ok(client, LOCATIONS, variables))["locations"]
        seen += [node["name"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        variables["after"] = page["pageInfo"]["endCursor"]
    assert sorted(seen) == ["A", "Zeta"]


# ---------------------------------------------------------------- default shipping address

SHIPPING_OF = """
query($id: ID!) { node(id: $id) { ... on Contact { defaultShippingAddress { id name } } } }"""


async def shipping_of(client, contact: str) -> dict | None:
    return (await ok(client, SHIPPING_OF, {"id": contact}))["node"]["defaultShippingAddress"]


async def test_a_default_shipping_address_is_the_contacts_default_shipping_address(client):
    account, main = await make_account()
    contact = await contact_at(client, account, gid("Location", main.id))
    first = await created(client, account, kind="SHIPPING", name="Envío 1", contactId=contact,
                          isDefault=True)  # fmt: skip
    assert await shipping_of(client, contact) == {"id": first["id"], "name": "Envío 1"}
    # A new default un-defaults the old one, in the same transaction.
    second = await created(client, account, kind="SHIPPING", name="Envío 2", contactId=contact,
                           isDefault=True)  # fmt: skip
    assert await shipping_of(client, contact) == {"id": second["id"], "name": "Envío 2"}
    assert await Location.filter(contact_id=_pk(contact), is_default=True).count() == 1
    # Making the first the default again through updateLocation moves it back.
    await ok(client, UPDATE, {"input": {"id": first["id"], "isDefault": True}})
    assert (await shipping_of(client, contact))["id"] == first["id"]
    # No longer the default: the contact has none.
    await ok(client, UPDATE, {"input": {"id": first["id"], "isDefault": False}})
    assert await shipping_of(client, contact) is None
    events = await AuditEvent.filter(resource_type="Contact", action="UPDATED").order_by("id")
    moves = [e.changes["defaultShippingAddressId"] for e in events]
    ids = [_pk(first["id"]), _pk(second["id"])]
    assert moves == [{"from": None, "to": ids[0]}, {"from": ids[0], "to": ids[1]},
                     {"from": ids[1], "to": ids[0]}, {"from": ids[0], "to": None}]  # fmt: skip


async def test_a_default_home_address_is_not_the_shipping_one(client):
    account, main = await make_account()
    contact = await contact_at(client, account, gid("Location", main.id))
    await created(client, account, kind="HOME", name="Casa", contactId=contact, isDefault=True)
    assert await shipping_of(client, contact) is None


async def test_the_database_holds_one_default_address_of_a_kind_per_contact(client):
    from tortoise.exceptions import IntegrityError

    account, main = await make_account()
    contact = await contact_at(client, account, gid("Location", main.id))
    await created(client, account, kind="SHIPPING", name="Envío 1", contactId=contact,
                  isDefault=True)  # fmt: skip
    with pytest.raises(IntegrityError):  # a write that skips the rule's function
        await Location.create(account_id=account.id, contact_id=_pk(contact), kind="SHIPPING",
                              name="Envío 2", is_default=True)  # fmt: skip
    assert await Location.filter(contact_id=_pk(contact)).count() == 1


async def test_one_default_shipping_address_under_10_concurrent_creates_and_updates(client):
    import asyncio

    from tests.conftest import gql

    account, main = await make_account()
    contact = await contact_at(client, account, gid("Location", main.id))
    addresses = [
        await created(client, account, kind="SHIPPING", name=f"Envío {n}", contactId=contact)
        for n in range(5)
    ]
    calls = [
        gql(client, CREATE, {"input": {"accountId": gid("Account", account.id),
                                       "kind": "SHIPPING", "name": f"Nuevo {n}",
                                       "contactId": contact, "isDefault": True}})
        for n in range(5)
    ] + [gql(client, UPDATE, {"input": {"id": a["id"], "isDefault": True}}) for a in addresses]
    results = await asyncio.gather(*calls)
    assert all("errors" not in body for body in results), results
    for body in results:
        payload = body["data"].get("createLocation") or body["data"]["updateLocation"]
        assert payload["errors"] == [], payload
    defaults = await Location.filter(contact_id=_pk(contact), is_default=True)
    assert len(defaults) == 1
    row = await Contact.get(id=_pk(contact))
    assert row.default_shipping_address_id == defaults[0].id


def _pk(global_id: str) -> int:
    from resolvers.ids import decode_id

    return decode_id(global_id)[1]
