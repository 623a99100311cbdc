"""GET /export/contacts.csv and .xlsx: the contacts list as a file, with the list's filters,
search and visibility, every channel, the address, tags and custom fields, streamed in
batches; and the import templates."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from models import ApiToken, Channel, Contact, CustomFieldDefinition, Location, Team, User
from models.enums import Role
from resolvers.export import BATCH, template_columns
from resolvers.porting.columns import BY_KEY, EXPORTED
from resolvers.porting.reader import open_table
from resolvers.users import hash_secret
from tests.conftest import ADMIN_TOKEN, count_statements, gid, make_account

EXPORT = "/export/contacts.csv"
XLSX = "/export/contacts.xlsx"


async def export(
    client, params: dict | None = None, token: str | None = ADMIN_TOKEN, path: str = EXPORT
):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.get(path, params=params or {}, headers=headers)


def table(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


async def contact(
    account, main, first: str, last: str, email: str | None = None, *,
    channels: tuple[tuple[str, str, bool], ...] = (), **fields,
):  # fmt: skip
    row = await Contact.create(
        account_id=account.id, location_id=main.id, first_name=first, last_name=last, **fields
    )
    made = []
    if email:
        channels = (("EMAIL", email, True), *channels)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for index, (kind, value, primary) in enumerate(channels):
        made.append(await Channel.create(
            contact_id=row.id, kind=kind, value=value, normalized=value.lower(),
            is_primary=primary, created_at=start + timedelta(minutes=index),
        ))  # fmt: skip
    channels = made
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


@pytest.mark.parametrize("path", [EXPORT, XLSX])
async def test_statements_grow_with_batches_not_with_contacts(client, path):
    account, main = await make_account()
    contacts = [
        Contact(account_id=account.id, location_id=main.id, first_name=f"N{i}", last_name="X",
                custom_fields={f"k{i % 7}": i}, owner_id=(await User.get(role="ADMIN")).id)
        for i in range(BATCH + 10)
    ]  # fmt: skip
    await Contact.bulk_create(contacts)
    ids = [c.id for c in await Contact.all().order_by("id")]
    await Channel.bulk_create([
        Channel(contact_id=pk, kind=kind, value=f"{n}.{pk}@x.pe", normalized=f"{n}.{pk}@x.pe")
        for pk in ids for n, kind in enumerate(("EMAIL", "EMAIL", "MOBILE"))
    ])  # fmt: skip
    await Location.bulk_create([
        Location(account_id=account.id, contact_id=pk, kind="HOME", name="Casa", street=f"C {pk}")
        for pk in ids
    ])  # fmt: skip
    await export(client, path=path)  # the token's lastUsedAt is written once a minute
    with count_statements() as counter:
        response = await export(client, path=path)
    rows = table(response) if path == EXPORT else sheet_rows(response)[1:]
    assert len(rows) == BATCH + 10
    # auth, the custom field keys, then two batches of five statements
    assert len(counter.statements) <= 2 + 1 + 2 * 5, counter.statements


async def test_every_channel_is_exported_primary_first_then_oldest(client):
    account, main = await make_account()
    await contact(account, main, "José", "Pérez", channels=(
        ("EMAIL", "old@x.pe", False), ("EMAIL", "main@x.pe", True), ("EMAIL", "new@x.pe", False),
        ("EMAIL", "fourth@x.pe", False), ("PHONE", "+51 1 4445566", True),
        ("MOBILE", "+51 987 654 321", True), ("MOBILE", "+51 912 345 678", False),
        ("WHATSAPP", "+51 987 654 321", True), ("TELEGRAM", "@jose", True),
        ("OTHER", "skype:jose", True),
    ))  # fmt: skip
    [row] = table(await export(client))
    assert (row["email"], row["email2"], row["email3"]) == ("main@x.pe", "old@x.pe", "new@x.pe")
    assert "fourth@x.pe" not in row.values()  # past the cap of three emails
    assert row["phone"] == "+51 1 4445566" and row["phone2"] == ""
    assert (row["mobile"], row["mobile2"]) == ("+51 987 654 321", "+51 912 345 678")
    assert row["whatsapp"] == "+51 987 654 321"
    assert row["telegram"] == "'@jose"  # a spreadsheet would run it; the import unquotes it
    assert row["otherChannel"] == "skype:jose"


async def test_the_address_is_the_contacts_own_home_address(client):
    account, main = await make_account()
    main.street, main.city = "Av. Industrial 100", "Callao"
    await main.save()
    jose = await contact(account, main, "José", "Pérez")
    await Location.create(account_id=account.id, contact_id=jose.id, kind="SHIPPING",
                          name="Envío", street="Jr. Envío 1")  # fmt: skip
    await Location.create(
        account_id=account.id, contact_id=jose.id, kind="HOME", name="Casa", is_default=True,
        street="Calle Los Pinos 77", exterior_number="77", interior_number="B",
        neighborhood="Lince", district="Lince", city="Lima", province="Lima", state="Lima",
        country="PE", postal_code="15046", reference="frente al parque",
    )
    await contact(account, main, "Ana", "Ruiz")
    jose_row, ana_row = table(await export(client))
    assert jose_row["street"] == "Calle Los Pinos 77"
    assert jose_row["reference"] == "frente al parque"
    assert (jose_row["exteriorNumber"], jose_row["interiorNumber"]) == ("77", "B")
    assert (jose_row["district"], jose_row["country"], jose_row["postalCode"]) == (
        "Lince", "PE", "15046")  # fmt: skip
    assert ana_row["street"] == "" and ana_row["locationName"] == main.name


async def test_every_defined_custom_field_is_a_column_typed_by_its_definition(client):
    for key, kind in (("activo", "BOOLEAN"), ("nivel", "SELECT"), ("visitas", "NUMBER"),
                      ("servicios", "MULTI_SELECT"), ("viejo", "TEXT")):  # fmt: skip
        await CustomFieldDefinition.create(entity="CONTACT", key=key, label=key, type=kind,
                                           options=["oro", "a;b", "c"] if "SELECT" in kind
                                           else [], archived=key == "viejo")  # fmt: skip
    await CustomFieldDefinition.create(entity="ACCOUNT", key="zona", label="Zona", type="TEXT")
    account, main = await make_account("Bodega Norte")
    await contact(account, main, "José", "Pérez",
                  custom_fields={"nivel": "oro", "visitas": 3, "viejo": "x",
                                 "servicios": ["a;b", "c"]})  # fmt: skip
    await contact(account, main, "Ana", "Ruiz", custom_fields={"activo": True})
    response = await export(client)
    header = response.text.splitlines()[0].split(",")
    # By key; an archived field has no column (its values stay readable through the API).
    assert header[-4:] == ["cf.activo", "cf.nivel", "cf.servicios", "cf.visitas"]
    jose, ana = table(response)
    assert (jose["cf.nivel"], jose["cf.visitas"], jose["cf.activo"]) == ("oro", "3", "")
    assert jose["cf.servicios"] == "a\\;b;c"  # the options as tags are written
    assert ana["cf.activo"] == "true"


async def test_a_cf_parameter_filters_on_a_custom_field_as_the_list_does(client):
    for key, kind in (("nivel", "SELECT"), ("visitas", "NUMBER"),
                      ("servicios", "MULTI_SELECT")):  # fmt: skip
        await CustomFieldDefinition.create(entity="CONTACT", key=key, label=key, type=kind,
                                           options=["oro", "plata", "c"] if "SELECT" in kind
                                           else [])  # fmt: skip
    account, main = await make_account("Bodega Norte")
    await contact(account, main, "José", "Pérez",
                  custom_fields={"nivel": "oro", "visitas": 3, "servicios": ["c"]})
    await contact(account, main, "Ana", "Ruiz", custom_fields={"nivel": "plata", "visitas": 4})

    async def names(params: dict) -> list[str]:
        return [row["firstName"] for row in table(await export(client, params))]

    assert await names({"cf.nivel": "oro"}) == ["José"]
    assert await names({"cf.visitas": "4"}) == ["Ana"]  # read as its NUMBER type
    assert await names({"cf.servicios": "c"}) == ["José"]  # the list holds it
    assert await names({"cf.nivel": "plata", "search": "jose"}) == []


@pytest.mark.parametrize(
    ("params", "argument"),
    [
        ({"cf.color": "rojo"}, "cf.color"),  # not defined
        ({"cf.visitas": "muchas"}, "cf.visitas"),  # not a NUMBER
        ({"cf.nivel": "bronce"}, "filter"),  # not one of the options
        ({"cf.nivel": ""}, "cf.nivel"),
        ({"cf.nivel": "oro", "cf.visitas": "3"}, "cf.visitas"),  # one at a time
    ],
)
async def test_a_bad_cf_parameter_is_a_coded_400_naming_it(client, params, argument):
    await CustomFieldDefinition.create(entity="CONTACT", key="nivel", label="Nivel",
                                       type="SELECT", options=["oro"])  # fmt: skip
    await CustomFieldDefinition.create(entity="CONTACT", key="visitas", label="Visitas",
                                       type="NUMBER")  # fmt: skip
    response = await export(client, params)
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}


async def test_columns_chooses_the_columns_and_their_order(client):
    account, main = await make_account()
    await contact(account, main, "José", "Pérez", "jose@x.pe", custom_fields={"nivel": "oro"})
    rows = table(await export(client, {"columns": "email, firstName,cf.nivel,cf.otro"}))
    assert rows == [{"email": "jose@x.pe", "firstName": "José", "cf.nivel": "oro", "cf.otro": ""}]


@pytest.mark.parametrize("columns", ["firstName,nickname", "firstName,,email", "fullName",
                                     "cf.", "x" * 300])  # fmt: skip
async def test_an_unknown_column_is_a_400_naming_it(client, columns):
    response = await export(client, {"columns": columns})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "columns"}
    assert "Unknown column" in error["message"]
    assert columns.split(",")[1 if "," in columns else 0][:70] in error["message"]


async def test_too_many_columns_is_a_400(client):
    columns = ",".join(f"cf.k{i}" for i in range(300))
    response = await export(client, {"columns": columns})
    assert response.status_code == 400 and "at most" in response.json()["errors"][0]["message"]


async def test_an_allowlisted_token_cannot_ask_for_other_columns(client):
    admin = await User.get(role="ADMIN")
    await ApiToken.create(user_id=admin.id, name="t", secret_hash=hash_secret("slim"),
                          allowed_fields=["Contact.firstName"])  # fmt: skip
    response = await export(client, {"columns": "firstName,email"}, token="slim")
    assert response.status_code == 403
    assert "`email`" in response.json()["errors"][0]["message"]


async def test_semicolons_and_a_bom_for_spreadsheets_in_spanish(client):
    account, main = await make_account("Investigación; Desarrollo")
    await contact(account, main, "José", "Núñez")
    response = await export(client, {"delimiter": "semicolon", "bom": "true"})
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    header = text.splitlines()[0]
    assert header.startswith("contactNo;salutation;firstName;")
    [row] = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert row["accountName"] == "Investigación; Desarrollo" and row["lastName"] == "Núñez"
    assert not (await export(client)).content.startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize(("params", "argument"), [
    ({"delimiter": "pipe"}, "delimiter"), ({"bom": "yes"}, "bom"),
])  # fmt: skip
async def test_bad_csv_options_are_a_coded_400(client, params, argument):
    response = await export(client, params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["argument"] == argument


async def test_csv_options_are_not_xlsx_options(client):
    response = await export(client, {"delimiter": "semicolon"}, path=XLSX)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["argument"] == "delimiter"


def sheet_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(response.content))  # not read-only: data types
    rows = [[cell.value for cell in row] for row in workbook.worksheets[0].iter_rows()]
    for row in workbook.worksheets[0].iter_rows():
        assert all(cell.data_type in ("s", "n") for cell in row)  # no formula, ever
    return rows


async def test_xlsx_holds_what_the_csv_holds_every_cell_text(client):
    account, main = await make_account("Ferretería Núñez")
    await contact(account, main, "=HYPERLINK(1)", "Pérez", "jose@x.pe", tags=["a;b", "lima"],
                  custom_fields={"nivel": "oro"}, birthday=date(1980, 3, 15))  # fmt: skip
    await contact(account, main, "Ana", "Ruiz", channels=(("PHONE", "+51 1 4445566", True),))
    rows = sheet_rows(await export(client, path=XLSX))
    csv_text = (await export(client)).text
    expected = list(csv.reader(io.StringIO(csv_text)))
    assert [[cell or "" for cell in row] for row in rows] == expected
    assert rows[1][BY_KEY_INDEX["firstName"]] == "'=HYPERLINK(1)"


BY_KEY_INDEX = {column.key: index for index, column in enumerate(EXPORTED)}


async def test_xlsx_is_refused_like_csv(client):
    assert (await export(client, token=None, path=XLSX)).status_code == 401
    response = await export(client, {"columns": "nope"}, path=XLSX)
    assert response.status_code == 400


async def round_trip_contacts(account, main) -> None:
    for key, kind in (("nivel", "TEXT"), ("visitas", "NUMBER"), ("ok", "BOOLEAN")):
        await CustomFieldDefinition.create(entity="CONTACT", key=key, label=key, type=kind)
    jose = await contact(
        account, main, "José Ñandú", "Pérez, \"el Gato\"", "jose@x.pe",
        channels=(("EMAIL", "jose2@x.pe", False), ("MOBILE", "+51 987 654 321", True)),
        salutation="Sr.", job_title="=SUM(A1); cmd", tags=["vip", "a;b", "c,d"],
        custom_fields={"nivel": "línea 1\nlínea 2", "visitas": 3, "ok": False},
        document_type="DNI", document_number="45678912", is_vip=True,
        lead_source="COLD_CALL", role="BUYER", birthday=datetime(1980, 3, 15).date(),
    )  # fmt: skip
    await Location.create(account_id=account.id, contact_id=jose.id, kind="HOME", name="Casa",
                          street="Av. Lima 1\nPiso 2", country="PE")  # fmt: skip
    await contact(account, main, "'quoted", "-12.5", job_title="@mention")


@pytest.mark.parametrize(("path", "params", "name"), [
    (EXPORT, {}, "contacts.csv"),
    (EXPORT, {"delimiter": "semicolon", "bom": "true"}, "contacts.csv"),
    (EXPORT, {"delimiter": "tab"}, "contacts.csv"),
    (XLSX, {}, "contacts.xlsx"),
])  # fmt: skip
async def test_the_reader_reads_back_what_the_export_wrote(client, tmp_path, path, params, name):
    account, main = await make_account("Bodega; \"Núñez\"")
    await round_trip_contacts(account, main)
    response = await export(client, params, path=path)
    assert response.status_code == 200
    file = tmp_path / name
    file.write_bytes(response.content)
    table = open_table(file, name, max_rows=10)
    assert table.unknown == [] and table.duplicated == []
    assert [match.key for match in table.columns] == table.headers
    rows = dict(table.rows())
    jose, other = rows[2], rows[3]
    parse = {key: BY_KEY[key].parse for key in BY_KEY}
    assert parse["firstName"](jose["firstName"]) == "José Ñandú"
    assert jose["lastName"] == 'Pérez, "el Gato"' and jose["jobTitle"] == "=SUM(A1); cmd"
    assert parse["tags"](jose["tags"]) == ["vip", "a;b", "c,d"]
    assert (jose["email"], jose["email2"], jose["mobile"]) == (
        "jose@x.pe", "jose2@x.pe", "+51 987 654 321")  # fmt: skip
    assert jose["cf.nivel"] == "línea 1\nlínea 2" and jose["cf.visitas"] == "3"
    assert parse["isVip"](jose["isVip"]) is True
    assert parse["isPreferred"](jose["isPreferred"]) is False
    assert parse["leadSource"](jose["leadSource"]) == "COLD_CALL"
    assert parse["birthday"](jose["birthday"]) == datetime(1980, 3, 15).date()
    assert jose["street"] == "Av. Lima 1\nPiso 2" and jose["accountName"] == 'Bodega; "Núñez"'
    assert parse["contactNo"](jose["contactNo"]) == (await Contact.get(first_name="José Ñandú")).id
    assert (other["firstName"], other["lastName"], other["jobTitle"]) == (
        "'quoted", "-12.5", "@mention")  # fmt: skip


TEMPLATE = "/import/template.csv"


async def test_the_csv_template_is_the_exports_importable_columns(client, tmp_path):
    response = await export(client, path=TEMPLATE)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.text.strip().split(",") == template_columns()
    assert "createdAt" not in template_columns() and "email2" in template_columns()
    semicolon = await export(client, {"delimiter": "semicolon", "bom": "true"}, path=TEMPLATE)
    assert semicolon.content.decode("utf-8-sig").strip().split(";") == template_columns()
    path = tmp_path / "template.csv"
    path.write_bytes(response.content + b"Ana,Ruiz\r\n")
    assert open_table(Path(path), "template.csv", max_rows=5).unknown == []


async def test_the_xlsx_template(client):
    response = await export(client, path="/import/template.xlsx")
    assert sheet_rows(response) == [template_columns()]


@pytest.mark.parametrize("path", [TEMPLATE, "/import/template.xlsx"])
async def test_the_templates_need_what_the_export_needs(client, path):
    assert (await export(client, token=None, path=path)).status_code == 401
    admin = await User.get(role="ADMIN")
    await ApiToken.create(user_id=admin.id, name="t", secret_hash=hash_secret("acc"),
                          scopes=["accounts:read"])  # fmt: skip
    assert (await export(client, token="acc", path=path)).status_code == 403
    response = await export(client, {"colour": "red"}, path=path)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["argument"] == "colour"


async def test_an_xlsx_export_of_more_rows_than_a_sheet_holds_is_refused(client, monkeypatch):
    import resolvers.export

    monkeypatch.setattr(resolvers.export, "XLSX_MAX_ROWS", 1)
    account, main = await make_account()
    await contact(account, main, "José", "Pérez")
    assert (await export(client, path=XLSX)).status_code == 200
    await contact(account, main, "Ana", "Ruiz")
    response = await export(client, path=XLSX)
    assert response.status_code == 400
    assert "at most 1" in response.json()["errors"][0]["message"]
    assert len(table(await export(client))) == 2  # CSV has no such limit


def export_directories() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("crm-export-*")}


async def test_an_xlsx_export_leaves_no_temporary_file_however_it_ends(client, monkeypatch):
    import resolvers.export
    from resolvers.access import Access
    from resolvers.export import ContactFilter, contact_xlsx

    account, main = await make_account()
    for index in range(3):
        await contact(account, main, f"N{index}", "X")
    before = export_directories()
    assert len(sheet_rows(await export(client, path=XLSX))) == 4
    assert export_directories() == before
    monkeypatch.setattr(resolvers.export, "BATCH", 1)
    real_rows, calls = resolvers.export._rows, []

    async def failing(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return await real_rows(*args)

    monkeypatch.setattr(resolvers.export, "_rows", failing)
    access = Access.of(await User.get(role="ADMIN"), None)
    with pytest.raises(RuntimeError):
        async for _ in contact_xlsx(access, ContactFilter(), None):
            pass
    assert export_directories() == before
