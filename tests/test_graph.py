"""The graph as a whole: statement counts, keyset paging, node lookups, the printed schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType

from models import Activity, AuditEvent, Channel, Contact, User
from schema import schema
from tests.conftest import count_statements, gid, gql, make_account, ok

LIST_QUERY = """
query($first: Int!) {
  contacts(first: $first, orderBy: [{field: CONTACT_NO}]) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id fullName email mobile owner { name }
      account { name owner { name } mainLocation { city } preferredContact { fullName } }
      location { name city }
      channels { kind value isPrimary }
      stats { activitiesTotal eventsHeld lastActivityAt }
      activities(first: 3) { nodes { subject kind status owner { name } } }
    } }
  }
}"""


async def seed_contacts(n: int) -> None:
    """``n`` contacts over several accounts, each with channels and activities."""
    owner = await User.create(name="Agente Uno", email="agente@crm.pe", role="AGENT")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for a in range(5):
        account, main = await make_account(f"Cuenta {a}", owner_id=owner.id)
        for c in range(n // 5):
            contact = await Contact.create(
                account_id=account.id, location_id=main.id, first_name=f"Nombre{c}",
                last_name=f"Apellido{a}", owner_id=owner.id, is_preferred=c == 0,
            )  # fmt: skip
            await Channel.create(contact_id=contact.id, kind="EMAIL", value=f"c{a}.{c}@x.pe",
                                 normalized=f"c{a}.{c}@x.pe", is_primary=True)  # fmt: skip
            await Channel.create(contact_id=contact.id, kind="MOBILE", value="+51 999 000 111",
                                 normalized="51999000111", is_primary=True)  # fmt: skip
            for k in range(4):
                await Activity.create(
                    kind="CALL", subject=f"Llamada {k}", status="HELD", account_id=account.id,
                    location_id=main.id, contact_id=contact.id, owner_id=owner.id,
                    starts_at=start + timedelta(days=k),
                )  # fmt: skip


async def test_statements_per_list_request_do_not_grow_with_page_size(client):
    await seed_contacts(50)
    await ok(client, "{ viewer { id } }")  # the token's lastUsedAt is written once a minute
    counted = {}
    for size in (5, 50):
        with count_statements() as counter:
            data = await ok(client, LIST_QUERY, {"first": size})
        assert len(data["contacts"]["edges"]) == size
        node = data["contacts"]["edges"][-1]["node"]
        assert len(node["activities"]["nodes"]) == 3
        assert node["stats"]["activitiesTotal"] == 4
        counted[size] = len(counter.statements)
    assert counted[5] == counted[50], counted
    print(f"statements per contact-list request: first 5 -> {counted[5]}, 50 -> {counted[50]}")


async def test_keyset_cursors_stay_stable_when_rows_are_inserted(client):
    account, main = await make_account()
    for name in ("Bravo", "Delta", "Foxtrot", "Hotel"):
        await Contact.create(account_id=account.id, location_id=main.id, first_name="X",
                             last_name=name)  # fmt: skip
    page = "query($after: String) { contacts(first: 2, after: $after) { edges { cursor node { lastName } } pageInfo { hasNextPage hasPreviousPage endCursor } } }"  # noqa: E501
    first = (await ok(client, page))["contacts"]
    assert [e["node"]["lastName"] for e in first["edges"]] == ["Bravo", "Delta"]
    assert first["pageInfo"]["hasNextPage"] is True
    # Rows sorting before the cursor appear meanwhile: the next page does not shift.
    await Contact.create(account_id=account.id, location_id=main.id, first_name="X",
                         last_name="Alfa")  # fmt: skip
    await Contact.create(account_id=account.id, location_id=main.id, first_name="X",
                         last_name="Charlie")  # fmt: skip
    second = (await ok(client, page, {"after": first["pageInfo"]["endCursor"]}))["contacts"]
    assert [e["node"]["lastName"] for e in second["edges"]] == ["Foxtrot", "Hotel"]
    assert second["pageInfo"]["hasNextPage"] is False
    assert second["pageInfo"]["hasPreviousPage"] is True


async def test_last_and_before_page_backwards(client):
    account, main = await make_account()
    for name in ("A1", "A2", "A3", "A4", "A5"):
        await Contact.create(account_id=account.id, location_id=main.id, first_name="X",
                             last_name=name)  # fmt: skip
    data = await ok(
        client,
        "{ contacts(last: 2) { nodes { lastName } pageInfo { startCursor hasPreviousPage } } }",
    )
    assert [n["lastName"] for n in data["contacts"]["nodes"]] == ["A4", "A5"]
    assert data["contacts"]["pageInfo"]["hasPreviousPage"] is True
    cursor = data["contacts"]["pageInfo"]["startCursor"]
    data = await ok(
        client,
        "query($b: String) { contacts(last: 2, before: $b) { nodes { lastName } } }",
        {"b": cursor},
    )
    assert [n["lastName"] for n in data["contacts"]["nodes"]] == ["A2", "A3"]


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ("first: 101", "first"),
        ("first: -1", "first"),
        ("first: 2, last: 2", "first"),
        ('first: 2, after: "garbage!!"', "after"),
        ('last: 2, before: "W1siaWQiXSxbMV1d"', "before"),
        ('search: "' + "x" * 201 + '"', "search"),
    ],
)
async def test_bad_list_arguments_are_coded_errors(client, arguments, argument):
    body = await gql(client, f"{{ contacts({arguments}) {{ totalCount }} }}")
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}
    assert body["data"] is None


async def test_cursor_of_another_ordering_is_refused(client):
    account, main = await make_account()
    for name in ("Uno", "Dos"):
        await Contact.create(account_id=account.id, location_id=main.id, first_name="X",
                             last_name=name)  # fmt: skip
    data = await ok(client, "{ contacts(first: 1) { pageInfo { endCursor } } }")
    cursor = data["contacts"]["pageInfo"]["endCursor"]
    body = await gql(
        client,
        "query($a: String) { contacts(first: 1, after: $a, orderBy: [{field: CREATED_AT}]) "
        "{ totalCount } }",
        {"a": cursor},
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_node_and_nodes_resolve_any_type_and_refuse_malformed_ids(client):
    account, main = await make_account()
    contact = await Contact.create(account_id=account.id, location_id=main.id, first_name="A",
                                   last_name="B")  # fmt: skip
    ids = [gid("Account", account.id), gid("Location", main.id), gid("Contact", contact.id),
           gid("Contact", 424242)]  # fmt: skip
    data = await ok(client, "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
                    {"ids": ids})  # fmt: skip
    assert [n and n["__typename"] for n in data["nodes"]] == ["Account", "Location", "Contact",
                                                             None]  # fmt: skip
    body = await gql(client, '{ node(id: "%%%") { id } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def other_spellings(type_name: str, pk: int) -> list[str]:
    """Strings an old decoder read as ``type_name`` ``pk``: none is the id ``encode_id`` makes."""
    from resolvers.ids import encode_global_id

    arabic = "".join(chr(0x660 + int(d)) for d in str(pk))
    canonical = gid(type_name, pk)
    return [
        canonical + "\u0000",  # a character the base64 decoder skips
        canonical + "==",  # padding
        canonical[:4] + "\n" + canonical[4:],
        encode_global_id(f"{type_name}:{arabic}"),  # digits of another script
        encode_global_id(f"{type_name}:0{pk}"),  # a leading zero
    ]


async def test_an_object_has_one_id_and_other_spellings_of_it_are_refused(client):
    account, main = await make_account()
    contact = await Contact.create(account_id=account.id, location_id=main.id, first_name="A",
                                   last_name="B")  # fmt: skip
    events = await AuditEvent.all().count()
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert (await ok(client, node, {"id": gid("Contact", contact.id)}))["node"] is not None
    update = """mutation($input: UpdateContactInput!) {
      updateContact(input: $input) { contact { id } errors { code field } } }"""
    for spelling in other_spellings("Contact", contact.id):
        body = await gql(client, node, {"id": spelling})
        assert body["data"]["node"] is None, spelling
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", spelling
        data = await ok(client, update, {"input": {"id": spelling, "firstName": "Changed"}})
        refused = {"contact": None, "errors": [{"code": "INVALID_ID", "field": ["id"]}]}
        assert data["updateContact"] == refused, spelling
    assert (await Contact.get(id=contact.id)).first_name == "A"
    assert await AuditEvent.all().count() == events


async def test_anonymous_requests_are_unauthenticated(client):
    body = await gql(client, "{ viewer { id } }", token=None)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    body = await gql(client, "{ contacts { totalCount } }", token="wrong")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_errors_never_carry_a_stack_trace(client):
    body = await gql(client, "{ contacts(first: 1, after: 12) { totalCount } }")
    text = str(body)
    assert "Traceback" not in text and "SELECT" not in text


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).text == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ok"}


async def test_graphiql_is_served_to_browsers(client):
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_schema_file_matches_the_live_schema():
    printed = Path(__file__).resolve().parent.parent / "schema.graphql"
    assert printed.read_text() == schema.as_str() + "\n", (
        "schema.graphql is stale: run `python -m schema.export`"
    )


def test_every_type_field_argument_and_enum_value_has_a_description():
    missing = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(graphql_type, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in graphql_type.values.items()
                        if not value.description]  # fmt: skip
    assert missing == []


async def test_nodes_of_many_ids_take_one_statement_per_type(client):
    from models import Account

    accounts = [(await make_account(f"Cliente {n}"))[0] for n in range(6)]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Account { name } } }"
    for size in (2, 6):
        ids = [gid("Account", account.id) for account in accounts[:size]]
        with count_statements() as counter:
            data = await ok(client, query, {"ids": ids})
        assert [node["id"] for node in data["nodes"]] == ids
        selects = [s for s in counter.statements if 'FROM "account"' in s]
        assert len(selects) == 1, selects
    assert await Account.all().count() == 6


async def test_signing_in_takes_one_statement(client):
    await ok(client, "{ viewer { id } }")  # the token's lastUsedAt is written once a minute
    with count_statements() as counter:
        await ok(client, "{ viewer { id } }")
    assert len(counter.statements) == 1, counter.statements


def test_contact_stats_are_answered_from_the_loaders_figures():
    """``Contact.stats`` hands the GraphQL layer the loader's own ``ContactStats``: the
    schema type must have the same fields, none of them with a resolver."""
    from resolvers.loaders import ContactStats as Figures
    from schema.contacts import ContactStats

    definition = ContactStats.__strawberry_definition__
    assert [field.python_name for field in definition.fields] == list(Figures.__slots__)
    assert all(field.base_resolver is None for field in definition.fields)
