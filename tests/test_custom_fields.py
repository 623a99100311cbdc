"""Custom field definitions (issue 16): typed values checked on every write path, archived
definitions kept readable and not writable, the ``customField`` list filter."""

from __future__ import annotations

import asyncio
import os

import pytest
from tortoise import connections

from models import Account, AuditEvent, Contact, CustomFieldDefinition
from models.enums import CustomFieldType, Role
from resolvers.porting.columns import CellError, parse_custom_field
from tests.conftest import count_statements, define_field, gid, gql, make_account, ok
from tests.test_access import person
from tests.test_imports import payload, upload

CREATE = """mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id customFields } errors { code field message } } }"""
UPDATE = """mutation($input: UpdateContactInput!) {
  updateContact(input: $input) { contact { id customFields } errors { code field message } } }"""
CREATE_MANY = """mutation($input: CreateContactsInput!) {
  createContacts(input: $input) { contacts { id } errors { code field message } } }"""
ARCHIVE = """mutation($id: ID!) { archiveCustomFieldDefinition(input: {id: $id}) {
  customFieldDefinition { archived } errors { code field } } }"""
DEFINE = """mutation($input: CreateCustomFieldDefinitionInput!) {
  createCustomFieldDefinition(input: $input) {
    customFieldDefinition { id entity key label type options required archived }
    errors { code field message } } }"""
LIST = """query($f: ContactFilter) { contacts(filter: $f) { nodes { firstName } } }"""


async def contact_input(**fields) -> dict:
    account = await Account.first()
    if account is None:
        account, _ = await make_account()
    return {"accountId": gid("Account", account.id), "firstName": "Ana", "lastName": "Ruiz",
            **fields}  # fmt: skip


async def create(client, **custom) -> dict:
    data = await ok(client, CREATE, {"input": await contact_input(customFields=custom)})
    return data["createContact"]


def errors(payload: dict) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def standard_fields(client) -> None:
    await define_field(client, "CONTACT", "nivel", "SELECT", ["alto", "medio", "bajo"])
    await define_field(client, "CONTACT", "servicios", "MULTI_SELECT", ["envio", "credito"])
    await define_field(client, "CONTACT", "limite", "NUMBER")
    await define_field(client, "CONTACT", "visita", "DATE")
    await define_field(client, "CONTACT", "activo", "BOOLEAN")
    await define_field(client, "CONTACT", "web", "URL")


# ---------------------------------------------------------------- definitions


async def test_a_definition_is_made_listed_and_audited(client):
    variables = {"input": {"entity": "CONTACT", "key": "nivelInteres", "label": "Nivel de interés",
                           "type": "SELECT", "options": ["alto", "bajo", "alto"]}}  # fmt: skip
    made = (await ok(client, DEFINE, variables))["createCustomFieldDefinition"]
    assert made["errors"] == []
    assert made["customFieldDefinition"] | {"id": None} == {
        "id": None, "entity": "CONTACT", "key": "nivelInteres", "label": "Nivel de interés",
        "type": "SELECT", "options": ["alto", "bajo"], "required": False, "archived": False,
    }  # fmt: skip
    data = await ok(client, "{ customFieldDefinitions(entity: CONTACT) { key } "
                            "accounts: customFieldDefinitions(entity: ACCOUNT) { key } }")
    assert data == {"customFieldDefinitions": [{"key": "nivelInteres"}], "accounts": []}
    event = await AuditEvent.get(resource_type="CustomFieldDefinition")
    assert event.action == "CREATED" and event.changes["key"]["to"] == "nivelInteres"


async def test_two_definitions_with_the_same_key_are_refused(client):
    await define_field(client, "CONTACT", "nivel", "TEXT")
    variables = {"input": {"entity": "CONTACT", "key": "nivel", "label": "Otro", "type": "NUMBER"}}
    payload = (await ok(client, DEFINE, variables))["createCustomFieldDefinition"]
    assert errors(payload) == [("DUPLICATE_NAME", ["key"])]
    assert await CustomFieldDefinition.filter(key="nivel").count() == 1
    # The same key for the other entity is another field.
    await define_field(client, "ACCOUNT", "nivel", "TEXT")


async def test_two_definitions_with_the_same_key_at_once_make_one(client):
    variables = {"input": {"entity": "CONTACT", "key": "zona", "label": "Zona", "type": "TEXT"}}
    answers = await asyncio.gather(*(gql(client, DEFINE, variables) for _ in range(4)))
    payloads = [answer["data"]["createCustomFieldDefinition"] for answer in answers]
    made = [p for p in payloads if p["errors"] == []]
    assert len(made) == 1
    assert all(errors(p) == [("DUPLICATE_NAME", ["key"])] for p in payloads if p not in made)
    assert await CustomFieldDefinition.filter(key="zona").count() == 1


async def test_the_database_holds_one_definition_per_entity_and_key(client):
    await CustomFieldDefinition.create(entity="CONTACT", key="zona", label="Zona", type="TEXT")
    with pytest.raises(Exception, match=r"(?i)unique"):
        await CustomFieldDefinition.create(entity="CONTACT", key="zona", label="Z", type="TEXT")


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"key": "1nivel"}, "INVALID_FORMAT", ["key"]),
        ({"key": "ni vel"}, "INVALID_FORMAT", ["key"]),
        ({"type": "SELECT"}, "REQUIRED", ["options"]),
        ({"options": ["a"]}, "INVALID_FORMAT", ["options"]),
        ({"label": " "}, "BLANK", ["label"]),
    ],
)
async def test_a_bad_definition_is_refused(client, change, code, field):
    variables = {"input": {"entity": "CONTACT", "key": "nivel", "label": "Nivel", "type": "TEXT",
                           **change}}  # fmt: skip
    payload = (await ok(client, DEFINE, variables))["createCustomFieldDefinition"]
    assert errors(payload) == [(code, field)]
    assert await CustomFieldDefinition.all().count() == 0


async def test_agents_may_not_define_change_or_archive_custom_fields(client):
    field_id = await define_field(client, "CONTACT", "nivel", "TEXT")
    agent = await person("Nora", Role.AGENT)
    variables = {"input": {"entity": "CONTACT", "key": "otro", "label": "Otro", "type": "TEXT"}}
    for document, values in (
        (DEFINE, variables),
        ("mutation($id: ID!) { updateCustomFieldDefinition(input: {id: $id, label: \"X\"}) "
         "{ errors { code } } }", {"id": field_id}),
        (ARCHIVE, {"id": field_id}),
    ):  # fmt: skip
        body = await gql(client, document, values, token=agent)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    definition = await CustomFieldDefinition.get()
    assert (definition.label, definition.archived) == ("Nivel", False)
    assert await CustomFieldDefinition.all().count() == 1
    # Agents read the definitions: their forms are drawn from them.
    data = await ok_as(client, agent, "{ customFieldDefinitions { key } }")
    assert data == {"customFieldDefinitions": [{"key": "nivel"}]}


async def ok_as(client, token: str, document: str) -> dict:
    body = await gql(client, document, token=token)
    assert "errors" not in body, body["errors"]
    return body["data"]


# ---------------------------------------------------------------- values on writes


async def test_typed_values_are_stored_as_their_type(client):
    await standard_fields(client)
    payload = await create(client, nivel="alto", servicios=["envio", "credito"], limite=2500.5,
                           visita="2026-01-31", activo=True, web="https://andina.pe")
    assert payload["errors"] == []
    assert payload["contact"]["customFields"] == {
        "nivel": "alto", "servicios": ["envio", "credito"], "limite": 2500.5,
        "visita": "2026-01-31", "activo": True, "web": "https://andina.pe",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("custom", "key"),
    [
        ({"limite": "mil"}, "limite"),  # the wrong type
        ({"limite": True}, "limite"),
        ({"activo": "sí"}, "activo"),
        ({"visita": "31/01/2026"}, "visita"),
        ({"nivel": "altísimo"}, "nivel"),  # a SELECT value not in its options
        ({"nivel": ["alto"]}, "nivel"),
        ({"servicios": ["envio", "regalo"]}, "servicios"),
        ({"servicios": "envio"}, "servicios"),
        ({"color": "rojo"}, "color"),  # an undefined key
    ],
)
async def test_a_bad_custom_field_value_is_refused_and_nothing_is_written(client, custom, key):
    await standard_fields(client)
    payload = await create(client, **custom)
    assert errors(payload) == [("INVALID_CUSTOM_FIELD", ["customFields", key])]
    assert payload["contact"] is None
    assert await Contact.all().count() == 0


async def test_a_url_field_is_checked_as_urls_are(client):
    await standard_fields(client)
    payload = await create(client, web="andina.pe")
    assert errors(payload) == [("INVALID_FORMAT", ["customFields", "web"])]
    assert await Contact.all().count() == 0


async def test_a_required_custom_field_missing_on_create_is_refused(client):
    await define_field(client, "CONTACT", "nivel", "SELECT", ["alto", "bajo"], required=True)
    for custom in ({}, {"nivel": None}):
        payload = await create(client, **custom)
        assert errors(payload) == [("INVALID_CUSTOM_FIELD", ["customFields", "nivel"])]
    data = await ok(client, CREATE, {"input": await contact_input()})  # customFields left out
    assert errors(data["createContact"]) == [("INVALID_CUSTOM_FIELD", ["customFields", "nivel"])]
    assert await Contact.all().count() == 0
    made = await create(client, nivel="alto")
    assert made["errors"] == []
    # An update may not clear it either.
    data = await ok(client, UPDATE, {"input": {"id": made["contact"]["id"], "customFields": {}}})
    assert errors(data["updateContact"]) == [("INVALID_CUSTOM_FIELD", ["customFields", "nivel"])]
    assert (await Contact.get()).custom_fields == {"nivel": "alto"}


async def test_a_batch_names_the_item_and_the_key(client):
    await standard_fields(client)
    items = [await contact_input(customFields={"limite": 10}),
             await contact_input(firstName="Eva", customFields={"limite": "diez"})]  # fmt: skip
    data = await ok(client, CREATE_MANY, {"input": {"contacts": items, "atomic": True}})
    assert errors(data["createContacts"]) == [
        ("INVALID_CUSTOM_FIELD", ["contacts", "1", "customFields", "limite"])
    ]
    assert await Contact.all().count() == 0


async def test_a_batch_reads_the_definitions_once(client):
    await standard_fields(client)

    async def statements(size: int) -> list[str]:
        items = [await contact_input(firstName=f"P{n}", customFields={"nivel": "alto"})
                 for n in range(size)]  # fmt: skip
        with count_statements() as counter:
            data = await ok(client, CREATE_MANY, {"input": {"contacts": items}})
        assert data["createContacts"]["errors"] == []
        return [s for s in counter.statements if "custom_field_definition" in s]

    await statements(1)  # the token's first use is noted
    assert len(await statements(1)) == len(await statements(20)) == 1


async def test_accounts_check_their_own_definitions(client):
    await define_field(client, "ACCOUNT", "limiteCredito", "NUMBER", required=True)
    await define_field(client, "CONTACT", "nivel", "TEXT")
    document = """mutation($input: CreateAccountInput!) { createAccount(input: $input) {
      account { id customFields } errors { code field } } }"""
    for custom, key in (({}, "limiteCredito"), ({"limiteCredito": "x"}, "limiteCredito"),
                        ({"limiteCredito": 1, "nivel": "a"}, "nivel")):  # fmt: skip
        data = await ok(client, document, {"input": {"name": "Andina", "customFields": custom}})
        assert errors(data["createAccount"]) == [("INVALID_CUSTOM_FIELD", ["customFields", key])]
    assert await Account.all().count() == 0
    data = await ok(client, document, {"input": {"name": "Andina",
                                                 "customFields": {"limiteCredito": 5000}}})
    account = data["createAccount"]["account"]
    assert account["customFields"] == {"limiteCredito": 5000}
    update = """mutation($input: UpdateAccountInput!) { updateAccount(input: $input) {
      account { customFields } errors { code field } } }"""
    data = await ok(client, update, {"input": {"id": account["id"],
                                               "customFields": {"limiteCredito": "mucho"}}})
    assert errors(data["updateAccount"]) == [
        ("INVALID_CUSTOM_FIELD", ["customFields", "limiteCredito"])
    ]
    assert (await Account.get()).custom_fields == {"limiteCredito": 5000}


# ---------------------------------------------------------------- archived definitions


async def test_archiving_a_used_definition_keeps_its_values_and_refuses_writes(client):
    field_id = await define_field(client, "CONTACT", "nivel", "SELECT", ["alto", "bajo"])
    await define_field(client, "CONTACT", "nota", "TEXT")
    made = await create(client, nivel="alto", nota="hola")
    contact_id = made["contact"]["id"]
    data = await ok(client, ARCHIVE, {"id": field_id})
    assert data["archiveCustomFieldDefinition"] == {
        "customFieldDefinition": {"archived": True}, "errors": []
    }  # fmt: skip
    # Kept and readable.
    node = await ok(client, "query($id: ID!) { node(id: $id) { ... on Contact { customFields } } }",
                    {"id": contact_id})  # fmt: skip
    assert node["node"]["customFields"] == {"nivel": "alto", "nota": "hola"}
    # Writes to it are refused: a new value, a new row, clearing it.
    for custom in ({"nivel": "bajo", "nota": "hola"}, {"nivel": None, "nota": "hola"}):
        data = await ok(client, UPDATE, {"input": {"id": contact_id, "customFields": custom}})
        refused = [("INVALID_CUSTOM_FIELD", ["customFields", "nivel"])]
        assert errors(data["updateContact"]) == refused
    payload = await create(client, nivel="bajo")
    assert errors(payload) == [("INVALID_CUSTOM_FIELD", ["customFields", "nivel"])]
    assert await Contact.all().count() == 1
    assert (await Contact.get()).custom_fields == {"nivel": "alto", "nota": "hola"}
    # Other fields change; the archived value is kept, whether sent back as it is or left out.
    for custom in ({"nivel": "alto", "nota": "adiós"}, {"nota": "chau"}):
        data = await ok(client, UPDATE, {"input": {"id": contact_id, "customFields": custom}})
        assert data["updateContact"]["errors"] == []
        assert data["updateContact"]["contact"]["customFields"]["nivel"] == "alto"
    again = (await ok(client, ARCHIVE, {"id": field_id}))["archiveCustomFieldDefinition"]
    assert errors(again) == [("ALREADY_IN_STATE", ["id"])]


# ---------------------------------------------------------------- the list filter


async def names(client, custom_filter: dict, root: str = "contacts") -> list[str]:
    data = await ok(client, LIST, {"f": {"customField": custom_filter}})
    return sorted(node["firstName"] for node in data[root]["nodes"])


async def test_lists_filter_on_custom_fields_by_type(client):
    await standard_fields(client)
    for name, custom in (
        ("Ana", {"nivel": "alto", "limite": 900, "visita": "2026-01-10", "activo": True,
                 "servicios": ["envio"]}),
        ("Eva", {"nivel": "bajo", "limite": 10000, "visita": "2026-03-01", "activo": False,
                 "servicios": ["envio", "credito"]}),
        ("Iris", {}),
    ):  # fmt: skip
        made = await ok(client, CREATE, {"input": await contact_input(firstName=name,
                                                                      customFields=custom)})
        assert made["createContact"]["errors"] == []
    assert await names(client, {"key": "nivel", "equals": "alto"}) == ["Ana"]
    assert await names(client, {"key": "nivel", "in": ["alto", "bajo"]}) == ["Ana", "Eva"]
    assert await names(client, {"key": "limite", "gt": 1000}) == ["Eva"]  # 900 < 1000 as numbers
    assert await names(client, {"key": "limite", "lt": 1000}) == ["Ana"]
    assert await names(client, {"key": "limite", "gt": 100, "lt": 5000}) == ["Ana"]
    assert await names(client, {"key": "limite", "equals": 900}) == ["Ana"]
    assert await names(client, {"key": "visita", "gt": "2026-02-01"}) == ["Eva"]
    assert await names(client, {"key": "activo", "equals": False}) == ["Eva"]
    assert await names(client, {"key": "servicios", "equals": "credito"}) == ["Eva"]
    assert await names(client, {"key": "servicios", "in": ["envio"]}) == ["Ana", "Eva"]


@pytest.mark.parametrize(
    ("custom_filter", "named"),
    [
        ({"key": "color", "equals": "rojo"}, "color"),  # not defined
        ({"key": "nivel", "equals": "altísimo"}, "altísimo"),  # not an option
        ({"key": "limite", "equals": "mil"}, "limite"),  # not a number
        ({"key": "nivel", "gt": "a"}, "nivel"),  # gt on a SELECT
        ({"key": "nivel"}, "equals"),  # no condition
    ],
)
async def test_a_bad_custom_field_filter_is_refused_naming_it(client, custom_filter, named):
    await standard_fields(client)
    body = await gql(client, LIST, {"f": {"customField": custom_filter}})
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert named in error["message"]


async def test_accounts_filter_on_their_custom_fields(client):
    await define_field(client, "ACCOUNT", "zona", "SELECT", ["norte", "sur"])
    await make_account("Andina", custom_fields={"zona": "norte"})
    await make_account("Sureña", custom_fields={"zona": "sur"})
    document = """query($f: AccountFilter) { accounts(filter: $f) { nodes { name } } }"""
    data = await ok(client, document, {"f": {"customField": {"key": "zona", "equals": "sur"}}})
    assert data["accounts"]["nodes"] == [{"name": "Sureña"}]


@pytest.mark.skipif(bool(os.environ.get("CRM_TEST_POSTGRES_URL")), reason="SQLite's plan")
async def test_sqlite_answers_the_filter_from_the_keys_expression_index(client):
    from models.db import add_sqlite_custom_field_indexes

    await define_field(client, "CONTACT", "nivel", "SELECT", ["alto", "bajo"])
    await define_field(client, "CONTACT", "servicios", "MULTI_SELECT", ["envio", "credito"])
    db = connections.get("default")

    async def plan(value: str = "alto") -> str:  # a new text each time: no cached plan
        rows = await db.execute_query_dict(
            """EXPLAIN QUERY PLAN SELECT "id" FROM "contact" """
            f"""WHERE json_extract("contact"."custom_fields", '$.nivel') = '{value}'"""
        )
        return " ".join(row["detail"] for row in rows)

    assert "idx_contact_cf_nivel" in await plan()  # built by the definition's mutation
    names = await db.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'index'")
    assert "idx_contact_cf_servicios" not in {row["name"] for row in names}  # json_each
    await db.execute_script('DROP INDEX "idx_contact_cf_nivel"')
    assert "idx_contact_cf_nivel" not in await plan("bajo")
    await add_sqlite_custom_field_indexes(db)  # what every start-up runs
    assert "idx_contact_cf_nivel" in await plan("medio")


@pytest.mark.skipif(not os.environ.get("CRM_TEST_POSTGRES_URL"), reason="PostgreSQL's plan")
async def test_postgres_answers_equals_from_the_gin_index(client):
    db = connections.get("default")
    [index] = await db.execute_query_dict(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_contact_custom_fields'"
    )
    assert "gin" in index["indexdef"] and "jsonb_path_ops" in index["indexdef"]
    async with db._in_transaction() as connection:
        await connection.execute_script("SET LOCAL enable_seqscan = off")
        rows = await connection.execute_query_dict(
            'EXPLAIN SELECT "id" FROM "contact" '
            """WHERE "contact"."custom_fields" @> """
            """CAST(CAST('{"nivel": "alto"}' AS text) AS jsonb)"""
        )
    plan = "\n".join(row["QUERY PLAN"] for row in rows)
    assert "idx_contact_custom_fields" in plan, plan


# ---------------------------------------------------------------- file columns


@pytest.mark.parametrize(
    ("kind", "cell", "value"),
    [
        ("NUMBER", "2500", 2500),
        ("NUMBER", "2500.5", 2500.5),
        ("NUMBER", "2500,5", 2500.5),
        ("BOOLEAN", "sí", True),
        ("DATE", "31/01/2026", "2026-01-31"),
        ("MULTI_SELECT", "envio;credito", ["envio", "credito"]),
        ("SELECT", "alto", "alto"),
        ("TEXT", "", None),
    ],
)
def test_a_cf_cell_is_read_as_its_definition_s_type(kind, cell, value):
    assert parse_custom_field(CustomFieldType(kind), cell) == value


def test_a_cf_cell_that_is_not_of_its_type_is_a_cell_error():
    with pytest.raises(CellError) as raised:
        parse_custom_field(CustomFieldType.NUMBER, "mil")
    assert raised.value.code == "INVALID_CUSTOM_FIELD"


async def test_the_import_reads_cf_cells_by_type_and_refuses_what_does_not_fit(client):
    await standard_fields(client)
    await define_field(client, "CONTACT", "zona", "TEXT", required=True)
    await make_account("Ferretería Lima")
    content = "\r\n".join([
        "firstName,lastName,accountName,cf.limite,cf.activo,cf.servicios,cf.visita,cf.zona",
        "Ana,Ruiz,Ferretería Lima,\"2500,5\",sí,envio;credito,31/01/2026,norte",
        "Eva,Soto,Ferretería Lima,mil,,,,sur",  # not a number
        "Iris,Vega,Ferretería Lima,,,regalo,,sur",  # not an option
        "Luz,Paz,Ferretería Lima,10,,,,",  # the required field missing
    ]) + "\r\n"  # fmt: skip
    result = payload(await upload(client, content))
    assert result["created"] == 1
    assert sorted((e["row"], e["field"], e["code"]) for e in result["rowErrors"]) == [
        (3, "cf.limite", "INVALID_CUSTOM_FIELD"),
        (4, "cf.servicios", "INVALID_CUSTOM_FIELD"),
        (5, "cf.zona", "INVALID_CUSTOM_FIELD"),
    ]
    [ana] = await Contact.all()
    assert ana.custom_fields == {"limite": 2500.5, "activo": True, "visita": "2026-01-31",
                                 "servicios": ["envio", "credito"], "zona": "norte"}  # fmt: skip
    # A file naming an undefined key: its rows are refused, nothing is written for them.
    content = ("firstName,lastName,accountName,cf.color,cf.zona\r\n"
               "Eva,Soto,Ferretería Lima,rojo,sur\r\n")
    result = payload(await upload(client, content))
    assert result["created"] == 0
    assert [(e["field"], e["code"]) for e in result["rowErrors"]] == [
        ("cf.color", "INVALID_CUSTOM_FIELD")
    ]
    assert await Contact.all().count() == 1
