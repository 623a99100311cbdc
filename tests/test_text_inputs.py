"""Text never holds NUL or other control characters (issue 13, item 5).

Every text input of every mutation, found by walking the schema, is sent with a control
character in it: each is refused with ``INVALID_CHARACTERS`` on its own path and nothing is
written. Every ``search`` argument and every string of every list's filter is refused with
a ``BAD_USER_INPUT`` naming its argument. A mutation gaining a text input is walked too; a
mutation gaining its first one needs a valid input in ``VALID`` below.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import cycle
from typing import Any

import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    get_named_type,
)

from models import Activity, Contact
from schema import schema
from tests.conftest import ADMIN_TOKEN, define_field, gid, gql, make_account, ok
from tests.test_unit_of_work import World, build_world, table_rows

# NUL, ESC, DEL, a C1 control, a lone surrogate: none may be stored, in any text.
CONTROL_CHARACTERS = ("\u0000", "\u001b", "\u007f", "\u0085", "\ud800")

# A valid input for each mutation that takes text, on the rows of `build_world`.
VALID: dict[str, Callable[[World], dict[str, Any]]] = {
    "createAccount": lambda w: {"name": "Ferretería Lima", "mainLocation": {"name": "Sede"}},
    "updateAccount": lambda w: {"id": w["account"]},
    "createLocation": lambda w: {"accountId": w["account"], "kind": "BRANCH", "name": "Sur"},
    "updateLocation": lambda w: {"id": w["outlet"]},
    "createContact": lambda w: {
        "accountId": w["account"], "firstName": "Eva", "lastName": "Soto",
        "channels": [{"kind": "EMAIL", "value": "eva@andina.pe"}],
    },
    "updateContact": lambda w: {
        "id": w["ana"], "channels": [{"kind": "EMAIL", "value": "ana@andina.pe"}],
    },
    "createContacts": lambda w: {"contacts": [{
        "accountId": w["account"], "firstName": "Eva", "lastName": "Soto",
        "channels": [{"kind": "EMAIL", "value": "eva@andina.pe"}],
    }]},
    "updateContacts": lambda w: {"contacts": [{
        "id": w["ana"], "channels": [{"kind": "EMAIL", "value": "ana@andina.pe"}],
    }]},
    "addChannel": lambda w: {"contactId": w["ana"], "kind": "EMAIL", "value": "a2@andina.pe"},
    "updateChannel": lambda w: {"id": w["ana.phone"]},
    "createActivity": lambda w: {"contactId": w["ana"], "kind": "TASK", "subject": "Enviar"},
    "updateActivity": lambda w: {"id": w["activity"]},
    "createTeam": lambda w: {"name": "Cuentas clave"},
    "createUser": lambda w: {"name": "Iván", "email": "ivan@crm.pe", "role": "MANAGER"},
    "updateUser": lambda w: {"id": w["user"]},
    "createApiToken": lambda w: {"name": "etl"},
    "createCustomFieldDefinition": lambda w: {
        "entity": "CONTACT", "key": "nivel", "label": "Nivel", "type": "SELECT", "options": ["alto"]
    },
    "updateCustomFieldDefinition": lambda w: {"id": w["field"]},
    "reviewDocument": lambda w: {"id": w["document"], "status": "VALID"},
}  # fmt: skip
# Sent as multipart requests with a file: their text is walked in their own tests
# (tests/test_documents.py: the file name's NUL, `../`, direction marks, length).
MULTIPART = frozenset({"uploadDocument"})


def text_paths(input_type: GraphQLInputObjectType) -> Iterator[tuple[str, ...]]:
    """The path of every String in an input: its fields, list items, nested inputs."""
    for name, field in input_type.fields.items():
        wrapped = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        is_list = isinstance(wrapped, GraphQLList)
        named = get_named_type(field.type)
        prefix = (name, "0") if is_list else (name,)
        if isinstance(named, GraphQLInputObjectType):
            yield from (prefix + inner for inner in text_paths(named))
        elif named.name == "String":
            yield prefix


def mutations_with_text() -> list[tuple[str, tuple[str, ...]]]:
    mutation_type = schema._schema.mutation_type
    return [
        (name, path)
        for name, field in mutation_type.fields.items()
        if name not in MULTIPART
        for path in text_paths(get_named_type(field.args["input"].type))
    ]


def with_value(data: dict[str, Any], path: tuple[str, ...], value: str) -> dict[str, Any]:
    """A copy of ``data`` with ``value`` at ``path`` (list items and nested inputs made)."""
    head, *rest = path
    copy = dict(data)
    if not rest:
        copy[head] = value
    elif rest[0] == "0":  # a list: the value goes into its first item
        items = list(copy.get(head) or [value if len(rest) == 1 else {}])
        items[0] = value if len(rest) == 1 else with_value(items[0], tuple(rest[1:]), value)
        copy[head] = items
    else:
        copy[head] = with_value(copy.get(head) or {}, tuple(rest), value)
    return copy


WALKED = mutations_with_text()


def test_every_mutation_taking_text_has_a_valid_input():
    assert {name for name, _ in WALKED} == set(VALID)
    assert len(WALKED) > 80  # names, addresses, channels, tags, scopes, …


@pytest.mark.parametrize("mutation", sorted(VALID))
async def test_every_text_input_refuses_control_characters_and_writes_nothing(client, mutation):
    world = await build_world(client)
    input_type = get_named_type(schema._schema.mutation_type.fields[mutation].args["input"].type)
    document = f"""mutation($input: {input_type.name}!) {{
      {mutation}(input: $input) {{ errors {{ code field message }} }} }}"""
    valid = VALID[mutation](world)
    before = await table_rows()
    characters = cycle(CONTROL_CHARACTERS)
    for path in (path for name, path in WALKED if name == mutation):
        character = next(characters)
        variables = {"input": with_value(valid, path, f"ab{character}c")}
        errors = (await escaped(client, document, variables))["data"][mutation]["errors"]
        found = [(e["code"], tuple(e["field"])) for e in errors]
        assert found == [("INVALID_CHARACTERS", path)], (path, repr(character))
        assert f"U+{ord(character):04X}" in errors[0]["message"]
    assert await table_rows() == before


async def escaped(client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """POST with every non-ASCII character escaped in the JSON, as a lone surrogate must be."""
    response = await client.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return response.json()


CONTACT = """mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id firstName customFields } errors { code field } } }"""
ACTIVITY = """mutation($input: CreateActivityInput!) {
  createActivity(input: $input) { activity { id body } errors { code field } } }"""


async def test_tab_and_newline_only_in_long_text(client):
    account, _ = await make_account()
    contact = {"accountId": gid("Account", account.id), "firstName": "Ana", "lastName": "Ruiz"}
    for name in ("Ana\tMaría", "Ana\nMaría"):
        data = await ok(client, CONTACT, {"input": {**contact, "firstName": name}})
        assert data["createContact"] == {
            "contact": None, "errors": [{"code": "INVALID_CHARACTERS", "field": ["firstName"]}]
        }  # fmt: skip
    assert await Contact.all().count() == 0
    note = {"accountId": gid("Account", account.id), "kind": "NOTE", "subject": "Visita"}
    data = await ok(client, ACTIVITY, {"input": {**note, "body": "Pedido:\r\n\t- 3 cajas\n"}})
    assert data["createActivity"]["activity"]["body"] == "Pedido:\n\t- 3 cajas"
    data = await ok(client, ACTIVITY, {"input": {**note, "body": "Pedido\u0000"}})
    assert data["createActivity"]["errors"] == [{"code": "INVALID_CHARACTERS", "field": ["body"]}]
    assert await Activity.all().count() == 1


@pytest.mark.parametrize(
    ("custom_fields", "field"),
    [
        ({"nota\u0000": "x"}, ["customFields"]),
        ({"nota": "x\u0000"}, ["customFields", "nota"]),
        ({"nota": "x\u001by"}, ["customFields", "nota"]),
    ],
)
async def test_custom_field_names_and_values_refuse_control_characters(
    client, custom_fields, field
):
    account, _ = await make_account()
    await define_field(client, "CONTACT", "nota", "TEXT")
    contact = {"accountId": gid("Account", account.id), "firstName": "Ana", "lastName": "Ruiz"}
    data = await ok(client, CONTACT, {"input": {**contact, "customFields": custom_fields}})
    assert data["createContact"]["errors"] == [{"code": "INVALID_CHARACTERS", "field": field}]
    assert await Contact.all().count() == 0
    data = await ok(client, CONTACT, {"input": {**contact, "customFields": {"nota": "a\r\n\tb"}}})
    assert data["createContact"]["contact"]["customFields"] == {"nota": "a\n\tb"}


def root_lists() -> list[tuple[str, str, str]]:
    """(list, argument, variable type) for every search and every String of a filter."""
    found = []
    for name, field in schema._schema.query_type.fields.items():
        if not isinstance(get_named_type(field.type), GraphQLObjectType):
            continue
        if "search" in field.args:
            found.append((name, "search", "String"))
        if "filter" in field.args:
            filter_type = get_named_type(field.args["filter"].type)
            for path in text_paths(filter_type):
                found.append((name, "filter", f"{filter_type.name}:{'.'.join(path)}"))
    return found


@pytest.mark.parametrize(("root", "argument", "shape"), root_lists())
async def test_searches_and_filters_refuse_control_characters(client, root, argument, shape):
    returned = get_named_type(schema._schema.query_type.fields[root].type)
    selection = "totalCount" if "totalCount" in returned.fields else "__typename"  # a plain list
    if argument == "search":
        document = f"query($v: String) {{ {root}(search: $v) {{ {selection} }} }}"
        variables = {"v": "jose\u0000"}
    else:
        filter_type, path = shape.split(":")
        document = f"query($v: {filter_type}) {{ {root}(filter: $v) {{ {selection} }} }}"
        variables = {"v": with_value({}, tuple(path.split(".")), "Lima\u0000")}
    body = await gql(client, document, variables)
    assert body["data"] is None or body["data"][root] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["argument"] == argument
    assert "U+0000" in error["message"]


def test_every_list_with_text_filters_is_walked():
    walked = {(root, shape) for root, argument, shape in root_lists() if argument == "filter"}
    assert {shape.split(":")[1] for _, shape in walked} >= {
        "industry", "tag", "country", "city", "state", "resourceType",
    }  # fmt: skip


@pytest.mark.parametrize("parameter", ["search", "tag", "status"])
async def test_export_parameters_refuse_control_characters(client, parameter):
    response = await client.get(
        "/export/contacts.csv",
        params={parameter: "a\u0000"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": parameter}
