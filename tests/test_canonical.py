"""Canonical data, one write path: every write refuses the values the checks refuse, with the
code and the input path, writing nothing; and stores the canonical forms that search and the
duplicate checks compare (docs/canonical-data.md)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from models import Account, AuditEvent, Channel, Contact, Location, Outbox, User
from server import build_app
from settings import Settings
from tests.conftest import ADMIN_TOKEN, gid, make_account, ok

CONTACT = "contact { id documentType documentNumber channels { kind value e164 display } }"
CREATE_CONTACT = f"""mutation($input: CreateContactInput!) {{
  createContact(input: $input) {{ {CONTACT} errors {{ code field message }} }} }}"""
UPDATE_CONTACT = f"""mutation($input: UpdateContactInput!) {{
  updateContact(input: $input) {{ {CONTACT} errors {{ code field message }} }} }}"""
ADD_CHANNEL = """mutation($input: AddChannelInput!) {
  addChannel(input: $input) { channel { id value e164 display } errors { code field message } } }"""
UPDATE_CHANNEL = """mutation($input: UpdateChannelInput!) {
  updateChannel(input: $input) { channel { value e164 } errors { code field message } } }"""
CREATE_ACCOUNT = """mutation($input: CreateAccountInput!) {
  createAccount(input: $input) { account { id taxId } errors { code field message } } }"""
UPDATE_ACCOUNT = """mutation($input: UpdateAccountInput!) {
  updateAccount(input: $input) { account { taxId } errors { code field message } } }"""
CREATE_LOCATION = """mutation($input: CreateLocationInput!) {
  createLocation(input: $input) { location { id country } errors { code field message } } }"""
UPDATE_LOCATION = """mutation($input: UpdateLocationInput!) {
  updateLocation(input: $input) { location { country } errors { code field message } } }"""
CREATE_USER = """mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id } errors { code field message } } }"""
SEARCH = """query($search: String) { contacts(search: $search) { nodes { id } } }"""


async def written() -> dict[str, int]:
    """Rows of every table a refused write could have touched."""
    tables = (Account, Location, Contact, Channel, User, AuditEvent, Outbox)
    return {table.__name__: await table.all().count() for table in tables}


async def refused(client, mutation: str, name: str, input: dict, code: str, field: list[str]):
    """Send ``input``; it must come back refused with ``code`` on ``field``, nothing written."""
    before = await written()
    data = await ok(client, mutation, {"input": input})
    payload = data[name]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], payload
    assert await written() == before
    return payload["errors"][0]["message"]


async def contact_in(client, account: Account, **fields: Any) -> dict:
    variables = {"input": {"accountId": gid("Account", account.id), "firstName": "Zoila",
                           "lastName": "Segundo", **fields}}  # fmt: skip
    payload = (await ok(client, CREATE_CONTACT, variables))["createContact"]
    assert payload["errors"] == [], payload["errors"]
    return payload["contact"]


async def mexican_account() -> tuple[Account, Location]:
    account, main = await make_account("Abarrotes Tapatíos")
    main.country = "MX"
    await main.save()
    return account, main


# ---------------------------------------------------------------- the bad input

DOCUMENTS = [
    ("RUC", "20123456788", "check digit"),  # a bad check digit
    ("RUC", "12345678901", "RUC"),  # no RUC starts with 12
    ("DNI", "12ab", "8 digits"),
    ("RFC", "GODE561231GR9", "check digit"),  # GODE561231GR8 is valid
    ("CURP", "BOXW310820HNERXN08", "check digit"),  # BOXW310820HNERXN09 is valid
    ("CURP", "BOXW311320HNERXN09", "CURP"),  # month 13
]


@pytest.mark.parametrize(("kind", "number", "said"), DOCUMENTS)
async def test_a_document_that_is_not_valid_for_its_type_is_refused(client, kind, number, said):
    account, _ = await make_account()
    message = await refused(
        client, CREATE_CONTACT, "createContact",
        {"accountId": gid("Account", account.id), "firstName": "Ana", "lastName": "Ruiz",
         "documentType": kind, "documentNumber": number},
        "INVALID_DOCUMENT", ["documentNumber"],
    )  # fmt: skip
    assert number in message and kind in message and said in message


async def test_a_new_document_type_checks_the_number_already_stored(client):
    account, _ = await make_account()
    contact = await contact_in(client, account, documentType="DNI", documentNumber="45678912")
    await refused(client, UPDATE_CONTACT, "updateContact",
                  {"id": contact["id"], "documentType": "RUC"},
                  "INVALID_DOCUMENT", ["documentNumber"])  # fmt: skip
    assert (await Contact.get(id=int(await _pk(contact)))).document_type == "DNI"


async def _pk(contact: dict) -> int:
    from resolvers.ids import decode_id

    return decode_id(contact["id"])[1]


@pytest.mark.parametrize(
    ("field", "value"),
    [("mobile", "+51 000000"), ("phone", "+51 000000"), ("homePhone", "+51 000000"),
     ("mobile", "999 888"), ("mobile", "+99 123 456 789")],
)  # fmt: skip
async def test_a_number_that_is_not_valid_is_refused_naming_the_region(client, field, value):
    account, _ = await make_account()
    message = await refused(
        client, CREATE_CONTACT, "createContact",
        {"accountId": gid("Account", account.id), "firstName": "Ana", "lastName": "Ruiz",
         field: value},
        "INVALID_PHONE", [field],
    )  # fmt: skip
    assert "region" in message and value in message


async def test_a_phone_of_the_wrong_region_is_refused_with_the_region_it_was_read_in(client):
    peruvian, _ = await make_account()
    mexican, _ = await mexican_account()
    # A Mexico City number typed the national way, at a Peruvian contact (the default, PE):
    message = await refused(
        client, CREATE_CONTACT, "createContact",
        {"accountId": gid("Account", peruvian.id), "firstName": "Ana", "lastName": "Ruiz",
         "channels": [{"kind": "WHATSAPP", "value": "55 1234 5678"}]},
        "INVALID_PHONE", ["channels", "0", "value"],
    )  # fmt: skip
    assert "region PE" in message
    # A Peruvian mobile typed the national way, at a Mexican contact:
    message = await refused(
        client, CREATE_CONTACT, "createContact",
        {"accountId": gid("Account", mexican.id), "firstName": "Ana", "lastName": "Ruiz",
         "mobile": "999 888 777"},
        "INVALID_PHONE", ["mobile"],
    )  # fmt: skip
    assert "region MX" in message
    # Each is a number of its own country.
    assert (await contact_in(client, mexican, mobile="55 1234 5678"))["channels"][0]["e164"] == (
        "+525512345678"
    )


@pytest.mark.parametrize(
    ("value", "said"),
    [("zoila@@example.pe", "@"), ("zoila.segundo@", "after the @"), ("zoila@example", "period"),
     ("zoila segundo@example.pe", "invalid characters")],
)  # fmt: skip
async def test_an_invalid_email_is_refused_saying_what_is_wrong(client, value, said):
    account, _ = await make_account()
    message = await refused(
        client, CREATE_CONTACT, "createContact",
        {"accountId": gid("Account", account.id), "firstName": "Ana", "lastName": "Ruiz",
         "email": value},
        "INVALID_EMAIL", ["email"],
    )  # fmt: skip
    assert value in message and said in message


async def test_country_zz_is_refused_by_every_address(client):
    account, main = await make_account()
    await refused(client, CREATE_LOCATION, "createLocation",
                  {"accountId": gid("Account", account.id), "kind": "OUTLET", "name": "Tienda",
                   "country": "ZZ"}, "INVALID_FORMAT", ["country"])  # fmt: skip
    await refused(client, UPDATE_LOCATION, "updateLocation",
                  {"id": gid("Location", main.id), "country": "ZZ"},
                  "INVALID_FORMAT", ["country"])  # fmt: skip
    message = await refused(client, CREATE_ACCOUNT, "createAccount",
                            {"name": "Bodega Sur", "mainLocation": {"country": "ZZ"}},
                            "INVALID_FORMAT", ["mainLocation", "country"])  # fmt: skip
    assert "'ZZ' is not a country" in message


async def test_an_accounts_tax_id_is_checked_by_its_country(client):
    await refused(client, CREATE_ACCOUNT, "createAccount",
                  {"name": "Bodega Sur", "taxId": "20123456788"},  # PE: the default region
                  "INVALID_DOCUMENT", ["taxId"])  # fmt: skip
    await refused(client, CREATE_ACCOUNT, "createAccount",
                  {"name": "Bodega Sur", "taxId": "20100070970",
                   "mainLocation": {"country": "MX"}},
                  "INVALID_DOCUMENT", ["taxId"])  # fmt: skip
    mexican = (await ok(client, CREATE_ACCOUNT, {"input": {
        "name": "Abarrotes Sur", "taxId": "gode 561231 gr8", "mainLocation": {"country": "MX"},
    }}))["createAccount"]  # fmt: skip
    assert mexican["account"]["taxId"] == "GODE561231GR8"  # compact
    chilean = (await ok(client, CREATE_ACCOUNT, {"input": {
        "name": "Almacén Sur", "taxId": "76.086.428-5", "mainLocation": {"country": "CL"},
    }}))["createAccount"]  # fmt: skip
    assert chilean["account"]["taxId"] == "76.086.428-5"  # elsewhere: text as given
    await refused(client, UPDATE_ACCOUNT, "updateAccount",
                  {"id": mexican["account"]["id"], "taxId": "20100070970"},
                  "INVALID_DOCUMENT", ["taxId"])  # fmt: skip
    await refused(client, UPDATE_ACCOUNT, "updateAccount",
                  {"id": mexican["account"]["id"], "phone": "999 888 777"},
                  "INVALID_PHONE", ["phone"])  # fmt: skip
    await refused(client, UPDATE_ACCOUNT, "updateAccount",
                  {"id": mexican["account"]["id"], "email": "ventas@"},
                  "INVALID_EMAIL", ["email"])  # fmt: skip


async def test_every_channel_write_runs_the_same_checks(client):
    account, _ = await make_account()
    contact = await contact_in(client, account, mobile="+51 999 888 777")
    contact_id = contact["id"]
    await refused(client, ADD_CHANNEL, "addChannel",
                  {"contactId": contact_id, "kind": "SMS", "value": "+51 000000"},
                  "INVALID_PHONE", ["value"])  # fmt: skip
    await refused(client, ADD_CHANNEL, "addChannel",
                  {"contactId": contact_id, "kind": "EMAIL", "value": "zoila@"},
                  "INVALID_EMAIL", ["value"])  # fmt: skip
    [mobile] = await Channel.filter(kind="MOBILE")
    await refused(client, UPDATE_CHANNEL, "updateChannel",
                  {"id": gid("Channel", mobile.id), "value": "55 1234 5678"},
                  "INVALID_PHONE", ["value"])  # fmt: skip
    await refused(client, UPDATE_CONTACT, "updateContact",
                  {"id": contact_id, "mobile": "+51 000000"}, "INVALID_PHONE", ["mobile"])
    await refused(client, UPDATE_CONTACT, "updateContact",
                  {"id": contact_id, "channels": [{"kind": "PHONE", "value": "12"}]},
                  "INVALID_PHONE", ["channels", "0", "value"])  # fmt: skip
    assert (await Channel.get(id=mobile.id)).e164 == "+51999888777"


async def test_create_user_checks_the_email(client):
    await refused(client, CREATE_USER, "createUser",
                  {"name": "Rosa Quispe", "email": "rosa@empresa", "role": "AGENT"},
                  "INVALID_EMAIL", ["email"])  # fmt: skip


# ---------------------------------------------------------------- the canonical forms


async def test_a_number_keeps_its_typing_and_gains_e164_and_its_national_display(client):
    account, _ = await make_account()
    contact = await contact_in(client, account, mobile="999888777",
                               channels=[{"kind": "PHONE", "value": "(01) 555-1234"}])
    channels = {c["kind"]: c for c in contact["channels"]}
    assert channels["MOBILE"] == {"kind": "MOBILE", "value": "999888777",
                                  "e164": "+51999888777", "display": "999 888 777"}
    assert channels["PHONE"]["e164"] == "+5115551234"
    assert channels["PHONE"]["display"] == "(01) 5551234"
    row = await Channel.get(kind="MOBILE")
    assert (row.value, row.normalized, row.e164) == ("999888777", "51999888777", "+51999888777")


async def test_mexicos_old_mobile_prefix_folds_into_52(client):
    account, _ = await mexican_account()
    contact = await contact_in(client, account, mobile="+52 1 55 1234 5678",
                               channels=[{"kind": "WHATSAPP", "value": "+5215512345678"}])
    [mobile] = [c for c in contact["channels"] if c["kind"] == "MOBILE"]
    assert mobile == {"kind": "MOBILE", "value": "+52 1 55 1234 5678", "e164": "+525512345678",
                      "display": "55 1234 5678"}  # fmt: skip
    [whatsapp] = [c for c in contact["channels"] if c["kind"] == "WHATSAPP"]
    assert whatsapp["e164"] == "+525512345678"


async def test_the_region_is_the_sites_country_else_the_main_sites_else_the_default(client):
    account, _ = await mexican_account()
    outlet = await Location.create(account_id=account.id, kind="OUTLET", name="Tienda")
    peruvian = await Location.create(account_id=account.id, kind="OUTLET", name="Lima",
                                     country="PE")  # fmt: skip
    at_outlet = await contact_in(client, account, locationId=gid("Location", outlet.id),
                                 mobile="33 1234 5678")  # fmt: skip
    assert at_outlet["channels"][0]["e164"] == "+523312345678"  # the main site's MX
    in_lima = await contact_in(client, account, locationId=gid("Location", peruvian.id),
                               mobile="999 888 777")  # fmt: skip
    assert in_lima["channels"][0]["e164"] == "+51999888777"  # its own site's PE


async def test_the_default_region_is_the_servers_setting(app, client):
    account, _ = await make_account()  # no country anywhere
    mexican_server = build_app(Settings(default_region="MX"), prepare=False)
    transport = httpx.ASGITransport(app=mexican_server)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as other:
        response = await other.post(
            "/graphql",
            json={"query": CREATE_CONTACT, "variables": {"input": {
                "accountId": gid("Account", account.id), "firstName": "Ana",
                "lastName": "Ruiz", "mobile": "55 1234 5678"}}},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )  # fmt: skip
    payload = response.json()["data"]["createContact"]
    assert payload["errors"] == [] and payload["contact"]["channels"][0]["e164"] == "+525512345678"
    # The same input on this suite's server (default PE) is not a number of its region.
    await refused(client, CREATE_CONTACT, "createContact",
                  {"accountId": gid("Account", account.id), "firstName": "Eva",
                   "lastName": "Ruiz", "mobile": "55 1234 5678"},
                  "INVALID_PHONE", ["mobile"])  # fmt: skip


async def test_a_changed_country_does_not_read_the_stored_numbers_again(client):
    account, main = await make_account()
    await contact_in(client, account, mobile="999 888 777")
    data = await ok(client, UPDATE_LOCATION,
                    {"input": {"id": gid("Location", main.id), "country": "MX"}})
    assert data["updateLocation"]["errors"] == []
    assert (await Channel.get(kind="MOBILE")).e164 == "+51999888777"


async def test_documents_are_stored_in_compact_form_and_meet_in_the_duplicate_check(client):
    account, _ = await make_account()
    contact = await contact_in(client, account, documentType="RUC",
                               documentNumber="20 100070970")  # fmt: skip
    assert contact["documentNumber"] == "20100070970"
    rfc = await contact_in(client, account, documentType="RFC", documentNumber="gode-561231-gr8")
    assert rfc["documentNumber"] == "GODE561231GR8"
    dni = await contact_in(client, account, documentType="DNI", documentNumber="4567 8912")
    assert dni["documentNumber"] == "45678912"
    await refused(client, CREATE_CONTACT, "createContact",
                  {"accountId": gid("Account", account.id), "firstName": "Eva",
                   "lastName": "Ruiz", "documentType": "RUC", "documentNumber": "20100070970"},
                  "DUPLICATE_DOCUMENT", ["documentNumber"])  # fmt: skip


async def test_emails_meet_in_the_duplicate_check_whatever_their_case(client):
    account, _ = await make_account()
    await contact_in(client, account, email="Zoila.Segundo@Example.PE")
    await refused(client, CREATE_CONTACT, "createContact",
                  {"accountId": gid("Account", account.id), "firstName": "Eva",
                   "lastName": "Ruiz", "email": "zoila.segundo@example.pe"},
                  "DUPLICATE_EMAIL", ["email"])  # fmt: skip
    assert (await Channel.get(kind="EMAIL")).value == "Zoila.Segundo@Example.PE"


@pytest.mark.parametrize("typed", ["999888777", "+51 999 888 777"])
async def test_a_number_typed_either_way_is_found_by_either_way(client, typed):
    account, _ = await make_account()
    contact = await contact_in(client, account, mobile=typed)
    await contact_in(client, account, firstName="Otro", mobile="+51 988 777 666")
    for search in ("999888777", "+51 999 888 777", "51999888777", "999 888 777"):
        data = await ok(client, SEARCH, {"search": search})
        assert [node["id"] for node in data["contacts"]["nodes"]] == [contact["id"]], search
    # What a duplicate check would compare is one value for both ways of typing it.
    other = await Channel.get(kind="MOBILE", value="+51 988 777 666")
    mine = await Channel.filter(kind="MOBILE").exclude(id=other.id).first()
    assert (mine.normalized, mine.e164) == ("51999888777", "+51999888777")
