"""importContacts over the GraphQL multipart request, as curl -F and Python clients send it:
the rows written, the rows reported, the files refused, the record of each import, who sees
it, its progress, and a client that hangs up."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from models import AuditEvent, Channel, Contact, ContactImport, User
from models.enums import CaptureSource
from tests.conftest import ADMIN_TOKEN, define_field, gid, make_account, ok

IMPORT = """
mutation($input: ImportContactsInput!) {
  importContacts(input: $input) {
    import { id status dryRun fileName rowsTotal rowsProcessed created updated unchanged skipped
             createdBy { email } }
    created updated unchanged skipped
    rowErrors { row field code message }
    errors { code field message }
  }
}
"""

HEADER = "firstName,lastName,email,mobile,Empresa"


async def upload(
    client: httpx.AsyncClient,
    content: bytes | str,
    file_name: str = "contactos.csv",
    token: str | None = ADMIN_TOKEN,
    **options: Any,
) -> dict[str, Any]:
    """The request ``curl -F operations=… -F map=… -F 0=@file`` makes, with only the
    Authorization header; the decoded body."""
    if isinstance(content, str):
        content = content.encode()
    operations = {"query": IMPORT, "variables": {"input": {"file": None, **options}}}
    data = {
        "operations": json.dumps(operations),
        "map": json.dumps({"0": ["variables.input.file"]}),
    }
    files = {"0": (file_name, content, "text/csv")}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", data=data, files=files, headers=headers)
    assert response.status_code in (200, 413), response.text
    return response.json()


def payload(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    return body["data"]["importContacts"]


def csv(*lines: str) -> str:
    return "\r\n".join(lines) + "\r\n"


async def contact_rows() -> int:
    return await Contact.all().count()


async def test_good_rows_are_created_with_their_channels_audit_and_capture_source(client):
    await make_account("Ferretería Lima")
    body = await upload(
        client,
        csv(
            HEADER,
            "Ana,Ruiz,ana@lima.pe,+51 999 111 222,Ferretería Lima",
            "Luis,Soto,luis@lima.pe,,ferretería  lima",
        ),
    )
    result = payload(body)
    assert result["errors"] == [] and result["rowErrors"] == []
    assert (result["created"], result["updated"], result["skipped"]) == (2, 0, 0)
    record = result["import"]
    assert record["status"] == "SUCCEEDED"
    assert (record["rowsTotal"], record["rowsProcessed"], record["created"]) == (2, 2, 2)
    assert record["fileName"] == "contactos.csv" and record["dryRun"] is False
    assert record["createdBy"]["email"] == "admin@crm.local"
    ana = await Contact.get(first_name="Ana")
    assert ana.capture_source == CaptureSource.IMPORT
    channels = {(c.kind, c.value, c.is_primary) for c in await Channel.filter(contact_id=ana.id)}
    assert channels == {("EMAIL", "ana@lima.pe", True), ("MOBILE", "+51 999 111 222", True)}
    events = await AuditEvent.filter(resource_type="Contact").values_list("action", flat=True)
    assert sorted(events) == ["IMPORTED", "IMPORTED"]
    found = await ok(client, '{ contacts(search: "ana ruiz") { nodes { email mobile } } }')
    assert found["contacts"]["nodes"] == [{"email": "ana@lima.pe", "mobile": "+51 999 111 222"}]


# ---------------------------------------------------------------- helpers


async def everything() -> dict[str, list[dict]]:
    """Every row of every table but when tokens were last used (signing in writes it)."""
    from tests.test_unit_of_work import table_rows

    rows = await table_rows()
    for token in rows["api_token"]:
        token.pop("last_used_at")
    return rows


async def assert_refused(client, content, code: str, *, file_name="contactos.csv", **options):
    """The file is refused as a whole with ``code``; nothing is written, not even a record."""
    before = await everything()
    result = payload(await upload(client, content, file_name, **options))
    assert result["import"] is None
    assert result["created"] == 0 and result["rowErrors"] == []
    assert [e["code"] for e in result["errors"]] == [code] or all(
        e["code"] == code for e in result["errors"]
    ), result["errors"]
    assert await everything() == before
    return result["errors"]


async def person(
    name: str, role: str, team_id: int | None = None, **token: Any
) -> tuple[User, str]:
    from models import ApiToken
    from resolvers.users import hash_secret

    user = await User.create(name=name, email=f"{name.lower()}@crm.pe", role=role, team_id=team_id)
    secret = f"secret-{name.lower()}"
    await ApiToken.create(user_id=user.id, name=name, secret_hash=hash_secret(secret), **token)
    return user, secret


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


# ---------------------------------------------------------------- files refused as a whole


async def test_an_empty_file_is_refused(client):
    await assert_refused(client, b"", "EMPTY_FILE")
    await assert_refused(client, b"\xef\xbb\xbf\r\n\r\n", "EMPTY_FILE")


async def test_a_png_renamed_csv_is_refused(client):
    [error] = await assert_refused(client, PNG, "UNSUPPORTED_FILE", file_name="contactos.csv")
    assert "PNG" in error["message"] and error["field"] == ["file"]


async def test_a_header_only_file_is_refused(client):
    await assert_refused(client, csv(HEADER), "HEADER_ONLY")


async def test_unknown_columns_are_reported_once_each_not_per_row_and_ignored(client):
    await make_account("Ferretería Lima")
    rows = [f"Ana{i},Ruiz,ana{i}@lima.pe,,Ferretería Lima,x,y" for i in range(30)]
    result = payload(await upload(client, csv(HEADER + ",Color favorito,Signo", *rows)))
    assert result["errors"] == [] and result["created"] == 30
    errors = result["rowErrors"]
    assert [(e["row"], e["field"], e["code"]) for e in errors] == [
        (1, "Color favorito", "UNKNOWN_COLUMN"),
        (1, "Signo", "UNKNOWN_COLUMN"),
    ]
    assert "Color favorito" in errors[0]["message"] and "ignored" in errors[0]["message"]
    # Kept on the ContactImport too, and nothing of the ignored cells is stored.
    [record] = await ContactImport.all()
    assert record.row_error_count == 2
    stored = await record.row_errors.all().values_list("row_number", "field", "code")
    assert stored == [(1, "Color favorito", "UNKNOWN_COLUMN"), (1, "Signo", "UNKNOWN_COLUMN")]
    contact = await Contact.get(first_name="Ana0")
    assert not contact.custom_fields


async def test_a_file_with_no_known_column_is_refused(client):
    await make_account("Ferretería Lima")
    await assert_refused(
        client, csv("Color favorito,Signo", "azul,Aries", "rojo,Leo"), "NO_KNOWN_COLUMNS"
    )


async def test_the_same_column_twice_is_refused(client):
    await make_account("Ferretería Lima")
    [error] = await assert_refused(
        client,
        csv(
            "Nombre,Apellidos,Correo electrónico,email,Empresa",
            "Ana,Ruiz,ana@lima.pe,ana@lima.pe,Ferretería Lima",
        ),
        "DUPLICATE_COLUMN",
    )
    assert "Correo electrónico" in error["message"] and "email" in error["message"]


async def test_a_file_over_the_row_limit_is_refused_before_any_write(client):
    from resolvers.importing import MAX_ROWS

    await make_account("Ferretería Lima")
    lines = "".join(f"A{i},R,a{i}@x.pe,,Ferretería Lima\r\n" for i in range(MAX_ROWS + 1))
    [error] = await assert_refused(client, HEADER + "\r\n" + lines, "TOO_MANY_ROWS")
    assert f"{MAX_ROWS}" in error["message"]


async def test_a_file_over_max_upload_bytes_is_413_and_writes_nothing(client, app):
    limit = 10 * 1024 * 1024  # the test app's --max-upload-bytes (its default)
    before = await everything()
    content = (csv(HEADER) + "x" * limit).encode()
    body = await upload(client, content)
    assert body["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert str(limit) in body["errors"][0]["message"]
    assert await everything() == before


async def test_a_token_without_contacts_write_is_forbidden_and_writes_nothing(client):
    await make_account("Ferretería Lima")
    _, secret = await person("Lector", "AGENT", scopes=["contacts:read"])
    before = await everything()
    body = await upload(client, csv(HEADER, "Ana,Ruiz,ana@lima.pe,,Ferretería Lima"), token=secret)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "contacts:write" in body["errors"][0]["message"]
    assert await everything() == before


async def test_without_a_token_an_upload_is_refused(client):
    before = await everything()
    content = csv(HEADER, "Ana,Ruiz,ana@lima.pe,,X")
    response = await client.post(  # what an HTML form on another site could send
        "/graphql",
        files={"0": ("c.csv", content.encode(), "text/csv")},
        data={
            "operations": json.dumps({"query": IMPORT, "variables": {"input": {"file": None}}}),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "PREFLIGHT_REQUIRED"
    assert await everything() == before


# ---------------------------------------------------------------- bad rows among good ones


async def rows_written() -> set[str]:
    return set(await Contact.all().values_list("first_name", flat=True))


async def test_an_invalid_email_row_is_reported_and_the_good_rows_written(client):
    await make_account("Ferretería Lima")
    result = payload(
        await upload(
            client,
            csv(
                "Nombre,Apellidos,Correo electrónico,Empresa",
                "Ana,Ruiz,ana@lima.pe,Ferretería Lima",
                "Bruno,Paz,bruno-at-lima,Ferretería Lima",
                "Carla,Díaz,carla@lima.pe,Ferretería Lima",
            ),
        )
    )
    assert result["created"] == 2
    [error] = result["rowErrors"]
    assert (error["row"], error["field"], error["code"]) == (
        3,
        "Correo electrónico",
        "INVALID_EMAIL",
    )
    assert "'bruno-at-lima' is not an email address" in error["message"]
    assert await rows_written() == {"Ana", "Carla"}


async def test_the_same_email_twice_in_a_file_makes_the_second_row_an_error(client):
    await make_account("Ferretería Lima")
    result = payload(
        await upload(
            client,
            csv(
                HEADER,
                "Ana,Ruiz,ana@lima.pe,,Ferretería Lima",
                "Otra,Ana,ANA@Lima.pe,,Ferretería Lima",
            ),
        )
    )
    assert result["created"] == 1
    [error] = result["rowErrors"]
    assert (error["row"], error["field"], error["code"]) == (3, "email", "DUPLICATE_EMAIL")
    assert "Row 2" in error["message"]
    assert await rows_written() == {"Ana"}


async def test_a_row_for_an_account_that_does_not_exist(client):
    content = csv(
        HEADER,
        "Ana,Ruiz,ana@lima.pe,,Bodega Nueva",
        "Luis,Soto,luis@lima.pe,,bodega nueva",
        "Eva,Paz,eva@lima.pe,,Otra Bodega",
    )
    before = await everything()
    result = payload(await upload(client, content))
    assert result["created"] == 0
    assert [(e["row"], e["field"], e["code"]) for e in result["rowErrors"]] == [
        (2, "Empresa", "NOT_FOUND"),
        (3, "Empresa", "NOT_FOUND"),
        (4, "Empresa", "NOT_FOUND"),
    ]
    assert "createAccounts" in result["rowErrors"][0]["message"]
    after = await everything()
    assert await contact_rows() == 0
    assert {t for t in after if after[t] != before[t]} == {"contact_import", "import_row_error"}
    # With createAccounts, each distinct name once.
    result = payload(await upload(client, content, createAccounts=True))
    assert (result["created"], result["rowErrors"]) == (3, [])
    names = await ok(
        client, "{ accounts { nodes { name mainLocation { name } contacts { totalCount } } } }"
    )
    assert sorted((a["name"], a["contacts"]["totalCount"]) for a in names["accounts"]["nodes"]) == [
        ("Bodega Nueva", 2),
        ("Otra Bodega", 1),
    ]


async def test_a_cell_over_its_length_limit_is_a_row_error(client):
    await make_account("Ferretería Lima")
    result = payload(
        await upload(
            client,
            csv(
                "Nombre,Apellidos,Cargo,Empresa",
                f"Ana,Ruiz,{'x' * 121},Ferretería Lima",
                "Luis,Soto,Jefe,Ferretería Lima",
            ),
        )
    )
    [error] = result["rowErrors"]
    assert (error["row"], error["field"], error["code"]) == (2, "Cargo", "TOO_LONG")
    assert "120" in error["message"]
    assert await rows_written() == {"Luis"}


async def test_a_birthday_in_the_future_is_a_row_error(client):
    await make_account("Ferretería Lima")
    result = payload(
        await upload(
            client,
            csv(
                "Nombre,Apellidos,Fecha de nacimiento,Empresa",
                "Ana,Ruiz,01/02/2999,Ferretería Lima",
                "Luis,Soto,1990-05-04,Ferretería Lima",
            ),
        )
    )
    [error] = result["rowErrors"]
    assert (error["row"], error["field"], error["code"]) == (
        2,
        "Fecha de nacimiento",
        "INVALID_DATE",
    )
    luis = await Contact.get(first_name="Luis")
    assert luis.birthday.isoformat() == "1990-05-04"
    assert await rows_written() == {"Luis"}


async def test_an_invalid_ruc_is_a_row_error(client):
    await make_account("Ferretería Lima")
    result = payload(
        await upload(
            client,
            csv(
                "Nombre,Apellidos,Tipo de documento,Número de documento,Empresa",
                "Ana,Ruiz,RUC,20123456788,Ferretería Lima",  # a bad check digit
                "Luis,Soto,RUC,20100070970,Ferretería Lima",
                "Eva,Paz,DNI,12ab,Ferretería Lima",
            ),
        )
    )
    assert [(e["row"], e["field"], e["code"]) for e in result["rowErrors"]] == [
        (2, "Número de documento", "INVALID_DOCUMENT"),
        (4, "Número de documento", "INVALID_DOCUMENT"),
    ]
    assert await rows_written() == {"Luis"}


async def test_a_phone_of_the_wrong_region_is_a_row_error(client):
    from models import Location

    await make_account("Ferretería Lima")
    _, mexico_main = await make_account("Tacos del Norte")
    await Location.filter(id=mexico_main.id).update(country="MX")
    result = payload(
        await upload(
            client,
            csv(
                "Nombre,Apellidos,Móvil,Empresa",
                "Ana,Ruiz,+51 000000,Ferretería Lima",  # not a number
                "Luis,Soto,55 1234 5678,Ferretería Lima",  # Mexico City's, read in Peru
                "Eva,Paz,999 888 777,Ferretería Lima",  # a Peruvian mobile
                "Juan,Paz,55 1234 5678,Tacos del Norte",  # read in Mexico
            ),
        )
    )
    assert [(e["row"], e["field"], e["code"]) for e in result["rowErrors"]] == [
        (2, "Móvil", "INVALID_PHONE"),
        (3, "Móvil", "INVALID_PHONE"),
    ]
    assert await rows_written() == {"Eva", "Juan"}
    juan = await Contact.get(first_name="Juan")
    [channel] = await Channel.filter(contact_id=juan.id)
    assert channel.e164 == "+525512345678"


async def test_an_agent_importing_into_another_teams_account_gets_not_found(client):
    from models import Team

    north, south = await Team.create(name="Norte"), await Team.create(name="Sur")
    nora, secret = await person("Nora", "AGENT", north.id)
    sara, _ = await person("Sara", "AGENT", south.id)
    await make_account("Bodega Norte", owner_id=nora.id)
    south_account, _ = await make_account("Bodega Sur", owner_id=sara.id)
    result = payload(
        await upload(
            client,
            csv(
                "Nombre,Apellidos,Correo electrónico,Empresa,accountNo",
                f"Ana,Ruiz,ana@x.pe,,{south_account.account_no}",
                "Luis,Soto,luis@x.pe,Bodega Sur,",
                "Eva,Paz,eva@x.pe,Bodega Norte,",
            ),
            token=secret,
        )
    )
    assert result["created"] == 1
    assert [(e["row"], e["field"], e["code"]) for e in result["rowErrors"]] == [
        (2, "accountNo", "NOT_FOUND"),
        (3, "Empresa", "NOT_FOUND"),
    ]
    assert "Bodega Sur" not in result["rowErrors"][0]["message"]
    assert await Contact.filter(account_id=south_account.id).count() == 0
    assert await rows_written() == {"Eva"}


# ---------------------------------------------------------------- rule 6


@pytest.mark.parametrize("failing", ["_insert_audit", "_insert_outbox"])
async def test_rule_6_a_failed_audit_or_outbox_write_leaves_no_contact(
    client, monkeypatch, failing
):
    from resolvers.unit_of_work import Unit

    await make_account("Ferretería Lima")
    before = await everything()

    async def fail(self, *args):
        raise RuntimeError(failing)

    monkeypatch.setattr(Unit, failing, fail)
    body = await upload(client, csv(HEADER, "Ana,Ruiz,ana@lima.pe,,Ferretería Lima"))
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    after = await everything()
    # Only the import's record changed: it says the import failed, having written nothing.
    assert {t for t in after if after[t] != before[t]} == {"contact_import"}
    [record] = after["contact_import"]
    assert (record["status"], record["rows_processed"], record["created"]) == ("FAILED", 0, 0)


# ---------------------------------------------------------------- matching and onMatch


async def existing_contact(client) -> dict[str, Any]:
    account, _ = await make_account("Ferretería Lima")
    data = await ok(
        client,
        """mutation($a: ID!) { createContact(input: {accountId: $a,
        firstName: "Ana", lastName: "Ruiz", email: "ana@lima.pe", jobTitle: "Compras",
        documentType: DNI, documentNumber: "44556677"}) { contact { id contactNo } } }""",
        {"a": gid("Account", account.id)},
    )
    return data["createContact"]["contact"]


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("contactNo,jobTitle", "{no},Gerente"),
        ("email,jobTitle", "ANA@lima.pe,Gerente"),
        ("documentType,documentNumber,jobTitle", "DNI,44556677,Gerente"),
    ],
    ids=["contactNo", "email", "document"],
)
async def test_a_row_matches_by_contact_number_else_email_else_document(client, header, key):
    contact = await existing_contact(client)
    row = key.format(no=contact["contactNo"])
    result = payload(await upload(client, csv(header, row)))
    assert (result["created"], result["updated"], result["rowErrors"]) == (0, 1, [])
    ana = await Contact.get(first_name="Ana")
    # Only the columns present changed.
    assert (ana.job_title, ana.last_name, ana.document_number) == ("Gerente", "Ruiz", "44556677")
    event = await AuditEvent.filter(resource_type="Contact").order_by("-id").first()
    assert event.action == "IMPORTED"
    assert event.changes == {"jobTitle": {"from": "Compras", "to": "Gerente"}}


async def test_a_row_holding_what_the_contact_holds_is_unchanged(client):
    contact = await existing_contact(client)
    events = await AuditEvent.all().count()
    result = payload(
        await upload(
            client,
            csv(
                "contactNo,firstName,email,jobTitle,Empresa",
                f"{contact['contactNo']},Ana,ana@lima.pe,Compras,Ferretería Lima",
            ),
        )
    )
    assert (result["updated"], result["unchanged"]) == (0, 1)
    assert await AuditEvent.all().count() == events


async def test_on_match_skip_leaves_matched_contacts_alone(client):
    await existing_contact(client)
    result = payload(
        await upload(
            client,
            csv(
                HEADER,
                "Ana,Ruiz,ana@lima.pe,,Ferretería Lima",
                "Luis,Soto,luis@x.pe,,Ferretería Lima",
            ),
            onMatch="SKIP",
        )
    )
    assert (result["created"], result["updated"], result["skipped"]) == (1, 0, 1)
    assert (await Contact.get(first_name="Ana")).job_title == "Compras"


async def test_an_unknown_contact_number_is_a_row_error(client):
    await existing_contact(client)
    result = payload(await upload(client, csv("contactNo,jobTitle", "CON-000999,Gerente")))
    assert [(e["row"], e["field"], e["code"]) for e in result["rowErrors"]] == [
        (2, "contactNo", "NOT_FOUND")
    ]


async def test_the_same_contact_twice_in_a_file_makes_the_second_row_an_error(client):
    contact = await existing_contact(client)
    result = payload(
        await upload(
            client,
            csv(
                "contactNo,jobTitle",
                f"{contact['contactNo']},Gerente",
                f"{contact['contactNo']},Jefe",
            ),
        )
    )
    assert result["updated"] == 1
    assert [(e["row"], e["code"]) for e in result["rowErrors"]] == [(3, "DUPLICATE_ROW")]
    assert (await Contact.get(first_name="Ana")).job_title == "Gerente"


async def test_an_email_of_an_unseen_contact_is_a_duplicate_not_named(client):
    from models import Team

    contact = await existing_contact(client)
    team = await Team.create(name="Norte")
    nora, secret = await person("Nora", "AGENT", team.id)
    await make_account("Bodega Norte", owner_id=nora.id)
    result = payload(
        await upload(
            client,
            csv(HEADER, "Ana,Ruiz,ana@lima.pe,,Bodega Norte"),
            token=secret,
        )
    )
    [error] = result["rowErrors"]
    assert (error["field"], error["code"]) == ("email", "DUPLICATE_EMAIL")
    assert "Ana" not in error["message"] and contact["contactNo"] not in error["message"]
    assert await Contact.all().count() == 1


# ---------------------------------------------------------------- dry run


async def test_a_dry_run_reports_what_a_real_run_does_and_writes_only_its_record(client):
    await existing_contact(client)
    content = csv(
        HEADER + ",jobTitle",
        "Ana,Ruiz,ana@lima.pe,,Ferretería Lima,Gerente",  # update
        "Luis,Soto,luis@x.pe,,Bodega Nueva,",  # create, and its account
        "Eva,Paz,eva@x,,Bodega Nueva,",  # bad email
        "Otro,Luis,LUIS@x.pe,,Bodega Nueva,",  # the same email again
        "Rosa,Díaz,rosa@x.pe,,bodega nueva,",  # the new account again
    )
    before = await everything()
    rehearsal = payload(await upload(client, content, dryRun=True, createAccounts=True))
    after = await everything()
    assert {t for t in after if after[t] != before[t]} == {"contact_import", "import_row_error"}
    assert rehearsal["import"]["dryRun"] is True
    real = payload(await upload(client, content, createAccounts=True))
    keys = ("created", "updated", "unchanged", "skipped", "rowErrors")
    assert {k: rehearsal[k] for k in keys} == {k: real[k] for k in keys}
    assert (real["created"], real["updated"], len(real["rowErrors"])) == (2, 1, 2)
    assert await Contact.filter(account__name="Bodega Nueva").count() == 2


# ---------------------------------------------------------------- owner and team


async def test_owner_and_team_assignment(client):
    from models import Account, Team

    ventas = await Team.create(name="Ventas")
    rosa, _ = await person("Rosa", "AGENT", ventas.id)
    other, _ = await person("Otro", "AGENT")
    content = csv(HEADER, "Ana,Ruiz,ana@x.pe,,Bodega Nueva")
    # A team without an owner of the team: refused as a whole.
    result = payload(
        await upload(client, content, createAccounts=True, teamId=gid("Team", ventas.id))
    )
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("OUT_OF_RANGE", ["teamId"])]
    result = payload(
        await upload(
            client,
            content,
            createAccounts=True,
            teamId=gid("Team", ventas.id),
            ownerId=gid("User", other.id),
        )
    )
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("OUT_OF_RANGE", ["ownerId"])]
    assert await Contact.all().count() == 0
    result = payload(
        await upload(
            client,
            content,
            createAccounts=True,
            teamId=gid("Team", ventas.id),
            ownerId=gid("User", rosa.id),
        )
    )
    assert result["created"] == 1
    ana = await Contact.get(first_name="Ana")
    account = await Account.get(id=ana.account_id)
    assert ana.owner_id == account.owner_id == rosa.id
    # Rosa (an agent of Ventas) now sees the contact the import made for her team.
    _, rosa_token = await person("Rosa2", "AGENT", ventas.id)
    body = await client.post(
        "/graphql",
        json={"query": "{ contacts { totalCount } }"},
        headers={"Authorization": f"Bearer {rosa_token}"},
    )
    assert body.json()["data"]["contacts"]["totalCount"] == 1


async def test_an_agent_cannot_import_for_another_team(client):
    from models import Team

    north, south = await Team.create(name="Norte"), await Team.create(name="Sur")
    _, secret = await person("Nora", "AGENT", north.id)
    before = await everything()
    body = await upload(
        client, csv(HEADER, "Ana,Ruiz,ana@x.pe,,X"), token=secret, teamId=gid("Team", south.id)
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await everything() == before


# ---------------------------------------------------------------- the record and who sees it


RECORD = """query($id: ID!) { node(id: $id) { ... on ContactImport {
  status rowsTotal rowsProcessed created
  rowErrors(first: 2) { totalCount nodes { row field code } pageInfo { hasNextPage } } } } }"""


async def test_the_record_lists_every_row_error_the_payload_caps(client, monkeypatch):
    from resolvers import importing

    monkeypatch.setattr(importing, "PAYLOAD_ROW_ERRORS", 3)
    await make_account("Ferretería Lima")
    rows = [f"A{i},R,bad{i},,Ferretería Lima" for i in range(5)]
    result = payload(await upload(client, csv(HEADER, *rows, "Ana,Ruiz,ana@x.pe,,Ferretería Lima")))
    assert [e["row"] for e in result["rowErrors"]] == [2, 3, 4]
    data = await ok(client, RECORD, {"id": result["import"]["id"]})
    record = data["node"]
    assert (record["status"], record["rowsTotal"], record["rowsProcessed"], record["created"]) == (
        "SUCCEEDED",
        6,
        6,
        1,
    )
    assert record["rowErrors"]["totalCount"] == 5
    assert [n["row"] for n in record["rowErrors"]["nodes"]] == [2, 3]
    assert record["rowErrors"]["pageInfo"]["hasNextPage"] is True


async def test_imports_are_seen_by_their_importer_and_by_managers_and_admins(client):
    from models import Team

    team = await Team.create(name="Norte")
    nora, nora_token = await person("Nora", "AGENT", team.id)
    _, nico_token = await person("Nico", "AGENT", team.id)  # Nora's teammate
    _, manager_token = await person("Mario", "MANAGER")
    await make_account("Bodega Norte", owner_id=nora.id)
    mine = payload(
        await upload(client, csv(HEADER, "Ana,Ruiz,ana@x.pe,,Bodega Norte"), token=nora_token)
    )["import"]["id"]
    admins = payload(await upload(client, csv(HEADER, "Luis,Soto,luis@x.pe,,Bodega Norte")))

    async def seen(token: str) -> tuple[list[str], Any]:
        response = await client.post(
            "/graphql",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "query": "query($id: ID!) { imports { nodes { id } } node(id: $id) { id } }",
                "variables": {"id": mine},
            },
        )
        data = response.json()["data"]
        return [n["id"] for n in data["imports"]["nodes"]], data["node"]

    assert await seen(nora_token) == ([mine], {"id": mine})
    assert await seen(nico_token) == ([], None)
    everyone = [admins["import"]["id"], mine]  # newest first
    assert await seen(manager_token) == (everyone, {"id": mine})
    assert await seen(ADMIN_TOKEN) == (everyone, {"id": mine})


async def test_the_imports_list_filters(client):
    await make_account("Ferretería Lima")
    content = csv(HEADER, "Ana,Ruiz,ana@x.pe,,Ferretería Lima")
    rehearsal = payload(await upload(client, content, dryRun=True))["import"]["id"]
    real = payload(await upload(client, content))["import"]["id"]
    query = "query($f: ContactImportFilter) { imports(filter: $f) { nodes { id } } }"
    for filter_, expected in (
        ({"dryRun": True}, [rehearsal]),
        ({"dryRun": False}, [real]),
        ({"status": "SUCCEEDED"}, [real, rehearsal]),
        ({"status": "RUNNING"}, []),
    ):
        data = await ok(client, query, {"f": filter_})
        assert [n["id"] for n in data["imports"]["nodes"]] == expected, filter_


# ---------------------------------------------------------------- progress and hang-ups


@pytest.fixture
def paused_after_first_chunk(monkeypatch):
    """Imports of 2-row chunks that stop after their first chunk until ``go`` is set."""
    from resolvers import importing

    first, go = asyncio.Event(), asyncio.Event()
    write = importing.write_chunk

    async def paused(*args):
        await write(*args)
        first.set()
        await go.wait()

    monkeypatch.setattr(importing, "write_chunk", paused)
    monkeypatch.setattr(importing, "CHUNK", 2)
    return first, go


PROGRESS = """query($id: ID!) { imports { nodes { id status rowsTotal rowsProcessed created } }
  node(id: $id) { ... on ContactImport { status rowsProcessed } } }"""


async def test_progress_is_readable_from_another_request_while_it_runs(
    client, paused_after_first_chunk
):
    first, go = paused_after_first_chunk
    await make_account("Ferretería Lima")
    rows = [f"A{i},R,a{i}@x.pe,,Ferretería Lima" for i in range(5)]
    request = asyncio.create_task(upload(client, csv(HEADER, *rows)))
    await first.wait()
    [running] = (await ok(client, "{ imports { nodes { id } } }"))["imports"]["nodes"]
    data = await ok(client, PROGRESS, {"id": running["id"]})
    assert data["imports"]["nodes"] == [
        {"id": running["id"], "status": "RUNNING", "rowsTotal": 5, "rowsProcessed": 2, "created": 2}
    ]
    assert data["node"] == {"status": "RUNNING", "rowsProcessed": 2}
    go.set()
    result = payload(await request)
    assert (result["import"]["status"], result["created"]) == ("SUCCEEDED", 5)


async def test_an_import_whose_client_hangs_up_goes_on_to_its_end(client, paused_after_first_chunk):
    from resolvers import importing

    first, go = paused_after_first_chunk
    await make_account("Ferretería Lima")
    rows = [f"A{i},R,a{i}@x.pe,,Ferretería Lima" for i in range(5)]
    request = asyncio.create_task(upload(client, csv(HEADER, *rows)))
    await first.wait()
    request.cancel()  # the client went away
    with pytest.raises(asyncio.CancelledError):
        await request
    go.set()
    await asyncio.gather(*importing._RUNNING)
    [record] = await ContactImport.all()
    assert (record.status, record.rows_processed, record.created) == ("SUCCEEDED", 5, 5)
    assert record.finished_at is not None
    assert await Contact.all().count() == 5


# ---------------------------------------------------------------- other systems' files


# Columns these systems' exports carry that the import does not know.
EXTRA_COLUMNS = {
    "hubspot": ["Record ID", "Lifecycle Stage", "Contact owner"],
    "vtiger": ["Contact Id", "Assigned To"],
    "vtiger_fields": ["assigned_user_id", "modifiedby"],
    "sendpulse": ["ciudad_favorita"],
    "spanish_excel": ["Color favorito"],
    "spanish": ["Color favorito", "Signo"],
}


def with_columns(content: bytes, name: str, headers: list[str]) -> bytes:
    """The file with ``headers`` added at its end, each row's cell filled: as written by
    the system (its encoding, BOM and separator; XLSX cells)."""
    import csv as csvlib
    import io

    if name.endswith(".xlsx"):
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(content))
        sheet = book.worksheets[0]
        width = sheet.max_column
        for offset, header in enumerate(headers, start=1):
            sheet.cell(row=1, column=width + offset, value=header)
            for row in range(2, sheet.max_row + 1):
                cells = sheet.iter_cols(1, width, row, row, values_only=True)
                if any(value not in (None, "") for (value,) in cells):  # a blank row stays
                    sheet.cell(row=row, column=width + offset, value=f"{header} {row}")
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    encoding = "utf-8-sig" if content.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError:
        encoding = "cp1252"
        text = content.decode(encoding)
    delimiter = ";" if name.startswith("spanish") else ","
    records = list(csvlib.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    out = io.StringIO(newline="")
    writer = csvlib.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for number, record in enumerate(records, start=1):
        if not any(record):
            writer.writerow(record)
        elif number == 1:
            writer.writerow([*record, *headers])
        else:
            writer.writerow([*record, *(f"{h} {number}" for h in headers)])
    return out.getvalue().encode(encoding)


def row_errors(result: dict[str, Any]) -> list[tuple]:
    return [(e["row"], e["field"], e["code"]) for e in result["rowErrors"]]


@pytest.mark.parametrize(
    "name",
    [
        "hubspot.csv",
        "vtiger.csv",
        "vtiger_fields.csv",
        "sendpulse.csv",
        "spanish_excel.csv",
        "spanish_excel_cp1252.csv",
        "spanish.xlsx",
    ],
)
async def test_other_systems_exports_import_without_any_mapping(client, name):
    from pathlib import Path

    content = (Path(__file__).parent / "fixtures" / "imports" / name).read_bytes()
    await define_field(client, "CONTACT", "nivel", "TEXT")  # spanish.xlsx has a cf.nivel
    extra = EXTRA_COLUMNS[name.split(".")[0].removesuffix("_cp1252")]
    content = with_columns(content, name, extra)
    ignored = [(1, header, "UNKNOWN_COLUMN") for header in extra]
    rehearsal = payload(await upload(client, content, name, dryRun=True, createAccounts=True))
    assert rehearsal["errors"] == [] and row_errors(rehearsal) == ignored
    result = payload(await upload(client, content, name, createAccounts=True))
    assert row_errors(result) == ignored and result["created"] == rehearsal["created"] > 0
    assert await Contact.all().count() == result["created"]
    # A second time, every row finds its contact and nothing changes.
    again = payload(await upload(client, content, name, createAccounts=True))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, result["created"])


# ---------------------------------------------------------------- statements


async def test_a_chunk_costs_the_same_statements_whatever_its_rows(client, monkeypatch):
    """No statement per row: a chunk of 40 rows (creates, updates, errors, new accounts,
    addresses) costs what a chunk of 4 alike rows costs."""
    from resolvers import importing
    from tests.conftest import count_statements

    header = "contactNo,Nombre,Apellidos,Correo electrónico,Móvil,Dirección,Empresa"

    async def statements(size: int) -> int:
        await wipe_and_admin()
        await make_account("Ferretería Lima")
        made = payload(await upload(client, csv(header, *(
            f",Old{i},R,old{i}@x.pe,,,Ferretería Lima" for i in range(size)
        ))))  # fmt: skip
        assert made["created"] == size
        rows = [f",New{i},R,new{i}@x.pe,+51 999 000 {i:03d},Calle {i},Bodega {i % 2}"
                for i in range(size)]  # fmt: skip
        rows += [f"CON-{i + 1:06d},Old{i},Ruiz,,,,Ferretería Lima" for i in range(size)]
        rows += [f",Bad{i},R,bad{i},,,Ferretería Lima" for i in range(size)]
        monkeypatch.setattr(importing, "CHUNK", 3 * size)
        with count_statements() as counter:
            result = payload(await upload(client, csv(header, *rows), createAccounts=True))
        assert (result["created"], result["updated"], len(result["rowErrors"])) == (size,) * 3
        return len(counter.statements)

    assert await statements(40) == await statements(4)


async def wipe_and_admin() -> None:
    from resolvers.users import ensure_admin
    from tests.conftest import wipe

    await wipe()
    await ensure_admin(ADMIN_TOKEN)


def test_every_refusal_of_the_reader_is_a_user_error_code():
    from resolvers.errors import ProblemCode
    from resolvers.porting.reader import FileRefusal

    assert {refusal.value for refusal in FileRefusal} <= {code.value for code in ProblemCode}


async def test_a_refused_file_leaves_no_spooled_copy_behind(client, monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    await assert_refused(client, PNG, "UNSUPPORTED_FILE")
    await make_account("Ferretería Lima")
    payload(await upload(client, csv(HEADER, "Ana,Ruiz,ana@lima.pe,,Ferretería Lima")))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("crm-import-")] == []


async def test_statistics_are_refreshed_as_an_import_grows_the_tables(client, monkeypatch):
    """On PostgreSQL an ANALYZE of the written tables each time the import's rows double;
    on SQLite nothing (its planner reads no table statistics of that kind)."""
    from tortoise import connections

    from resolvers import importing

    db = connections.get("default")
    scripts: list[str] = []
    run_script = type(db).execute_script

    async def spied(self, script: str) -> None:
        scripts.append(script)
        await run_script(self, script)

    monkeypatch.setattr(type(db), "execute_script", spied)
    monkeypatch.setattr(importing, "ANALYZE_FROM", 1)
    monkeypatch.setattr(importing, "CHUNK", 1)
    await make_account("Ferretería Lima")
    rows = [f"A{i},R,a{i}@x.pe,,Ferretería Lima" for i in range(5)]
    assert payload(await upload(client, csv(HEADER, *rows)))["created"] == 5
    analysed = [script for script in scripts if script.startswith("ANALYZE")]
    postgres = db.capabilities.dialect == "postgres"
    assert analysed == (["ANALYZE contact, channel, location, account"] * 3 if postgres else [])
