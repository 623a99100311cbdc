"""The breadth-first executor answers exactly what graphql-core answers, or lets it answer.

Every query here runs twice over HTTP on the same demo data: once as served (the fast path)
and once with the fast path switched off; the bodies must be equal, and the counter of
execution paths must show which path answered.
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bench.workloads import CONTACT_CARD, PARTNER_SLIM, SEARCH, SPA_LIST
from demo import fill_demo_data
from engine.executor import _serializer, execution
from metrics import EXECUTIONS
from models import AuditEvent, Contact, Location
from models.enums import ContactRole
from schema import schema
from tests.conftest import ADMIN_TOKEN, count_statements, gid, gql

NOW = datetime(2025, 6, 2, 15, 30, tzinfo=UTC)

FRAGMENTS = """
query Mixed($ids: [ID!]!, $withStats: Boolean!, $noAccount: Boolean!) {
  __typename
  nodes(ids: $ids) {
    __typename
    id
    ... on Contact { ...Person stats @include(if: $withStats) { activitiesTotal lastActivityAt } }
    ... on Account { name main: mainLocation { city } preferredContact { ...Person } }
    ... on Location { kind name account @skip(if: $noAccount) { name } }
  }
  first: contacts(first: 2, orderBy: [{field: FIRST_NAME, direction: DESC}]) {
    totalCount
    edges { cursor node { fullName } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
  again: contacts(first: 2, orderBy: [{field: FIRST_NAME, direction: DESC}]) {
    nodes { same: fullName fullName }
  }
}
fragment Person on Contact {
  fullName role documentType leadSource birthday tags customFields
  channels { kind value isPrimary }
  owner { name role team { name } }
}
"""

HISTORY = """
{
  auditEvents(first: 15) {
    nodes {
      action resourceType resourceId occurredAt changes actor { name }
      resource { __typename id ... on Contact { fullName } ... on Account { accountNo } }
    }
  }
  users(first: 10) { nodes { name email role isActive team { name } } }
}
"""


async def answer(client, query: str, variables: dict[str, Any], *, fast: bool) -> tuple:
    """The body of one request, and how many operations each execution path answered."""
    before = {path: _count(path) for path in ("fast", "fallback", "standard")}
    with execution(fast=fast):
        body = await gql(client, query, variables)
    paths = {path: _count(path) - before[path] for path in before}
    body.pop("extensions", None)  # the rate-limit budget left differs from request to request
    return body, {path: n for path, n in paths.items() if n}


def _count(path: str) -> float:
    return EXECUTIONS.labels(path)._value.get()


@pytest.fixture
async def demo(client) -> dict[str, Any]:
    await fill_demo_data(accounts=6, now=NOW)
    contact = await Contact.filter(is_preferred=True).order_by("id").first()
    location = await Location.filter(kind="OUTLET").order_by("id").first()
    assert contact is not None and location is not None
    return {
        "contact": gid("Contact", contact.id),
        "account": gid("Account", contact.account_id),
        "account_pk": contact.account_id,
        "location": gid("Location", location.id),
    }


def _cases(demo: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (SPA_LIST, {"first": 50}),
        (SPA_LIST, {"filter": {"role": "BUYER"}, "orderBy": [{"field": "CREATED_AT"}]}),
        (CONTACT_CARD, {"id": demo["contact"]}),
        (PARTNER_SLIM, {"orderBy": [{"field": "NAME", "direction": "DESC"}]}),
        (SEARCH, {"q": "jose"}),
        (
            FRAGMENTS,
            {
                "ids": [demo["contact"], demo["account"], demo["location"], gid("Contact", 10**9)],
                "withStats": True,
                "noAccount": False,
            },
        ),
        (FRAGMENTS, {"ids": [demo["location"]], "withStats": False, "noAccount": True}),
        (HISTORY, {}),
    ]


async def test_every_workload_is_answered_by_the_fast_path_as_by_graphql_core(client, demo):
    for query, variables in _cases(demo):
        served, paths = await answer(client, query, variables, fast=True)
        standard, standard_paths = await answer(client, query, variables, fast=False)
        assert "errors" not in served, served
        assert paths == {"fast": 1}, (query, paths)
        assert standard_paths == {"standard": 1}
        assert served == standard, query


async def test_an_error_deep_in_the_tree_is_reported_by_graphql_core(client, demo):
    query = "{ contacts(first: 3) { nodes { fullName activities(first: 500) { totalCount } } } }"
    served, paths = await answer(client, query, {}, fast=True)
    standard, _ = await answer(client, query, {}, fast=False)
    assert paths == {"fallback": 1}
    assert served == standard
    assert served["errors"][0]["path"] == ["contacts", "nodes", 0, "activities"]
    assert served["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_deleted_record_in_the_history_is_null_on_both_paths(client, demo):
    newest = await AuditEvent.all().order_by("-occurred_at", "-id").first()
    assert newest is not None
    await AuditEvent.filter(id=newest.id).update(resource_type="Contact", resource_id=10**9)
    served, paths = await answer(client, HISTORY, {}, fast=True)
    standard, _ = await answer(client, HISTORY, {}, fast=False)
    assert paths == {"fast": 1}
    assert served == standard
    assert served["data"]["auditEvents"]["nodes"][0]["resource"] is None


async def test_mutations_and_introspection_take_the_standard_path(client, demo):
    mutation = """mutation($id: ID!) { setPreferredContact(input: {id: $id}) {
        contact { isPreferred } errors { code } } }"""
    body, paths = await answer(client, mutation, {"id": demo["contact"]}, fast=True)
    assert "errors" not in body and paths == {"standard": 1}
    body, paths = await answer(client, "{ __schema { queryType { name } } }", {}, fast=True)
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    assert paths == {"fallback": 1}


async def test_the_fast_path_sends_no_more_statements_than_graphql_core(client, demo):
    await answer(client, SPA_LIST, {"first": 50}, fast=True)  # the token's lastUsedAt written
    counted = {}
    for fast in (True, False):
        with count_statements() as counter:
            body, _ = await answer(client, SPA_LIST, {"first": 50}, fast=fast)
        assert "errors" not in body
        counted[fast] = len(counter.statements)
    assert counted[True] <= counted[False], counted


async def test_a_token_with_a_field_allowlist_takes_the_standard_path(client, demo):
    minted = await gql(
        client,
        """mutation { createApiToken(input: {name: "slim", allowedFields: ["Contact.fullName"]})
           { secret errors { code } } }""",
    )
    secret = minted["data"]["createApiToken"]["secret"]
    before = _count("standard")
    body = await gql(client, "{ contacts(first: 2) { nodes { fullName jobTitle } } }", token=secret)
    assert _count("standard") == before + 1
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert all(node["jobTitle"] is None for node in body["data"]["contacts"]["nodes"])


async def test_the_server_collects_its_youngest_objects_less_often(app):
    from server import GC_YOUNGEST_THRESHOLD

    assert gc.get_threshold()[0] == GC_YOUNGEST_THRESHOLD > 700  # Python's default: 700


async def _cyclic_garbage(client, query: str, variables: dict[str, Any], fast: bool) -> int:
    """Objects one request leaves for the cycle collector (found unreachable afterwards)."""
    gc.collect()
    gc.disable()
    try:
        body, _ = await answer(client, query, variables, fast=fast)
        assert "errors" not in body
        return gc.collect()
    finally:
        gc.enable()


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "standard"])
async def test_the_rows_of_a_request_are_freed_without_the_cycle_collector(client, demo, fast):
    await answer(client, SPA_LIST, {"first": 5}, fast=fast)  # caches warm (parse, validation)
    few = await _cyclic_garbage(client, SPA_LIST, {"first": 5}, fast)
    many = await _cyclic_garbage(client, SPA_LIST, {"first": 50}, fast)
    # Fifty contacts with their accounts, locations, channels and activities are ~1,500
    # objects more than five: none of them may be left in a reference cycle.
    assert many - few < 50, (few, many)


NESTED_CONTACTS = """
query($id: ID!, $inactive: Boolean!) {
  node(id: $id) {
    ... on Account {
      contacts(first: 50, includeInactive: $inactive) { totalCount nodes { fullName status } }
      mainLocation {
        contacts(first: 50, includeInactive: $inactive) { totalCount nodes { fullName status } }
      }
    }
  }
}
"""


async def test_nested_contacts_include_inactive_ones_only_when_asked_on_both_paths(client, demo):
    main = await Location.filter(account_id=demo["account_pk"], kind="MAIN").first()
    assert main is not None
    await Contact.filter(location_id=main.id).update(status="INACTIVE")
    totals = {}
    for inactive in (False, True):
        variables = {"id": demo["account"], "inactive": inactive}
        served, paths = await answer(client, NESTED_CONTACTS, variables, fast=True)
        standard, _ = await answer(client, NESTED_CONTACTS, variables, fast=False)
        assert "errors" not in served and paths == {"fast": 1}
        assert served == standard
        account = served["data"]["node"]
        statuses = {n["status"] for n in account["mainLocation"]["contacts"]["nodes"]}
        assert statuses == ({"INACTIVE"} if inactive else set())
        totals[inactive] = account["contacts"]["totalCount"]
    assert totals[True] > totals[False]


def _leaf(name: str):
    return schema._schema.get_type(name)  # graphql-core's type, as the executor sees it


@pytest.mark.parametrize(
    ("type_name", "column"),
    [
        ("String", ["José", None, "ñandú"]),
        ("ID", ["Q29udGFjdDox", None]),
        ("Boolean", [True, None, False]),
        ("Int", [0, None, 2**31 - 1, -(2**31)]),
        ("Int", [True, 3]),  # a bool in an Int column is coerced, as graphql-core does
        ("DateTime", [datetime(2025, 6, 2, 15, 30, tzinfo=UTC), None]),
        ("DateTime", [datetime(2025, 6, 2, 15, 30, tzinfo=UTC)]),
        ("ContactRole", [ContactRole.BUYER, None, ContactRole.OTHER]),
        ("ContactRole", ["BUYER"]),  # a raw value is looked up by graphql-core
    ],
)
def test_a_column_of_leaves_is_serialised_as_graphql_core_serialises_each(type_name, column):
    leaf = _leaf(type_name)
    expected = [None if value is None else leaf.coerce_output_value(value) for value in column]
    serialised = _serializer(leaf)(list(column))
    assert serialised == expected
    assert list(map(type, serialised)) == list(map(type, expected))  # a StrEnum equals its name


@pytest.mark.parametrize(("type_name", "value"), [("Int", 2**31), ("Int", "3"), ("String", 3)])
def test_a_leaf_graphql_core_would_refuse_or_convert_leaves_the_fast_path(type_name, value):
    leaf = _leaf(type_name)
    try:
        expected = leaf.coerce_output_value(value)
    except Exception:
        with pytest.raises(Exception):  # noqa: B017 - the executor then falls back
            _serializer(leaf)([value])
        return
    assert _serializer(leaf)([value]) == [expected]


def test_converted_arguments_are_shared_only_by_equal_values_of_equal_types():
    from engine.executor import frozen

    lima = datetime(2025, 6, 2, 10, 30, tzinfo=timezone(timedelta(hours=-5)))
    keys = [frozen(value) for value in (1, True, 1.0, "1", lima, lima.astimezone(UTC))]
    assert len(set(keys)) == len(keys)
    nested = {"role": ContactRole.BUYER, "tags": ["vip", "lima"], "isVip": None}
    assert frozen(nested) == frozen(dict(nested)) != frozen({**nested, "tags": ["vip"]})
    with pytest.raises(TypeError):
        frozen({"custom": {1, 2}})


async def test_a_field_asked_again_with_other_variables_gets_their_answer(client, demo):
    query = """query($f: ContactFilter, $n: Int) {
      contacts(filter: $f, first: $n) { nodes { role isVip } } }"""
    asked = [
        ({"isVip": True}, 3),
        ({"isVip": False}, 4),
        ({"role": "OWNER"}, 2),
        ({"isVip": True}, 5),
    ]
    for contact_filter, first in asked:
        fast, paths = await answer(client, query, {"f": contact_filter, "n": first}, fast=True)
        nodes = fast["data"]["contacts"]["nodes"]
        assert paths["fast"] == 1 and 0 < len(nodes) <= first
        [(field, value)] = contact_filter.items()
        assert {node[field] for node in nodes} == {value}


DIRECTED = """
query($with: Boolean!, $without: Boolean!) {
  contacts(first: 2) { nodes { fullName role @include(if: $with) ...Card } }
}
fragment Card on Contact { jobTitle @skip(if: $without) }
"""


async def test_a_selection_is_collected_again_when_its_directives_read_other_values(client, demo):
    keys = []
    for with_, without in ((True, False), (False, False), (True, True), (True, False)):
        body, paths = await answer(client, DIRECTED, {"with": with_, "without": without}, fast=True)
        assert paths == {"fast": 1}
        nodes = body["data"]["contacts"]["nodes"]
        keys.append(sorted(nodes[0]))
    assert keys == [
        ["fullName", "jobTitle", "role"],
        ["fullName", "jobTitle"],
        ["fullName", "role"],
        ["fullName", "jobTitle", "role"],
    ]


async def test_a_repeated_document_reuses_its_collected_selections(client, demo, monkeypatch):
    from graphql.execution.executor import Executor

    collected = []
    collect = Executor.collect_subfields

    def counting(self, return_type, field_details_list):
        collected.append(return_type.name)
        return collect(self, return_type, field_details_list)

    monkeypatch.setattr(Executor, "collect_subfields", counting)
    card = CONTACT_CARD + "# a document no other test sent\n"
    body, paths = await answer(client, card, {"id": demo["contact"]}, fast=True)
    assert "errors" not in body and paths == {"fast": 1}
    assert {"Contact", "Account", "Location"} <= set(collected)
    first = len(collected)
    for contact_id in (demo["contact"], gid("Contact", demo["account_pk"])):
        body, paths = await answer(client, card, {"id": contact_id}, fast=True)
        assert "errors" not in body and paths == {"fast": 1}
    assert len(collected) == first, "a later request collected the selections again"


async def test_the_operators_switch_sends_every_operation_the_standard_way(client):
    """``--standard-execution``: the app sets the engine's switch for each request."""
    import httpx

    from server import GraphQLApp

    standard = GraphQLApp(schema, None, fast_execution=False)
    transport = httpx.ASGITransport(app=standard)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        before = {path: _count(path) for path in ("fast", "standard")}
        response = await http.post("/graphql", json={"query": "{ viewer { name } }"},
                                   headers=headers)  # fmt: skip
    assert response.json()["data"] == {"viewer": {"name": "Administrador"}}
    assert _count("standard") == before["standard"] + 1
    assert _count("fast") == before["fast"]
