"""Cached statements never cross callers: loaders build their SQL once per shape and keep it
(``engine.rows.Statements``), and the caller's scope is part of every key, so the same
request by users who see different rows gets each their own rows, from every loader kind."""

from __future__ import annotations

from models import Activity, Channel, Location
from tests.conftest import gid, gql
from tests.test_access import World, world  # noqa: F401 - the fixture

# Every loader kind: rows by id (``nodes``, ``account``, ``location``, partial rows), rows
# grouped by parent (``channels``, ``addresses``), one row per parent (``mainLocation``,
# ``preferredContact``), pages and counts per parent (``locations``, ``contacts``,
# ``activities``), primary channels (``email``), figures (``stats``) and history pages.
EVERY_LOADER = """query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Account {
  name
  mainLocation { name }
  preferredContact { fullName }
  locations { totalCount nodes { name contacts { totalCount nodes { fullName } } } }
  auditEvents { totalCount }
  contacts { totalCount nodes {
    fullName email
    stats { activitiesTotal }
    channels { value }
    addresses { name }
    activities { totalCount nodes { subject } }
    location { name preferredContact { fullName } }
    account { name }
  } }
} } }"""


async def _furnish(world: World) -> None:  # noqa: F811
    """Give each account's contact what every loader reads: a channel, an address, the
    preferred flag and a second activity."""
    for account, contact, email in (
        (world.north_account, world.north_contact, "jose@norte.pe"),
        (world.south_account, world.south_contact, "josefa@sur.pe"),
    ):
        await Channel.create(contact_id=contact.id, kind="EMAIL", value=email,
                             normalized=email, is_primary=True)  # fmt: skip
        await Location.create(account_id=account.id, contact_id=contact.id, kind="HOME",
                              name=f"Casa de {contact.first_name}")  # fmt: skip
        contact.is_preferred = True
        await contact.save()
        await Activity.create(account_id=account.id, contact_id=contact.id, kind="TASK",
                              subject=f"Llamar a {contact.first_name}")  # fmt: skip


async def test_the_same_request_by_callers_of_other_scopes_gets_their_own_rows(client, world):  # noqa: F811
    await _furnish(world)
    ids = [gid("Account", world.north_account.id), gid("Account", world.south_account.id)]
    answers = {}
    # Each caller after another whose statements are cached: a key without the caller's
    # scope would hand them the other's SQL, with the other's visibility condition.
    for name in ("manager", "north_agent", "south_agent", "north_agent", "manager"):
        body = await gql(client, EVERY_LOADER, {"ids": ids}, token=getattr(world, name))
        assert "errors" not in body, body["errors"]
        answers.setdefault(name, []).append(body["data"]["nodes"])
    north, south = answers["manager"][0]
    assert north["name"] == "Bodega Norte" and south["name"] == "Bodega Sur"
    for account in (north, south):  # the data is there to be seen, or not
        [contact] = account["contacts"]["nodes"]
        assert contact["email"] and contact["channels"] and contact["addresses"]
        assert contact["stats"]["activitiesTotal"] == 2 and account["preferredContact"]
        assert account["locations"]["totalCount"] == 1 and account["auditEvents"] is not None
    assert answers["manager"] == [[north, south]] * 2
    assert answers["north_agent"] == [[north, None]] * 2
    assert answers["south_agent"] == [[None, south]]
