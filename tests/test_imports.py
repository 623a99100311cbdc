"""importContacts over the GraphQL multipart request, as curl -F and Python clients send it:
the rows written, the rows reported, the files refused, the record of each import, who sees
it, its progress, and a client that hangs up."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from models import AuditEvent, Channel, Contact, ContactImport, ImportRowError, Location, User
from models.enums import CaptureSource
from tests.conftest import ADMIN_TOKEN, gid, make_account, ok

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
    data = {"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.file"]})}
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
        csv(HEADER, "Ana,Ruiz,ana@lima.pe,+51 999 111 222,Ferretería Lima",
            "Luis,Soto,luis@lima.pe,,ferretería  lima"),
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


async def person(name: str, role: str, team_id: int | None = None, **token: Any) -> tuple[User, str]:
    from models import ApiToken
    from resolvers.users import hash_secret

    user = await User.create(name=name, email=f"{name.lower()}@crm.pe", role=role,
                             team_id=team_id)  # fmt: skip
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


async def test_unknown_columns_are_reported_once_each_not_per_row(client):
    await make_account("Ferretería Lima")
    rows = [f"Ana{i},Ruiz,ana{i}@lima.pe,,Ferretería Lima,x,y" for i in range(30)]
    errors = await assert_refused(client, csv(HEADER + ",Color favorito,Signo", *rows),
                                  "UNKNOWN_COLUMN")  # fmt: skip
    assert [e["field"] for e in errors] == [["file", "Color favorito"], ["file", "Signo"]]
    assert "Color favorito" in errors[0]["message"]


async def test_the_same_column_twice_is_refused(client):
    await make_account("Ferretería Lima")
    [error] = await assert_refused(
        client, csv("Nombre,Apellidos,Correo electrónico,email,Empresa",
                    "Ana,Ruiz,ana@lima.pe,ana@lima.pe,Ferretería Lima"),
        "DUPLICATE_COLUMN",
    )  # fmt: skip
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
    body = await upload(client, csv(HEADER, "Ana,Ruiz,ana@lima.pe,,Ferretería Lima"),
                        token=secret)  # fmt: skip
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "contacts:write" in body["errors"][0]["message"]
    assert await everything() == before


async def test_without_a_token_an_upload_is_refused(client):
    before = await everything()
    content = csv(HEADER, "Ana,Ruiz,ana@lima.pe,,X")
    response = await client.post(  # what an HTML form on another site could send
        "/graphql", files={"0": ("c.csv", content.encode(), "text/csv")},
        data={"operations": json.dumps({"query": IMPORT, "variables": {"input": {"file": None}}}),
              "map": json.dumps({"0": ["variables.input.file"]})},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "PREFLIGHT_REQUIRED"
    assert await everything() == before


# ---------------------------------------------------------------- bad rows among good ones


async def rows_written() -> set[str]:
    return set(await Contact.all().values_list("first_name", flat=True))


async def test_an_invalid_email_row_is_reported_and_the_good_rows_written(client):
    await make_account("Ferretería Lima")
    result = payload(await upload(client, csv(
        "Nombre,Apellidos,Correo electrónico,Empresa",
        "Ana,Ruiz,ana@lima.pe,Ferretería Lima",
        "Bruno,Paz,bruno-at-lima,Ferretería Lima",
        "Carla,Díaz,carla@lima.pe,Ferretería Lima",
    )))  # fmt: skip
    assert result["created"] == 2
    assert result["rowErrors"] == [{"row": 3, "field": "Correo electrónico",
                                    "code": "INVALID_EMAIL",
                                    "message": "'bruno-at-lima' is not an email address."}]  # fmt: skip
    assert await rows_written() == {"Ana", "Carla"}


async def test_the_same_email_twice_in_a_file_makes_the_second_row_an_error(client):
    await make_account("Ferretería Lima")
    result = payload(await upload(client, csv(
        HEADER, "Ana,Ruiz,ana@lima.pe,,Ferretería Lima", "Otra,Ana,ANA@Lima.pe,,Ferretería Lima",
    )))  # fmt: skip
    assert result["created"] == 1
    [error] = result["rowErrors"]
    assert (error["row"], error["field"], error["code"]) == (3, "email", "DUPLICATE_EMAIL")
    assert "Row 2" in error["message"]
    assert await rows_written() == {"Ana"}


async def test_a_row_for_an_account_that_does_not_exist(client):
    content = csv(HEADER, "Ana,Ruiz,ana@lima.pe,,Bodega Nueva", "Luis,Soto,luis@lima.pe,,bodega nueva",
                  "Eva,Paz,eva@lima.pe,,Otra Bodega")  # fmt: skip
    before = await everything()
    result = payload(await upload(client, content))
    assert result["created"] == 0
    assert [(e["row"], e["field"], e["code"]) for e in result["rowErrors"]] == [
        (2, "Empresa", "NOT_FOUND"), (3, "Empresa", "NOT_FOUND"), (4, "Empresa", "NOT_FOUND"),
    ]  # fmt: skip
    assert "createAccounts" in result["rowErrors"][0]["message"]
    after = await everything()
    assert await contact_rows() == 0
    assert {t for t in after if after[t] != before[t]} == {"contact_import", "import_row_error"}
    # With createAccounts, each distinct name once.
    result = payload(await upload(client, content, createAccounts=True))
    assert (result["created"], result["rowErrors"]) == (3, [])
    names = await ok(client, "{ accounts { nodes { name mainLocation { name } contacts { totalCount } } } }")
    assert sorted((a["name"], a["contacts"]["totalCount"]) for a in names["accounts"]["nodes"]) == [
        ("Bodega Nueva", 2), ("Otra Bodega", 1),
    ]


async def test_a_cell_over_its_length_limit_is_a_row_error(client):
    await make_account("Ferretería Lima")
    result = payload(await upload(client, csv(
        "Nombre,Apellidos,Cargo,Empresa",
        f"Ana,Ruiz,{'x' * 121},Ferretería Lima",
        "Luis,Soto,Jefe,Ferretería Lima",
    )))  # fmt: skip
    [error] = result["rowErrors"]
    assert (error["row"], error["field"], error["code"]) == (2, "Cargo", "TOO_LONG")
    assert "120" in error["message"]
    assert await rows_written() == {"Luis"}


async def test_a_birthday_in_the_future_is_a_row_error(client):
    await make_account("Ferretería Lima")
    result = payload(await upload(client, csv(
        "Nombre,Apellidos,Fecha de nacimiento,Empresa",
        "Ana,Ruiz,01/02/2999,Ferretería Lima",
        "Luis,Soto,1990-05-04,Ferretería Lima",
    )))  # fmt: skip
    [error] = result["rowErrors"]
    assert (error["row"], error["field"], error["code"]) == (2, "Fecha de nacimiento",
                                                             "INVALID_DATE")  # fmt: skip
    luis = await Contact.get(first_name="Luis")
    assert luis.birthday.isoformat() == "1990-05-04"
    assert await rows_written() == {"Luis"}


async def test_an_agent_importing_into_another_teams_account_gets_not_found(client):
    from models import Team

    north, south = await Team.create(name="Norte"), await Team.create(name="Sur")
    nora, secret = await person("Nora", "AGENT", north.id)
    sara, _ = await person("Sara", "AGENT", south.id)
    await make_account("Bodega Norte", owner_id=nora.id)
    south_account, _ = await make_account("Bodega Sur", owner_id=sara.id)
    result = payload(await upload(client, csv(
        "Nombre,Apellidos,Correo electrónico,Empresa,accountNo",
        f"Ana,Ruiz,ana@x.pe,,{south_account.account_no}",
        "Luis,Soto,luis@x.pe,Bodega Sur,",
        "Eva,Paz,eva@x.pe,Bodega Norte,",
    ), token=secret))  # fmt: skip
    assert result["created"] == 1
    assert [(e["row"], e["field"], e["code"]) for e in result["rowErrors"]] == [
        (2, "accountNo", "NOT_FOUND"), (3, "Empresa", "NOT_FOUND"),
    ]
    assert "Bodega Sur" not in result["rowErrors"][0]["message"]
    assert await Contact.filter(account_id=south_account.id).count() == 0
    assert await rows_written() == {"Eva"}


# ---------------------------------------------------------------- rule 6


@pytest.mark.parametrize("failing", ["_insert_audit", "_insert_outbox"])
async def test_rule_6_a_failed_audit_or_outbox_write_leaves_no_contact(client, monkeypatch, failing):
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
