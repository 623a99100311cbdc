"""The named workloads: what a front end, a partner and a search box ask of the API.

Each read workload is a pool of concrete requests (a GraphQL document and its variables),
sampled once per database from its own rows with a fixed seed, so the server and the floor
are driven with exactly the same requests. ``write-mix`` is a pool of scripts of four
mutations, the later ones using the contact the first one created.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tortoise import connections

from bench.generate import REFERENCE_TIME
from models.base import digits, fold
from resolvers.ids import encode_id

VARIANTS = 64
WRITE_VARIANTS = 16
SEED = 11

READ_WORKLOADS = ("spa-list", "contact-card", "partner-slim", "search")
WRITE_WORKLOAD = "write-mix"
WORKLOADS = (*READ_WORKLOADS, WRITE_WORKLOAD)

SPA_LIST = """
query SpaList($filter: ContactFilter, $orderBy: [ContactOrder!], $first: Int) {
  contacts(filter: $filter, orderBy: $orderBy, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id contactNo fullName jobTitle role isVip isPreferred status
      email phone mobile
      account { id name }
      location { id name city }
      stats { activitiesTotal activitiesNotStarted activitiesCompleted eventsTotal lastActivityAt }
      activities(first: 3) { nodes { id kind subject status createdAt } }
    }
  }
}
"""

CONTACT_CARD = """
query ContactCard($id: ID!) {
  node(id: $id) {
    ... on Contact {
      id contactNo salutation firstName lastName fullName jobTitle role homePhone birthday
      imageUrl documentType documentNumber isVip isPreferred portalUser emailOptOut
      leadSource captureSource convertedFromLead status tags customFields createdAt updatedAt
      email phone mobile
      channels { id kind value label isPrimary createdAt }
      addresses { id kind name street exteriorNumber district neighborhood city state country }
      defaultShippingAddress { id name street city }
      owner { id name email }
      createdBy { id name }
      location { id kind name street exteriorNumber interiorNumber neighborhood district city
                 province state country postalCode reference }
      account {
        id accountNo name legalName taxId industry website email phone isVip status tags
        owner { id name }
        locations(first: 20) {
          totalCount
          nodes { id kind name street exteriorNumber neighborhood district city state country
                  postalCode preferredContact { id fullName } }
        }
      }
      stats {
        activitiesTotal activitiesNotStarted activitiesCompleted firstActivityAt lastActivityAt
        eventsTotal eventsPlanned eventsHeld eventsNotHeld firstEventAt lastEventAt
      }
      activities(first: 20) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { id kind subject body status startsAt endsAt dueAt completedAt durationSeconds
                callDirection createdAt owner { id name } }
      }
      auditEvents(first: 10) {
        nodes { id action resourceType resourceName occurredAt changes actor { id name } }
      }
    }
  }
}
"""

PARTNER_SLIM = """
query PartnerSlim($filter: AccountFilter, $orderBy: [AccountOrder!]) {
  accounts(first: 100, filter: $filter, orderBy: $orderBy) {
    pageInfo { hasNextPage endCursor }
    nodes { id name contacts(first: 10) { nodes { id fullName email } } }
  }
}
"""

SEARCH = """
query Search($q: String!) {
  contacts(search: $q, first: 20) {
    nodes { id contactNo fullName jobTitle email mobile account { id name } }
  }
}
"""

CREATE_CONTACT = """
mutation CreateContact($input: CreateContactInput!) {
  createContact(input: $input) {
    contact { id contactNo fullName email mobile isPreferred }
    errors { code field message }
  }
}
"""

CREATE_ACTIVITY = """
mutation CreateActivity($input: CreateActivityInput!) {
  createActivity(input: $input) {
    activity { id kind subject status startsAt }
    errors { code field message }
  }
}
"""

SET_PREFERRED = """
mutation SetPreferred($input: SetPreferredContactInput!) {
  setPreferredContact(input: $input) {
    contact { id isPreferred }
    errors { code field message }
  }
}
"""

UPDATE_CONTACT = """
mutation UpdateContact($input: UpdateContactInput!) {
  updateContact(input: $input) {
    contact { id jobTitle isVip updatedAt }
    errors { code field message }
  }
}
"""

SPA_FILTERS: tuple[dict[str, Any], ...] = (
    {},
    {"role": "BUYER"},
    {"isVip": True},
    {"leadSource": "TRADE_SHOW"},
    {"role": "MANAGER", "isVip": False},
    {"createdAfter": (REFERENCE_TIME - timedelta(days=90)).isoformat()},
    {"tag": "decisor"},
    {"isPreferred": True},
)
SPA_ORDERS: tuple[list[dict[str, str]], ...] = (
    [{"field": "LAST_NAME", "direction": "ASC"}],
    [{"field": "CREATED_AT", "direction": "DESC"}],
    [{"field": "UPDATED_AT", "direction": "DESC"}],
    [{"field": "FIRST_NAME", "direction": "ASC"}],
)
ACCOUNT_FILTERS: tuple[dict[str, Any], ...] = (
    {},
    {"isVip": True},
    {"industry": "Retail"},
    {"industry": "Farmacia"},
    {"tag": "mayorista"},
)
ACCOUNT_ORDERS: tuple[list[dict[str, str]], ...] = (
    [{"field": "NAME", "direction": "ASC"}],
    [{"field": "CREATED_AT", "direction": "DESC"}],
    [{"field": "ACCOUNT_NO", "direction": "ASC"}],
)


@dataclass(frozen=True, slots=True)
class Request:
    """One GraphQL request: a document and its variables."""

    query: str
    variables: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {"query": self.query, "variables": self.variables}


@dataclass(frozen=True, slots=True)
class WriteScript:
    """Where one ``write-mix`` round writes, and who it writes about."""

    account_id: str
    location_id: str
    first_name: str
    last_name: str
    job_title: str

    def email(self, nonce: str) -> str:
        first, last = fold(self.first_name).split()[0], fold(self.last_name).split()[0]
        return f"{first}.{last}.{nonce}@bench.example"

    def step(self, index: int, nonce: str, contact_id: str | None) -> Request:
        """Mutation ``index`` (0-3) of the round; ``contact_id`` is what step 0 created."""
        if index == 0:
            channels = [
                {"kind": "EMAIL", "value": self.email(nonce), "label": "Trabajo"},
                {"kind": "MOBILE", "value": "+51 987 654 321", "label": "Celular"},
            ]
            return Request(CREATE_CONTACT, {"input": {
                "accountId": self.account_id, "locationId": self.location_id,
                "firstName": self.first_name, "lastName": self.last_name,
                "jobTitle": self.job_title, "role": "BUYER", "channels": channels,
            }})  # fmt: skip
        if index == 1:
            starts_at = REFERENCE_TIME - timedelta(days=1)
            return Request(CREATE_ACTIVITY, {"input": {
                "contactId": contact_id, "kind": "CALL", "subject": "Llamada de bienvenida",
                "status": "HELD", "startsAt": starts_at.isoformat(), "durationSeconds": 240,
                "callDirection": "OUTBOUND",
            }})  # fmt: skip
        if index == 2:
            return Request(SET_PREFERRED, {"input": {"id": contact_id}})
        return Request(UPDATE_CONTACT, {"input": {
            "id": contact_id, "jobTitle": f"{self.job_title} (senior)", "isVip": True,
        }})  # fmt: skip


WRITE_STEPS = 4


@dataclass(frozen=True, slots=True)
class Workloads:
    """The request pools of one database."""

    reads: dict[str, tuple[Request, ...]]
    writes: tuple[WriteScript, ...]


async def sample_workloads() -> Workloads:
    """Pools of requests drawn from the open database's rows with a fixed seed."""
    rng = random.Random(SEED)
    contacts = await _sample_contacts(rng, VARIANTS)
    spa = [
        Request(SPA_LIST, {"filter": f, "orderBy": o, "first": 50})
        for f in SPA_FILTERS
        for o in SPA_ORDERS
    ]
    partner = [
        Request(PARTNER_SLIM, {"filter": f, "orderBy": o})
        for f in ACCOUNT_FILTERS
        for o in ACCOUNT_ORDERS
    ]
    card = [Request(CONTACT_CARD, {"id": encode_id("Contact", row["id"])}) for row in contacts]
    terms = _search_terms(rng, contacts)
    search = [Request(SEARCH, {"q": term}) for term in terms]
    writes = await _sample_write_scripts(rng, contacts)
    return Workloads(
        reads={
            "spa-list": tuple(spa),
            "contact-card": tuple(card),
            "partner-slim": tuple(partner),
            "search": tuple(search),
        },
        writes=tuple(writes),
    )


def spa_list_request(first: int) -> Request:
    """The first spa-list request with another page size (statements must not follow it)."""
    return Request(SPA_LIST, {"filter": {}, "orderBy": SPA_ORDERS[0], "first": first})


def partner_slim_request(first: int) -> Request:
    """partner-slim with ``first`` accounts instead of 100."""
    return Request(PARTNER_SLIM.replace("first: 100", f"first: {first}"), {})


async def _sample_contacts(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """``count`` active contacts picked by id, with their email and mobile (if any)."""
    db = connections.get("default")
    top = (await db.execute_query_dict('SELECT MAX("id") AS "top" FROM "contact"'))[0]["top"]
    ids = rng.sample(range(1, top + 1), min(top, count * 3))
    placeholders = _placeholders(db, len(ids))
    rows = await db.execute_query_dict(
        'SELECT "id", "first_name", "last_name", "account_id", "location_id", "job_title" '
        f'FROM "contact" WHERE "status" = \'ACTIVE\' AND "id" IN ({placeholders})',
        ids,
    )
    by_id = {row["id"]: row for row in rows}
    chosen = [by_id[pk] for pk in ids if pk in by_id][:count]
    placeholders = _placeholders(db, len(chosen))
    channels = await db.execute_query_dict(
        'SELECT "contact_id", "kind", "value" FROM "channel" '
        f'WHERE "is_primary" AND "contact_id" IN ({placeholders})',
        [row["id"] for row in chosen],
    )
    for channel in channels:
        by_id[channel["contact_id"]][str(channel["kind"]).lower()] = channel["value"]
    return chosen


def _placeholders(db: Any, count: int) -> str:
    if db.capabilities.dialect == "postgres":
        return ", ".join(f"${i}" for i in range(1, count + 1))
    return ", ".join("?" * count)


def _search_terms(rng: random.Random, contacts: Sequence[dict[str, Any]]) -> list[str]:
    """What people type: names without accents, e-mail fragments, phone digits."""
    terms: list[str] = []
    for index, row in enumerate(contacts):
        first = fold(row["first_name"]).split()[0]
        last = fold(row["last_name"]).split()[0]
        kind = index % 4
        if kind == 0:
            terms.append(f"{first} {last}")
        elif kind == 1:
            terms.append(last if rng.random() < 0.5 else first[:4] + " " + last[:5])
        elif kind == 2 and row.get("email"):
            local, _, domain = row["email"].partition("@")
            terms.append(local if rng.random() < 0.5 else domain.split(".")[0])
        elif row.get("mobile"):
            number = digits(row["mobile"])
            terms.append(number[-6:] if rng.random() < 0.5 else row["mobile"][-7:])
        else:
            terms.append(last)
    return terms


async def _sample_write_scripts(
    rng: random.Random, contacts: Sequence[dict[str, Any]]
) -> list[WriteScript]:
    """New people at the locations of sampled contacts (so the location is a real site)."""
    scripts = []
    for row in rng.sample(list(contacts), min(WRITE_VARIANTS, len(contacts))):
        scripts.append(
            WriteScript(
                account_id=encode_id("Account", row["account_id"]),
                location_id=encode_id("Location", row["location_id"]),
                first_name=rng.choice(("Ángela", "José", "Ramón", "Begoña", "Iñigo")),
                last_name=rng.choice(("Quispe Ñahui", "Pérez", "Cárdenas", "Ibáñez")),
                job_title=row["job_title"] or "Comprador",
            )
        )
    return scripts
