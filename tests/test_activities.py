"""Activities through the API: placement, rule 2, statuses, bad input, stats and paging."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from models import Activity, AuditEvent, Contact, Location, User
from tests.conftest import gid, gql, make_account, ok

FIELDS = """
  id kind subject body status startsAt endsAt dueAt completedAt durationSeconds callDirection
  createdAt account { id } location { id } contact { id } owner { id }
"""
CREATE = (
    "mutation($input: CreateActivityInput!) { createActivity(input: $input) { activity {"
    + FIELDS
    + "} errors { code field message } } }"
)
UPDATE = (
    "mutation($input: UpdateActivityInput!) { updateActivity(input: $input) { activity {"
    + FIELDS
    + "} errors { code field message } } }"
)
DELETE = (
    "mutation($input: DeleteActivityInput!) { deleteActivity(input: $input) { activity {"
    + FIELDS
    + "} errors { code field message } } }"
)
STATS = """
query($id: ID!) { node(id: $id) { ... on Contact { stats {
  activitiesTotal activitiesNotStarted activitiesCompleted firstActivityAt lastActivityAt
  eventsTotal eventsPlanned eventsHeld eventsNotHeld firstEventAt lastEventAt
} } } }"""


@dataclass
class World:
    account: object
    main: Location
    outlet: Location
    other_account: object
    other_main: Location
    ana: Contact  # preferred at the main location
    luis: Contact  # preferred at the outlet
    eva: Contact  # at the main location, not preferred


async def make_world() -> World:
    account, main = await make_account("Bodega Central")
    outlet = await Location.create(account_id=account.id, kind="OUTLET", name="Punto Miraflores")
    other_account, other_main = await make_account("Ferretería Lima")
    ana = await Contact.create(account_id=account.id, location_id=main.id, first_name="Ana",
                               last_name="Gómez", is_preferred=True)  # fmt: skip
    luis = await Contact.create(account_id=account.id, location_id=outlet.id, first_name="Luis",
                                last_name="Chávez", is_preferred=True)  # fmt: skip
    eva = await Contact.create(account_id=account.id, location_id=main.id, first_name="Eva",
                               last_name="Ruiz")  # fmt: skip
    return World(account, main, outlet, other_account, other_main, ana, luis, eva)


async def create(client, **fields) -> dict:
    data = await ok(client, CREATE, {"input": {"kind": "CALL", "subject": "Llamada", **fields}})
    return data["createActivity"]


async def created(client, **fields) -> dict:
    payload = await create(client, **fields)
    assert payload["errors"] == [], payload["errors"]
    return payload["activity"]


async def update(client, **fields) -> dict:
    return (await ok(client, UPDATE, {"input": fields}))["updateActivity"]


async def counts() -> tuple[int, int]:
    return await Activity.all().count(), await AuditEvent.all().count()


def at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def test_create_activity_for_contact_takes_its_account_location_and_writes_audit(client):
    w = await make_world()
    activity = await created(
        client, contactId=gid("Contact", w.luis.id), subject="  Visita   de cobranza ",
        kind="MEETING", startsAt="2026-03-02T15:00:00Z", endsAt="2026-03-02T16:00:00Z",
        durationSeconds=3600, body="Llevar\nfacturas",
    )  # fmt: skip
    assert activity["subject"] == "Visita de cobranza"
    assert activity["status"] == "PLANNED"
    assert activity["account"] == {"id": gid("Account", w.account.id)}
    assert activity["location"] == {"id": gid("Location", w.outlet.id)}
    assert activity["contact"] == {"id": gid("Contact", w.luis.id)}
    admin = await User.get(role="ADMIN")
    assert activity["owner"] == {"id": gid("User", admin.id)}
    row = await Activity.get(contact_id=w.luis.id)
    assert (row.account_id, row.location_id, row.owner_id) == (w.account.id, w.outlet.id, admin.id)
    assert row.starts_at == datetime(2026, 3, 2, 15, tzinfo=UTC)
    assert row.body == "Llevar\nfacturas"
    assert row.search_text == "visita de cobranza"
    event = await AuditEvent.get(resource_type="Activity", resource_id=row.id)
    assert (event.action, event.resource_name, event.actor_id) == (
        "CREATED", "Visita de cobranza", admin.id,
    )  # fmt: skip
    assert event.changes["status"] == {"from": None, "to": "PLANNED"}
    assert event.changes["contactId"] == {"from": None, "to": w.luis.id}


async def test_contact_with_another_location_of_its_account_keeps_the_given_location(client):
    w = await make_world()
    activity = await created(
        client, contactId=gid("Contact", w.ana.id), accountId=gid("Account", w.account.id),
        locationId=gid("Location", w.outlet.id),
    )  # fmt: skip
    assert activity["location"] == {"id": gid("Location", w.outlet.id)}
    assert activity["contact"] == {"id": gid("Contact", w.ana.id)}


@pytest.mark.parametrize(
    ("kind", "status"),
    [("CALL", "PLANNED"), ("MEETING", "PLANNED"), ("TASK", "NOT_STARTED"),
     ("EMAIL", "NOT_STARTED"), ("NOTE", None)],
)  # fmt: skip
async def test_status_defaults_by_kind(client, kind, status):
    w = await make_world()
    activity = await created(client, accountId=gid("Account", w.account.id), kind=kind)
    assert activity["status"] == status
    row = await Activity.get(account_id=w.account.id)
    assert row.status == status


async def test_completed_without_completed_at_is_completed_now(client):
    w = await make_world()
    before = datetime.now(UTC)
    activity = await created(client, contactId=gid("Contact", w.ana.id), kind="TASK",
                             status="COMPLETED", dueAt="2026-01-10T12:00:00Z")  # fmt: skip
    completed = at(activity["completedAt"])
    assert completed is not None and before <= completed <= datetime.now(UTC)
    given = await created(client, contactId=gid("Contact", w.ana.id), kind="EMAIL",
                          status="COMPLETED", completedAt="2026-01-05T09:30:00Z")  # fmt: skip
    assert at(given["completedAt"]) == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


async def test_rule2_activity_without_contact_gets_the_locations_preferred_contact(client):
    w = await make_world()
    by_account = await created(client, accountId=gid("Account", w.account.id))
    assert by_account["location"] == {"id": gid("Location", w.main.id)}
    assert by_account["contact"] == {"id": gid("Contact", w.ana.id)}
    by_outlet = await created(client, locationId=gid("Location", w.outlet.id))
    assert by_outlet["account"] == {"id": gid("Account", w.account.id)}
    assert by_outlet["contact"] == {"id": gid("Contact", w.luis.id)}
    nobody = await created(client, accountId=gid("Account", w.other_account.id))
    assert nobody["location"] == {"id": gid("Location", w.other_main.id)}
    assert nobody["contact"] is None
    rows = await Activity.all().order_by("id").values_list("location_id", "contact_id")
    assert rows == [(w.main.id, w.ana.id), (w.outlet.id, w.luis.id), (w.other_main.id, None)]


async def test_rule2_skips_an_inactive_preferred_contact(client):
    w = await make_world()
    await Contact.filter(id=w.ana.id).update(status="INACTIVE")
    activity = await created(client, accountId=gid("Account", w.account.id))
    assert activity["contact"] is None


BAD_INPUTS = {
    "no target": (lambda w: {}, "TARGET_REQUIRED", None),
    "contact not at the given account": (
        lambda w: {"contactId": gid("Contact", w.ana.id),
                   "accountId": gid("Account", w.other_account.id)},
        "CONTACT_MISMATCH", ["contactId"],
    ),
    "location of another account": (
        lambda w: {"accountId": gid("Account", w.account.id),
                   "locationId": gid("Location", w.other_main.id)},
        "LOCATION_MISMATCH", ["locationId"],
    ),
    "contact with a location of another account": (
        lambda w: {"contactId": gid("Contact", w.ana.id),
                   "locationId": gid("Location", w.other_main.id)},
        "LOCATION_MISMATCH", ["locationId"],
    ),
    "HELD on a TASK": (
        lambda w: {"accountId": gid("Account", w.account.id), "kind": "TASK", "status": "HELD"},
        "INVALID_STATUS", ["status"],
    ),
    "COMPLETED on a CALL": (
        lambda w: {"accountId": gid("Account", w.account.id), "status": "COMPLETED"},
        "INVALID_STATUS", ["status"],
    ),
    "a status on a NOTE": (
        lambda w: {"accountId": gid("Account", w.account.id), "kind": "NOTE",
                   "status": "NOT_STARTED"},
        "INVALID_STATUS", ["status"],
    ),
    "blank subject": (
        lambda w: {"accountId": gid("Account", w.account.id), "subject": "  \t "},
        "BLANK", ["subject"],
    ),
    "subject over 200": (
        lambda w: {"accountId": gid("Account", w.account.id), "subject": "x" * 201},
        "TOO_LONG", ["subject"],
    ),
    "body over 10000": (
        lambda w: {"accountId": gid("Account", w.account.id), "body": "y" * 10_001},
        "TOO_LONG", ["body"],
    ),
    "endsAt before startsAt": (
        lambda w: {"accountId": gid("Account", w.account.id),
                   "startsAt": "2026-03-02T15:00:00Z", "endsAt": "2026-03-02T14:59:59Z"},
        "INVALID_DATE", ["endsAt"],
    ),
    "negative duration": (
        lambda w: {"accountId": gid("Account", w.account.id), "durationSeconds": -1},
        "OUT_OF_RANGE", ["durationSeconds"],
    ),
    "duration over a week": (
        lambda w: {"accountId": gid("Account", w.account.id), "durationSeconds": 604_801},
        "OUT_OF_RANGE", ["durationSeconds"],
    ),
    "callDirection on a meeting": (
        lambda w: {"accountId": gid("Account", w.account.id), "kind": "MEETING",
                   "callDirection": "INBOUND"},
        "INVALID_KIND", ["callDirection"],
    ),
    "malformed contact id": (
        lambda w: {"contactId": "not-an-id"}, "INVALID_ID", ["contactId"],
    ),
    "a Contact id as accountId": (
        lambda w: {"accountId": gid("Contact", w.ana.id)}, "INVALID_ID", ["accountId"],
    ),
    "a Location id as contactId": (
        lambda w: {"contactId": gid("Location", w.main.id)}, "INVALID_ID", ["contactId"],
    ),
    "unknown contact": (
        lambda w: {"contactId": gid("Contact", 999_999)}, "NOT_FOUND", ["contactId"],
    ),
    "unknown location": (
        lambda w: {"locationId": gid("Location", 999_999)}, "NOT_FOUND", ["locationId"],
    ),
    "unknown owner": (
        lambda w: {"accountId": gid("Account", w.account.id), "ownerId": gid("User", 999_999)},
        "NOT_FOUND", ["ownerId"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
async def test_bad_create_input_is_refused_with_nothing_written(client, case):
    w = await make_world()
    build, code, field = BAD_INPUTS[case]
    before = await counts()
    payload = await create(client, **build(w))
    assert payload["activity"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert payload["errors"][0]["message"]
    assert await counts() == before


async def test_every_problem_of_an_input_comes_back_at_once(client):
    w = await make_world()
    before = await counts()
    payload = await create(client, accountId=gid("Account", w.account.id), kind="TASK",
                           subject="", status="HELD", durationSeconds=-5)  # fmt: skip
    assert {(e["code"], tuple(e["field"])) for e in payload["errors"]} == {
        ("BLANK", ("subject",)), ("OUT_OF_RANGE", ("durationSeconds",)),
        ("INVALID_STATUS", ("status",)),
    }  # fmt: skip
    assert await counts() == before


async def test_invalid_kind_is_a_graphql_validation_error_with_nothing_written(client):
    w = await make_world()
    before = await counts()
    literal = await gql(
        client,
        'mutation($a: ID) { createActivity(input: {accountId: $a, kind: PHONECALL, subject: "x"})'
        " { activity { id } errors { code } } }",
        {"a": gid("Account", w.account.id)},
    )
    assert literal.get("data") is None
    assert [e["extensions"]["code"] for e in literal["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    bad_kind = {"accountId": gid("Account", w.account.id), "kind": "PHONECALL", "subject": "x"}
    variable = await gql(client, CREATE, {"input": bad_kind})
    assert variable.get("data") is None
    # Through a variable the value fails coercion, which the API reports as BAD_USER_INPUT.
    assert [e["extensions"]["code"] for e in variable["errors"]] == ["BAD_USER_INPUT"]
    assert await counts() == before


async def test_not_signed_in_cannot_create(client):
    w = await make_world()
    before = await counts()
    fields = {"accountId": gid("Account", w.account.id), "kind": "CALL", "subject": "x"}
    body = await gql(client, CREATE, {"input": fields}, token=None)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await counts() == before


async def test_update_activity_changes_only_what_is_sent_and_audits_the_diff(client):
    w = await make_world()
    activity = await created(client, contactId=gid("Contact", w.ana.id), kind="CALL",
                             callDirection="OUTBOUND", body="Primer contacto")  # fmt: skip
    payload = await update(client, id=activity["id"], status="HELD", subject="Llamada hecha",
                           durationSeconds=300)  # fmt: skip
    assert payload["errors"] == []
    changed = payload["activity"]
    assert (changed["status"], changed["subject"], changed["durationSeconds"]) == (
        "HELD", "Llamada hecha", 300,
    )  # fmt: skip
    assert (changed["body"], changed["callDirection"]) == ("Primer contacto", "OUTBOUND")
    row = await Activity.get(id=(await Activity.first()).id)
    assert (row.status, row.subject, row.search_text) == ("HELD", "Llamada hecha", "llamada hecha")
    event = await AuditEvent.get(resource_type="Activity", action="UPDATED")
    assert event.changes == {
        "status": {"from": "PLANNED", "to": "HELD"},
        "subject": {"from": "Llamada", "to": "Llamada hecha"},
        "durationSeconds": {"from": None, "to": 300},
    }
    assert event.resource_name == "Llamada hecha"


async def test_update_kind_revalidates_status_and_call_direction(client):
    w = await make_world()
    activity = await created(client, contactId=gid("Contact", w.ana.id), kind="CALL",
                             status="HELD", callDirection="INBOUND")  # fmt: skip
    before = await counts()
    refused = await update(client, id=activity["id"], kind="TASK", status="HELD")
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_STATUS", ["status"])]
    refused = await update(client, id=activity["id"], status="COMPLETED")
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_STATUS", ["status"])]
    refused = await update(client, id=activity["id"], status=None)
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_STATUS", ["status"])]
    refused = await update(client, id=activity["id"], kind="MEETING", callDirection="OUTBOUND")
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("INVALID_KIND", ["callDirection"])
    ]
    refused = await update(client, id=activity["id"], endsAt="2020-01-01T00:00:00Z",
                           startsAt="2020-01-02T00:00:00Z")  # fmt: skip
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_DATE", ["endsAt"])]
    refused = await update(client, id=activity["id"], subject=None)
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("REQUIRED", ["subject"])]
    assert await counts() == before
    row = await Activity.get(id=(await Activity.first()).id)
    assert (row.kind, row.status, row.call_direction) == ("CALL", "HELD", "INBOUND")

    # A status that no longer fits the new kind starts over with the new kind's default.
    task = (await update(client, id=activity["id"], kind="TASK"))["activity"]
    assert (task["kind"], task["status"], task["callDirection"]) == ("TASK", "NOT_STARTED", None)
    note = (await update(client, id=activity["id"], kind="NOTE"))["activity"]
    assert note["status"] is None
    done = (await update(client, id=activity["id"], kind="EMAIL", status="COMPLETED"))["activity"]
    assert (done["status"], done["completedAt"] is not None) == ("COMPLETED", True)


async def test_update_target_places_the_activity_anew_and_refuses_mismatches(client):
    w = await make_world()
    activity = await created(client, contactId=gid("Contact", w.ana.id))
    before = await counts()
    for fields, code, field in (
        ({"contactId": gid("Contact", w.ana.id), "accountId": gid("Account", w.other_account.id)},
         "CONTACT_MISMATCH", ["contactId"]),
        ({"accountId": gid("Account", w.account.id),
          "locationId": gid("Location", w.other_main.id)},
         "LOCATION_MISMATCH", ["locationId"]),
        ({"accountId": None, "contactId": None}, "TARGET_REQUIRED", None),
        ({"id": gid("Contact", w.ana.id)}, "INVALID_ID", ["id"]),
        ({"id": gid("Activity", 999_999)}, "NOT_FOUND", ["id"]),
    ):  # fmt: skip
        payload = await update(client, **{"id": activity["id"], **fields})
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], fields
        assert payload["activity"] is None
    assert await counts() == before
    moved = await update(client, id=activity["id"], locationId=gid("Location", w.outlet.id))
    assert moved["activity"]["contact"] == {"id": gid("Contact", w.luis.id)}  # rule 2 again
    row = await Activity.get(id=(await Activity.first()).id)
    assert (row.account_id, row.location_id, row.contact_id) == (
        w.account.id, w.outlet.id, w.luis.id,
    )  # fmt: skip
    event = await AuditEvent.filter(resource_type="Activity", action="UPDATED").get()
    assert event.changes == {
        "locationId": {"from": w.main.id, "to": w.outlet.id},
        "contactId": {"from": w.ana.id, "to": w.luis.id},
    }


async def test_delete_activity_returns_it_as_it_was_and_audits(client):
    w = await make_world()
    activity = await created(client, contactId=gid("Contact", w.eva.id), kind="TASK",
                             subject="Enviar cotización", dueAt="2026-04-01T17:00:00Z")  # fmt: skip
    data = await ok(client, DELETE, {"input": {"id": activity["id"]}})
    payload = data["deleteActivity"]
    assert payload["errors"] == []
    assert payload["activity"]["id"] == activity["id"]
    assert payload["activity"]["subject"] == "Enviar cotización"
    assert payload["activity"]["contact"] == {"id": gid("Contact", w.eva.id)}
    assert await Activity.all().count() == 0
    event = await AuditEvent.get(resource_type="Activity", action="DELETED")
    assert event.resource_name == "Enviar cotización"
    assert event.changes["status"] == {"from": "NOT_STARTED", "to": None}
    gone = await ok(client, "query($id: ID!) { node(id: $id) { id } }", {"id": activity["id"]})
    assert gone["node"] is None
    before = await counts()
    again = (await ok(client, DELETE, {"input": {"id": activity["id"]}}))["deleteActivity"]
    assert [(e["code"], e["field"]) for e in again["errors"]] == [("NOT_FOUND", ["id"])]
    wrong = (await ok(client, DELETE, {"input": {"id": "???"}}))["deleteActivity"]
    assert [(e["code"], e["field"]) for e in wrong["errors"]] == [("INVALID_ID", ["id"])]
    assert await counts() == before


def expected_stats(activities: list[dict]) -> dict:
    """ContactStats computed by hand from the activities as the API returned them."""
    events = [a for a in activities if a["kind"] in ("CALL", "MEETING")]
    todos = [a for a in activities if a["kind"] in ("TASK", "EMAIL")]
    created = [at(a["createdAt"]) for a in activities]
    starts = [at(a["startsAt"]) for a in events if a["startsAt"]]
    return {
        "activitiesTotal": len(activities),
        "activitiesNotStarted": sum(a["status"] == "NOT_STARTED" for a in todos),
        "activitiesCompleted": sum(a["status"] == "COMPLETED" for a in todos),
        "firstActivityAt": min(created, default=None),
        "lastActivityAt": max(created, default=None),
        "eventsTotal": len(events),
        "eventsPlanned": sum(a["status"] == "PLANNED" for a in events),
        "eventsHeld": sum(a["status"] == "HELD" for a in events),
        "eventsNotHeld": sum(a["status"] == "NOT_HELD" for a in events),
        "firstEventAt": min(starts, default=None),
        "lastEventAt": max(starts, default=None),
    }


async def stats_of(client, contact: Contact) -> dict:
    data = await ok(client, STATS, {"id": gid("Contact", contact.id)})
    stats = data["node"]["stats"]
    for key in ("firstActivityAt", "lastActivityAt", "firstEventAt", "lastEventAt"):
        stats[key] = at(stats[key])
    return stats


async def test_contact_stats_equal_what_the_activities_say(client):
    w = await make_world()
    assert await stats_of(client, w.ana) == expected_stats([])
    ana = gid("Contact", w.ana.id)
    specs = [
        {"kind": "CALL", "status": "HELD", "startsAt": "2026-02-03T10:00:00Z"},
        {"kind": "MEETING", "startsAt": "2026-02-10T15:00:00Z"},
        {"kind": "CALL", "status": "NOT_HELD", "startsAt": "2026-01-20T09:00:00Z"},
        {"kind": "CALL"},  # planned, no start yet
        {"kind": "TASK"},
        {"kind": "TASK", "status": "COMPLETED"},
        {"kind": "EMAIL", "status": "COMPLETED"},
        {"kind": "EMAIL", "status": "IN_PROGRESS"},
        {"kind": "NOTE"},
    ]
    mine = [await created(client, contactId=ana, **spec) for spec in specs]
    # Activities of others must not count: another contact, and an account-level one for eva.
    await created(client, contactId=gid("Contact", w.luis.id), kind="TASK")
    await created(client, accountId=gid("Account", w.other_account.id), kind="CALL")
    stats = await stats_of(client, w.ana)
    assert stats == expected_stats(mine)
    assert (stats["activitiesTotal"], stats["eventsTotal"], stats["eventsHeld"]) == (9, 4, 1)
    assert stats["firstEventAt"] == datetime(2026, 1, 20, 9, tzinfo=UTC)
    assert stats["lastEventAt"] == datetime(2026, 2, 10, 15, tzinfo=UTC)

    meeting = (await update(client, id=mine[1]["id"], status="HELD"))["activity"]
    mine[1] = meeting
    task = (await update(client, id=mine[4]["id"], status="COMPLETED"))["activity"]
    mine[4] = task
    stats = await stats_of(client, w.ana)
    assert stats == expected_stats(mine)
    assert (stats["eventsPlanned"], stats["eventsHeld"], stats["activitiesCompleted"]) == (1, 2, 3)

    await ok(client, DELETE, {"input": {"id": mine[0]["id"]}})
    moved = await update(client, id=mine[2]["id"], contactId=gid("Contact", w.eva.id))
    assert moved["errors"] == []
    remaining = [a for i, a in enumerate(mine) if i not in (0, 2)]
    stats = await stats_of(client, w.ana)
    assert stats == expected_stats(remaining)
    assert stats["firstEventAt"] == datetime(2026, 2, 10, 15, tzinfo=UTC)
    assert await stats_of(client, w.eva) == expected_stats([moved["activity"]])


NESTED = """
query($id: ID!, $after: String) { node(id: $id) { ... on Contact {
  activities(first: 3, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor } nodes { id subject }
  }
} } }"""


async def test_contact_activities_are_newest_first_and_page_with_after(client):
    w = await make_world()
    ana = gid("Contact", w.ana.id)
    made = [await created(client, contactId=ana, subject=f"Actividad {n}") for n in range(5)]
    await created(client, contactId=gid("Contact", w.eva.id), subject="De Eva")
    newest_first = [a["id"] for a in reversed(made)]

    page = (await ok(client, NESTED, {"id": ana}))["node"]["activities"]
    assert [n["id"] for n in page["nodes"]] == newest_first[:3]
    assert page["totalCount"] == 5
    assert (page["pageInfo"]["hasNextPage"], page["pageInfo"]["hasPreviousPage"]) == (True, False)

    # A newer activity arriving between pages does not shift the keyset cursor.
    await created(client, contactId=ana, subject="Más nueva")
    rest = await ok(client, NESTED, {"id": ana, "after": page["pageInfo"]["endCursor"]})
    rest = rest["node"]["activities"]
    assert [n["id"] for n in rest["nodes"]] == newest_first[3:]
    assert (rest["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasPreviousPage"]) == (False, True)
    assert rest["totalCount"] == 6


LIST = """
query($filter: ActivityFilter, $orderBy: [ActivityOrder!], $search: String, $first: Int) {
  activities(filter: $filter, orderBy: $orderBy, search: $search, first: $first) {
    totalCount nodes { id subject kind status }
  }
}"""


async def test_root_activities_list_filters_searches_and_orders(client):
    w = await make_world()
    call = await created(client, contactId=gid("Contact", w.ana.id), subject="Llamada a José",
                         callDirection="INBOUND")  # fmt: skip
    task = await created(client, contactId=gid("Contact", w.ana.id), kind="TASK",
                         subject="Cotización")  # fmt: skip
    other = await created(client, accountId=gid("Account", w.other_account.id), kind="MEETING",
                          subject="Reunión anual")  # fmt: skip

    async def ids(**variables) -> list[str]:
        return [n["id"] for n in (await ok(client, LIST, variables))["activities"]["nodes"]]

    assert await ids() == [other["id"], task["id"], call["id"]]
    assert await ids(orderBy=[{"field": "CREATED_AT", "direction": "ASC"}]) == [
        call["id"], task["id"], other["id"],
    ]  # fmt: skip
    assert await ids(filter={"accountId": gid("Account", w.account.id)}) == [task["id"], call["id"]]
    assert await ids(filter={"contactId": gid("Contact", w.ana.id), "kind": "TASK"}) == [task["id"]]
    assert await ids(filter={"status": "PLANNED"}) == [other["id"], call["id"]]
    assert await ids(filter={"callDirection": "INBOUND"}) == [call["id"]]
    assert await ids(filter={"locationId": gid("Location", w.other_main.id)}) == [other["id"]]
    assert await ids(search="jose") == [call["id"]]
    assert await ids(search="REUNION") == [other["id"]]
    assert await ids(filter={"createdAfter": "2100-01-01T00:00:00Z"}) == []
    bad = await gql(client, LIST, {"filter": {"accountId": gid("Contact", w.ana.id)}})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    too_many = await gql(client, LIST, {"first": 101})
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    anonymous = await gql(client, LIST, {}, token=None)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
