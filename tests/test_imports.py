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
