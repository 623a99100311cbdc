"""What export writes, import reads back as zero changes: a property over generated contacts
(accents, ñ, several channels of a kind, an address, tags, custom fields, quotes, commas,
newlines, ``;`` and text a spreadsheet would run as a formula), for CSV, CSV with ``;`` and a
BOM, and XLSX."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import CustomFieldDefinition
from resolvers.users import ensure_admin
from tests.conftest import ADMIN_TOKEN, gid, make_account, ok, wipe
from tests.test_imports import payload, upload

LETTERS = "abcdefghijklmnopqrstuvwxyzáéíóúñüÁÉÍÓÚÑ"
TRICKY = "\"',;@=+-"


def short_text(max_size: int) -> st.SearchStrategy[str]:
    """One line of text as a person types it: letters, accents, spaces and punctuation."""
    alphabet = LETTERS + LETTERS.upper() + " " + TRICKY
    return st.text(alphabet, min_size=1, max_size=max_size).filter(lambda s: s.strip())


FORMULAS = st.sampled_from(["=SUMA(A1:A3)", "+51 999 111 222", "-Jefe-", "@jefe", "=1+1"])
long_text = st.text(LETTERS + " ,;\"'\n=", min_size=1, max_size=40).map(str.strip).filter(bool)

contact_strategy = st.fixed_dictionaries(
    {
        "firstName": short_text(20),
        "lastName": short_text(20),
        "jobTitle": st.none() | short_text(30) | FORMULAS,
        "emails": st.integers(0, 3),
        "mobiles": st.lists(
            st.from_regex(r"\+51 9[0-9]{2} [0-9]{3} [0-9]{3}", fullmatch=True),
            max_size=2,
            unique=True,
        ),
        "tags": st.lists(short_text(12), max_size=3),
        "customFields": st.dictionaries(
            st.sampled_from(["nivel", "nota", "zona"]), long_text, max_size=2
        ),
        "street": st.none() | short_text(30),
    }
)

CREATE = """mutation($input: CreateContactInput!) { createContact(input: $input) {
  contact { id } errors { code field message } } }"""
ADDRESS = """mutation($input: CreateLocationInput!) { createLocation(input: $input) {
  errors { code field message } } }"""


async def made(client, account_id: str, index: int, spec: dict) -> None:
    channels = [
        {"kind": "EMAIL", "value": f"c{index}.{n}@example.pe"} for n in range(spec["emails"])
    ]
    channels += [{"kind": "MOBILE", "value": mobile} for mobile in spec["mobiles"]]
    data = await ok(
        client,
        CREATE,
        {
            "input": {
                "accountId": account_id,
                "firstName": spec["firstName"],
                "lastName": spec["lastName"],
                "jobTitle": spec["jobTitle"],
                "tags": spec["tags"],
                "channels": channels,
                "customFields": spec["customFields"],
            }
        },
    )
    assert data["createContact"]["errors"] == [], data
    if spec["street"] is not None:
        data = await ok(
            client,
            ADDRESS,
            {
                "input": {
                    "accountId": account_id,
                    "contactId": data["createContact"]["contact"]["id"],
                    "kind": "HOME",
                    "name": "Casa",
                    "street": spec["street"],
                    "country": "PE",
                }
            },
        )
        assert data["createLocation"]["errors"] == [], data


FORMATS = {
    "csv": ("/export/contacts.csv", {}, "contactos.csv"),
    "csv-semicolon-bom": (
        "/export/contacts.csv",
        {"delimiter": "semicolon", "bom": "true"},
        "contactos.csv",
    ),
    "xlsx": ("/export/contacts.xlsx", {}, "contactos.xlsx"),
}


@pytest.mark.parametrize("form", FORMATS)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(contacts=st.lists(contact_strategy, min_size=1, max_size=3))
async def test_what_export_writes_import_reads_back_unchanged(client, form, contacts):
    await wipe()
    await ensure_admin(ADMIN_TOKEN)
    account, _ = await make_account('Investigación y Desarrollo; "Ñandú", S.A.C.')
    for key in ("nivel", "nota", "zona"):
        await CustomFieldDefinition.create(entity="CONTACT", key=key, label=key, type="TEXT")
    for index, spec in enumerate(contacts):
        await made(client, gid("Account", account.id), index, spec)
    path, params, file_name = FORMATS[form]
    response = await client.get(
        path, params=params, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    result = payload(await upload(client, response.content, file_name, dryRun=True))
    assert result["errors"] == [] and result["rowErrors"] == []
    assert (result["created"], result["updated"], result["skipped"]) == (0, 0, 0)
    assert result["unchanged"] == len(contacts)
