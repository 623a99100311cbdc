"""Lists read only the columns their selection needs (``engine.lookahead``), and every field
still answers what it answers when every column is read."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from graphql import GraphQLObjectType, get_named_type, is_leaf_type

from demo import fill_demo_data
from engine.lookahead import column_needs
from engine.types import node_types
from models import Account as AccountRow
from schema import schema
from tests.conftest import count_statements, ok
from tests.test_executor import answer

NOW = datetime(2025, 6, 2, 15, 30, tzinfo=UTC)

# Lists whose rows are read by the statement a connection builds: a query with ``NODE`` where
# the node's selection goes, and the path to the nodes in its answer ("*": every item).
LISTS = {
    "Contact": (
        "{ contacts(first: 4, orderBy: [{field: CREATED_AT}]) { nodes { NODE } } }",
        "contacts.nodes",
    ),
    "Activity": ("{ activities(first: 4) { nodes { NODE } } }", "activities.nodes"),
    "Account": ("{ accounts(first: 4) { nodes { NODE } } }", "accounts.nodes"),
    "Location": ("{ locations(first: 4) { nodes { NODE } } }", "locations.nodes"),
    "AuditEvent": (
        "{ contacts(first: 2) { nodes { auditEvents(first: 3) { nodes { NODE } } } } }",
        "contacts.nodes.*.auditEvents.nodes",
    ),
}
NESTED = {  # the per-parent lists (one windowed statement for every parent)
    "Contact": (
        "{ accounts(first: 3) { nodes { contacts(first: 3) { edges { node { NODE } } } } } }",
        "accounts.nodes.*.contacts.edges.*.node",
    ),
    "Activity": (
        "{ contacts(first: 3) { nodes { activities(first: 3) { nodes { NODE } } } } }",
        "contacts.nodes.*.activities.nodes",
    ),
    "Location": (
        "{ accounts(first: 3) { nodes { locations(first: 3) { nodes { NODE } } } } }",
        "accounts.nodes.*.locations.nodes",
    ),
}

RELATED = {  # objects a row points at, read by a by-id loader
    "Account": (
        "{ contacts(first: 4) { nodes { account { NODE } } } }",
        "contacts.nodes.*.account",
    ),
    "Location": (
        "{ contacts(first: 4) { nodes { location { NODE } } } }",
        "contacts.nodes.*.location",
    ),
    "User": ("{ contacts(first: 4) { nodes { owner { NODE } } } }", "contacts.nodes.*.owner"),
    "Contact": (
        "{ activities(first: 4) { nodes { contact { NODE } } } }",
        "activities.nodes.*.contact",
    ),
}


@pytest.fixture
async def demo(client) -> None:
    await fill_demo_data(accounts=4, now=NOW)


def _selection(type_name: str, field_name: str) -> str:
    """``field_name`` of ``type_name`` as a selection: a leaf as it is, an object with its
    typename, a connection with its total."""
    graphql_type = schema._schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    field = graphql_type.fields[field_name]
    named = get_named_type(field.type)
    if is_leaf_type(named):
        return field_name
    if isinstance(named, GraphQLObjectType) and "totalCount" in named.fields:
        return f"{field_name}(first: 2) {{ totalCount nodes {{ id }} }}"
    return f"{field_name} {{ __typename }}"


def _fields(type_name: str) -> list[str]:
    graphql_type = schema._schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    return list(graphql_type.fields)


def _nodes(data: Any, path: str) -> list[dict]:
    """The node dicts at ``path`` in an answer."""
    found = [data]
    for step in path.split("."):
        if step == "*":
            found = [item for items in found for item in items]
        else:
            found = [item[step] for item in found]
    nodes = [node for item in found for node in (item if isinstance(item, list) else [item])]
    return [node for node in nodes if node is not None]  # an owner may be null


@pytest.mark.parametrize(
    ("type_name", "case"),
    [*LISTS.items(), *NESTED.items(), *RELATED.items()],
    ids=[
        *(f"list-{name}" for name in LISTS),
        *(f"nested-{name}" for name in NESTED),
        *(f"related-{name}" for name in RELATED),
    ],
)
async def test_every_field_alone_answers_what_it_answers_with_every_column(
    client, demo, type_name, case
):
    """A field asked for alone reads only what it declares; a column it forgot to declare
    would fail here (AttributeError on the partial row) or differ from the answer given
    with every field selected (every column read)."""
    query, path = case
    fields = _fields(type_name)
    everything = " ".join(_selection(type_name, name) for name in fields)
    full = _nodes(await ok(client, query.replace("NODE", f"id {everything}")), path)
    assert full, f"the demo has no {type_name} rows for {query}"
    for name in fields:
        selection = f"id {_selection(type_name, name)}"
        alone = _nodes(await ok(client, query.replace("NODE", selection)), path)
        assert [(node["id"], node[name]) for node in alone] == [
            (node["id"], node[name]) for node in full
        ], name


def _selected_columns(statements: list[str], table: str) -> set[str]:
    """The columns of ``table`` the statements that read its rows select."""
    columns: set[str] = set()
    for sql in statements:
        head = sql.split(" FROM ", 1)[0]
        if f'"{table}".' in head or (f'FROM "{table}"' in sql and head.startswith("SELECT")):
            columns |= set(re.findall(rf'(?:"{table}"\.)?"(\w+)"', head))
    return columns


async def test_a_list_reads_only_the_columns_its_selection_needs(client, demo):
    with count_statements() as counter:
        await ok(client, "{ contacts(first: 5) { nodes { fullName account { name } } } }")
    read = _selected_columns(counter.statements, "contact")
    assert {"id", "first_name", "last_name", "account_id"} <= read
    assert not read & {"search_text", "custom_fields", "tags", "job_title", "updated_at"}


async def test_related_objects_read_only_the_columns_their_selection_needs(client, demo):
    query = "{ contacts(first: 5) { nodes { account { name } location { city } } } }"
    with count_statements() as counter:
        await ok(client, query)
    account = _selected_columns(counter.statements, "account")
    location = _selected_columns(counter.statements, "location")
    assert account == {"id", "name"} and location == {"id", "city"}


async def test_rows_loaded_by_id_hold_what_the_whole_operation_selects_on_their_type(client, demo):
    """One loader per type for the request: its rows serve every field that points at that
    type, so they read the union of the type's selections (not a statement per field)."""
    query = """{
      contacts(first: 3) { nodes { account { name } } }
      activities(first: 3) { nodes { account { ...Trade } } }
    }
    fragment Trade on Account { industry }"""
    with count_statements() as counter:
        data = await ok(client, query)
    assert data["activities"]["nodes"][0]["account"]["industry"] is not None
    by_id = [sql for sql in counter.statements if 'FROM "account"' in sql]
    assert by_id and all(
        _selected_columns([sql], "account") == {"id", "name", "industry"} for sql in by_id
    )


async def test_nested_lists_read_only_the_columns_their_selection_needs(client, demo):
    query = "{ contacts(first: 3) { nodes { id activities(first: 3) { nodes { subject } } } } }"
    with count_statements() as counter:
        await ok(client, query)
    [paged] = [sql for sql in counter.statements if "page_row" in sql and '"activity"' in sql]
    head = paged.split(" FROM ", 1)[0]
    assert '"activity"."subject"' in head and '"activity"."created_at"' in head  # the order
    assert '"activity"."body"' not in head and "*" not in head


FRAGMENTED = """
query($withDetails: Boolean!, $skipVip: Boolean!) {
  contacts(first: 3) {
    edges { node { ...Card } }
    nodes { isVip @skip(if: $skipVip) }
  }
}
fragment Card on Contact {
  id
  ... @include(if: $withDetails) { jobTitle customFields }
}
"""


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "graphql-core"])
async def test_lookahead_follows_fragments_and_directives(client, demo, fast):
    """``@include``/``@skip`` decided by this request's variables: the same document reads
    other columns when they change (and both execution paths look ahead alike)."""
    for details, skip_vip in ((False, True), (True, False)):
        with count_statements() as counter:
            body, _ = await answer(
                client, FRAGMENTED, {"withDetails": details, "skipVip": skip_vip}, fast=fast
            )
        assert "errors" not in body, body
        read = _selected_columns(counter.statements, "contact")
        assert ("job_title" in read) is details and ("custom_fields" in read) is details
        assert ("is_vip" in read) is not skip_vip
        node = body["data"]["contacts"]["edges"][0]["node"]
        assert ("jobTitle" in node) is details


def test_every_resolver_field_of_the_listed_types_declares_what_it_reads():
    """An undeclared field reads every column: correct, but it would quietly undo the
    lookahead for every list it is selected in."""
    import models

    undeclared = {
        f"{name}.{field}"
        for name in LISTS
        for field, need in column_needs(node_types()[name], getattr(models, name)).items()
        if need is None
    }
    # Both read a row of any type, named by the event: every column, by design.
    assert undeclared == {"AuditEvent.resource_id", "AuditEvent.resource"}


def test_needs_name_columns_of_the_model():
    needs = column_needs(node_types()["Account"], AccountRow)
    columns = set(AccountRow._meta.fields_db_projection.values())
    assert all(need <= columns for need in needs.values() if need is not None)
    assert needs["account_no"] == {"id"} and needs["owner"] == {"owner_id"}
