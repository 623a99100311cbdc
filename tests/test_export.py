"""GET /export/contacts.csv: the contacts list as CSV, with the list's filters, search and
visibility, streamed in batches."""

from __future__ import annotations

import csv
import io

import pytest

from models import ApiToken, Channel, Contact, Team, User
from models.enums import Role
from resolvers.export import BATCH
from resolvers.users import hash_secret
from tests.conftest import ADMIN_TOKEN, count_statements, gid, make_account

EXPORT = "/export/contacts.csv"


async def export(client, params: dict | None = None, token: str | None = ADMIN_TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.get(EXPORT, params=params or {}, headers=headers)


def table(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


async def contact(account, main, first: str, last: str, email: str | None = None, **fields):
    row = await Contact.create(
        account_id=account.id, location_id=main.id, first_name=first, last_name=last, **fields
    )
    channels = []
    if email:
        email_channel = await Channel.create(
            contact_id=row.id, kind="EMAIL", value=email, normalized=email.lower(), is_primary=True
        )
        channels.append(email_channel)
    row.search_text = row.search_document(channels)
    await row.save()
    return row


async def test_export_writes_every_matching_contact_with_its_account(client):
    account, main = await make_account("Ferretería Núñez", tax_id="20123456789")
    await contact(account, main, "José", "Pérez", "jose@nunez.pe", document_type="DNI",
                  document_number="45678912", is_vip=True, tags=["mayorista", "lima"])  # fmt: skip
    await contact(account, main, "Ana", "Ruiz", status="INACTIVE")
    rows = table(await export(client))
    assert len(rows) == 1  # rule 5: inactive contacts are left out unless asked for
    [row] = rows
    assert row["firstName"] == "José" and row["lastName"] == "Pérez"
    assert row["email"] == "jose@nunez.pe" and row["isVip"] == "true"
    assert row["documentType"] == "DNI" and row["documentNumber"] == "45678912"
    assert row["accountName"] == "Ferretería Núñez" and row["tags"] == "mayorista;lima"
    assert row["contactNo"].startswith("CON-")
    assert len(table(await export(client, {"includeInactive": "true"}))) == 2


async def test_export_takes_the_lists_filters_and_search(client):
    account, main = await make_account("Bodega Lima")
    other, other_main = await make_account("Bodega Cusco")
    await contact(account, main, "José", "Pérez")
    await contact(account, main, "Luis", "Soto", is_vip=True)
    await contact(other, other_main, "Josué", "Quispe")
    by_search = table(await export(client, {"search": "jose perez"}))
    assert [r["firstName"] for r in by_search] == ["José"]
    by_account = table(await export(client, {"accountId": gid("Account", other.id)}))
    assert [r["firstName"] for r in by_account] == ["Josué"]
    vip = table(await export(client, {"isVip": "true"}))
    assert [r["firstName"] for r in vip] == ["Luis"]


@pytest.mark.parametrize(
    ("params", "argument"),
    [
        ({"isVip": "maybe"}, "isVip"),
        ({"status": "GONE"}, "status"),
        ({"createdAfter": "yesterday"}, "createdAfter"),
        ({"createdAfter": "2026-01-01T00:00:00"}, "createdAfter"),
        ({"accountId": "garbage"}, "filter"),
        ({"accountId": gid("Contact", 1)}, "filter"),
        ({"colour": "red"}, "colour"),
        ({"search": "x" * 201}, "search"),
    ],
)
async def test_bad_parameters_are_a_coded_400(client, params, argument):
    response = await export(client, params)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}


async def test_export_needs_a_token(client):
    response = await export(client, token=None)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    response = await export(client, token="nope")
    assert response.status_code == 401


async def test_an_agent_exports_only_their_teams_contacts(client):
    team = await Team.create(name="Norte")
    agent = await User.create(name="Nora", email="nora@crm.pe", role=Role.AGENT, team_id=team.id)
    await ApiToken.create(user_id=agent.id, name="t", secret_hash=hash_secret("nora"))
    mine, mine_main = await make_account("Bodega Norte", owner_id=agent.id)
    theirs, theirs_main = await make_account("Bodega Sur")
    await contact(mine, mine_main, "José", "Pérez")
    await contact(theirs, theirs_main, "Josefa", "Núñez")
    rows = table(await export(client, token="nora"))
    assert [r["firstName"] for r in rows] == ["José"]
    rows = table(await export(client, {"accountId": gid("Account", theirs.id)}, token="nora"))
    assert rows == []


async def test_a_token_without_the_contacts_scope_cannot_export(client):
    admin = await User.get(role="ADMIN")
    await ApiToken.create(user_id=admin.id, name="t", secret_hash=hash_secret("acc"),
                          scopes=["accounts:read"])  # fmt: skip
    response = await export(client, token="acc")
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_allowlisted_token_exports_only_its_columns(client):
    account, main = await make_account()
    await contact(account, main, "José", "Pérez", "jose@andina.pe")
    admin = await User.get(role="ADMIN")
    await ApiToken.create(user_id=admin.id, name="t", secret_hash=hash_secret("slim"),
                          allowed_fields=["Contact.firstName", "Contact.email"])  # fmt: skip
    response = await export(client, token="slim")
    assert table(response) == [{"firstName": "José", "email": "jose@andina.pe"}]


async def test_cells_a_spreadsheet_would_run_are_quoted_but_phones_are_not(client):
    account, main = await make_account()
    await contact(account, main, "=HYPERLINK(1)", "@SUM", job_title="+51 987 654 321")
    [row] = table(await export(client))
    assert row["firstName"] == "'=HYPERLINK(1)" and row["lastName"] == "'@SUM"
    assert row["jobTitle"] == "+51 987 654 321"


@pytest.mark.parametrize(
    "name",
    ["-2+3+cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "- 2+cmd|' /C calc'!A0", "-", "+",
     "+51 (1) cmd", "\tTab", "\rReturn", "=1+1", "@SUM(A1)", "-0x1F"],
)  # fmt: skip
async def test_a_cell_starting_like_a_formula_is_quoted_unless_wholly_a_number_or_phone(
    client, name
):
    account, main = await make_account()
    await contact(account, main, name, "Ruiz", job_title="-12.5", salutation="+51 987-654-321")
    [row] = table(await export(client))
    assert row["firstName"] == "'" + name
    assert row["jobTitle"] == "-12.5" and row["salutation"] == "+51 987-654-321"


async def test_statements_grow_with_batches_not_with_contacts(client):
    account, main = await make_account()
    contacts = [
        Contact(account_id=account.id, location_id=main.id, first_name=f"N{i}", last_name="X")
        for i in range(BATCH + 10)
    ]
    await Contact.bulk_create(contacts)
    await export(client)  # the token's lastUsedAt is written once a minute
    with count_statements() as counter:
        rows = table(await export(client))
    assert len(rows) == BATCH + 10
    # auth, then two batches of five statements
    assert len(counter.statements) <= 2 + 2 * 5, counter.statements
