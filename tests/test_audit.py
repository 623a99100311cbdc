"""The audit trail through the API: what changes record, and how the list filters and pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models import AuditEvent, Contact, User
from tests.conftest import gid, gql, make_account, ok

CREATE_CONTACT = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } errors { code field } }
}"""
UPDATE_CONTACT = """
mutation($input: UpdateContactInput!) {
  updateContact(input: $input) { contact { id } errors { code field } }
}"""
EVENTS = """
query($filter: AuditEventFilter, $orderBy: [AuditEventOrder!], $search: String, $first: Int,
      $after: String, $last: Int, $before: String) {
  auditEvents(filter: $filter, orderBy: $orderBy, search: $search, first: $first,
              after: $after, last: $last, before: $before) {
    nodes {
      id action resourceType resourceName resourceId occurredAt changes
      actor { id name }
      resource { __typename id ... on Contact { fullName jobTitle } }
    }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}"""


async def contact_history(client) -> tuple[str, str]:
    """José Pérez created, then given a job title; María López created. Returns their ids."""
    account, _ = await make_account()
    variables = {"input": {"accountId": gid("Account", account.id), "firstName": "José",
                           "lastName": "Pérez", "email": "jose@andina.pe"}}  # fmt: skip
    jose = (await ok(client, CREATE_CONTACT, variables))["createContact"]["contact"]["id"]
    variables = {"input": {"accountId": gid("Account", account.id), "firstName": "María",
                           "lastName": "López"}}  # fmt: skip
    maria = (await ok(client, CREATE_CONTACT, variables))["createContact"]["contact"]["id"]
    variables = {"input": {"id": jose, "jobTitle": "Gerente de compras", "isVip": True}}
    payload = (await ok(client, UPDATE_CONTACT, variables))["updateContact"]
    assert payload["errors"] == []
    return jose, maria


async def events(client, **variables) -> dict:
    return (await ok(client, EVENTS, variables))["auditEvents"]


async def test_updated_events_list_the_change_with_camel_case_from_to_and_resolve_resource(client):
    jose, _ = await contact_history(client)
    page = await events(client, filter={"action": "UPDATED"})
    assert page["totalCount"] == 1
    [event] = page["nodes"]
    assert event["resourceType"] == "Contact" and event["resourceId"] == jose
    assert event["resourceName"] == "José Pérez"
    assert event["changes"] == {
        "jobTitle": {"from": None, "to": "Gerente de compras"},
        "isVip": {"from": False, "to": True},
    }
    assert event["resource"] == {"__typename": "Contact", "id": jose, "fullName": "José Pérez",
                                 "jobTitle": "Gerente de compras"}  # fmt: skip
    admin = await User.get(role="ADMIN")
    assert event["actor"] == {"id": gid("User", admin.id), "name": admin.name}
    row = await AuditEvent.get(action="UPDATED")
    assert row.resource_id == (await Contact.get(first_name="José")).id


async def test_search_finds_events_by_resource_name_without_accents(client):
    jose, maria = await contact_history(client)
    page = await events(client, search="jose")
    assert {n["resourceId"] for n in page["nodes"]} == {jose}
    assert [n["action"] for n in page["nodes"]] == ["UPDATED", "CREATED"]
    page = await events(client, search="LÓPEZ")
    assert [n["resourceId"] for n in page["nodes"]] == [maria]


async def test_search_finds_events_by_actor_name(client):
    await contact_history(client)
    admin = await User.get(role="ADMIN")
    page = await events(client, search=admin.name.lower(), filter={"resourceType": "Contact"})
    assert page["totalCount"] == 3


async def test_period_today_includes_them_and_older_events_fall_outside(client):
    _, maria = await contact_history(client)
    page = await events(client, filter={"period": "TODAY", "resourceType": "Contact"})
    assert page["totalCount"] == 3
    old = await AuditEvent.get(
        action="CREATED", resource_id=(await Contact.get(last_name="López")).id
    )
    await AuditEvent.filter(id=old.id).update(occurred_at=datetime.now(UTC) - timedelta(days=400))
    for period in ("TODAY", "THIS_WEEK", "THIS_MONTH", "THIS_YEAR"):
        page = await events(client, filter={"period": period, "resourceType": "Contact"})
        assert maria not in {n["resourceId"] for n in page["nodes"]}, period
        assert page["totalCount"] == 2, period
    page = await events(client, filter={"resourceType": "Contact"})
    assert page["totalCount"] == 3


async def test_occurred_before_in_the_past_excludes_them_and_after_includes_them(client):
    await contact_history(client)
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    page = await events(client, filter={"occurredBefore": hour_ago})
    assert page["totalCount"] == 0 and page["nodes"] == []
    page = await events(client, filter={"occurredAfter": hour_ago, "resourceType": "Contact"})
    assert page["totalCount"] == 3


async def test_a_range_that_ends_before_it_starts_is_a_coded_error(client):
    now = datetime.now(UTC)
    body = await gql(
        client,
        EVENTS,
        {"filter": {"occurredAfter": now.isoformat(),
                    "occurredBefore": (now - timedelta(days=1)).isoformat()}},
    )  # fmt: skip
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_contact_audit_events_list_its_history_newest_first(client):
    jose, _ = await contact_history(client)
    query = """query($id: ID!) { node(id: $id) { ... on Contact {
      auditEvents { nodes { action changes resource { id } } totalCount } } } }"""
    history = (await ok(client, query, {"id": jose}))["node"]["auditEvents"]
    assert [n["action"] for n in history["nodes"]] == ["UPDATED", "CREATED"]
    assert history["totalCount"] == 2
    assert {n["resource"]["id"] for n in history["nodes"]} == {jose}
    assert history["nodes"][1]["changes"]["firstName"] == {"from": None, "to": "José"}


async def test_default_order_is_newest_first_and_keyset_pages_both_ways(client):
    await contact_history(client)
    every = await events(client)
    ids = [n["id"] for n in every["nodes"]]
    times = [n["occurredAt"] for n in every["nodes"]]
    assert times == sorted(times, reverse=True)
    assert every["totalCount"] == len(ids) == 4  # bootstrap admin + three contact changes
    first = await events(client, first=2)
    assert [n["id"] for n in first["nodes"]] == ids[:2]
    rest = await events(client, first=2, after=first["pageInfo"]["endCursor"])
    assert [n["id"] for n in rest["nodes"]] == ids[2:]
    assert rest["pageInfo"]["hasNextPage"] is False
    back = await events(client, last=2, before=rest["pageInfo"]["startCursor"])
    assert [n["id"] for n in back["nodes"]] == ids[:2]
    oldest_first = [{"field": "OCCURRED_AT", "direction": "ASC"}]
    ascending = await events(client, orderBy=oldest_first)
    assert [n["id"] for n in ascending["nodes"]] == ids[::-1]
    newest_first = await events(client, orderBy=[{"field": "OCCURRED_AT"}])
    assert [n["id"] for n in newest_first["nodes"]] == ids  # DESC is the default direction
    cursor = first["pageInfo"]["endCursor"]
    body = await gql(client, EVENTS, {"orderBy": oldest_first, "after": cursor})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"  # cursor of another order


async def test_filter_by_action_and_resource_type(client):
    await contact_history(client)
    created = await events(client, filter={"action": "CREATED"})
    assert {n["resourceType"] for n in created["nodes"]} == {"Contact", "User"}
    users = await events(client, filter={"resourceType": "User"})
    assert [n["action"] for n in users["nodes"]] == ["CREATED"]
    assert users["nodes"][0]["actor"] is None  # the bootstrap admin was made by the system


@pytest.mark.parametrize("role", ["AGENT", "PARTNER"])
async def test_only_admins_and_managers_read_the_whole_trail(client, role):
    create_user = """mutation($input: CreateUserInput!) { createUser(input: $input) {
      user { id } } }"""
    data = await ok(
        client, create_user, {"input": {"name": "X", "email": "x@crm.pe", "role": role}}
    )
    token = (
        """mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { secret } }"""
    )
    secret = (
        await ok(
            client, token, {"input": {"name": "t", "userId": data["createUser"]["user"]["id"]}}
        )
    )["createApiToken"]["secret"]
    body = await gql(client, EVENTS, token=secret)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["data"] is None


def test_periods_are_days_of_the_servers_time_zone_at_8pm_in_lima():
    from resolvers.audit_log import period_start, time_zone

    # 20:00 in Lima on Sunday 31 December is 01:00 UTC on Monday 1 January.
    now = datetime(2024, 1, 1, 1, 0, tzinfo=UTC)
    with time_zone("America/Lima"):
        assert period_start("TODAY", now) == datetime(2023, 12, 31, 5, 0, tzinfo=UTC)
        assert period_start("THIS_WEEK", now) == datetime(2023, 12, 25, 5, 0, tzinfo=UTC)
        assert period_start("THIS_MONTH", now) == datetime(2023, 12, 1, 5, 0, tzinfo=UTC)
        assert period_start("THIS_YEAR", now) == datetime(2023, 1, 1, 5, 0, tzinfo=UTC)
    with time_zone("UTC"):  # the day UTC already began
        assert period_start("TODAY", now) == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
        assert period_start("THIS_YEAR", now) == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)


async def test_an_event_at_7pm_in_lima_is_today_there_though_utc_began_a_new_day(
    app, client, monkeypatch
):
    from resolvers import audit_log

    await contact_history(client)
    # 20:00 in Lima (01:00 UTC next day); events at 18:00 in Lima (23:00 UTC) are today's.
    now = datetime(2024, 1, 1, 1, 0, tzinfo=UTC)
    real = audit_log.period_start
    monkeypatch.setattr(audit_log, "period_start", lambda period: real(period, now))
    await AuditEvent.all().update(occurred_at=now - timedelta(hours=2))
    page = await events(client, filter={"period": "TODAY", "resourceType": "Contact"})
    assert page["totalCount"] == 3  # a UTC day began at 00:00 UTC and would miss them


def test_a_time_zone_zoneinfo_does_not_know_is_refused_at_start_up():
    from settings import load_settings

    assert load_settings([], {}).time_zone == "America/Lima"
    assert load_settings(["--time-zone", "Europe/Madrid"], {}).time_zone == "Europe/Madrid"
    assert load_settings([], {"CRM_TIME_ZONE": "UTC"}).time_zone == "UTC"
    for bad in ("Mars/Olympus", "../etc/passwd", ""):
        with pytest.raises(SystemExit):
            load_settings(["--time-zone", bad], {})
