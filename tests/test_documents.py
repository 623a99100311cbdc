"""Documents: upload over the GraphQL multipart request, the checks of the file, review,
figures, deletion, download with the caller's rights (rule 8)."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from models import AuditEvent, Contact, Document, Outbox, Team, User
from models.enums import Role
from resolvers.documents import _forget_unused
from tests.conftest import count_statements, gid, gql, gql_upload, make_account
from tests.test_access import contact_at, person

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200 + b"PE\x00\x00"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"

UPLOAD = (
    "mutation($input: UploadDocumentInput!) { uploadDocument(input: $input) { document { id "
    "name kind contentType byteSize sha256 reviewStatus downloadUrl uploadedBy { name } "
    "contact { fullName } account { name } } errors { code field message } } }"
)
REVIEW = (
    "mutation($id: ID!, $status: ReviewStatus!, $note: String) { reviewDocument(input: "
    "{id: $id, status: $status, note: $note}) { document { reviewStatus reviewNote reviewedAt "
    "reviewedBy { name } } errors { code field } } }"
)
DELETE = (
    "mutation($id: ID!) { deleteDocument(input: {id: $id}) { document { name } "
    "errors { code field } } }"
)


@dataclass
class World:
    north_agent: str
    south_agent: str
    partner: str
    manager: str
    north_contact: str  # global ids
    south_contact: str
    north_account: str


@pytest.fixture(autouse=True)
def empty_storage(app):
    """Each test starts with no stored file (the database is wiped by ``client``)."""
    shutil.rmtree(app.state.storage.root, ignore_errors=True)


@pytest.fixture
async def world(client) -> World:
    north, south = await Team.create(name="Norte"), await Team.create(name="Sur")
    north_agent = await person("Nora", Role.AGENT, north)
    south_agent = await person("Sara", Role.AGENT, south)
    partner = await person("Pablo", Role.PARTNER, north)
    manager = await person("Mario", Role.MANAGER)
    nora, sara = await User.get(name="Nora"), await User.get(name="Sara")
    north_account, north_main = await make_account("Bodega Norte", owner_id=nora.id)
    south_account, south_main = await make_account("Bodega Sur", owner_id=sara.id)
    north_contact = await contact_at(north_account, north_main, "José", "Pérez")
    south_contact = await contact_at(south_account, south_main, "Josefa", "Núñez")
    return World(north_agent, south_agent, partner, manager, gid("Contact", north_contact.id),
                 gid("Contact", south_contact.id), gid("Account", north_account.id))  # fmt: skip


def storage_root(app) -> Path:
    return app.state.storage.root


def stored_files(app) -> list[Path]:
    root = storage_root(app)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def upload(client, target: dict, data: bytes = PDF, filename: str = "contrato.pdf",
                 kind: str = "CONTRACT", token: str | None = None, **fields) -> dict:  # fmt: skip
    variables = {"input": {**target, "file": None, "kind": kind, **fields}}
    extra = {} if token is None else {"token": token}
    response = await gql_upload(client, UPLOAD, variables,
                                {"variables.input.file": (filename, data, "application/pdf")},
                                **extra)  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


def result(body: dict) -> dict:
    assert "errors" not in body, body["errors"]
    return body["data"]["uploadDocument"]


async def written() -> tuple[int, int, int]:
    return await Document.all().count(), await AuditEvent.all().count(), await Outbox.all().count()


# ---------------------------------------------------------------- upload and download


async def test_a_pdf_uploaded_to_a_contact_is_sniffed_stored_and_downloaded(client, app, world):
    name = "Contrato de Núñez 2026.pdf"
    made = result(await upload(client, {"contactId": world.north_contact}, filename=name))
    assert made["errors"] == []
    document = made["document"]
    assert document["name"] == name
    assert document["contentType"] == "application/pdf"
    assert document["byteSize"] == len(PDF)
    assert document["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert document["reviewStatus"] == "PENDING"
    assert document["contact"] == {"fullName": "José Pérez"}
    assert document["account"] == {"name": "Bodega Norte"}
    assert document["downloadUrl"] == f"/documents/{document['id']}"
    sha = document["sha256"]
    assert (storage_root(app) / sha[:2] / sha).read_bytes() == PDF
    [event] = await AuditEvent.filter(resource_type="Document")
    assert event.changes["sha256"] == {"from": None, "to": sha}

    north = {"Authorization": f"Bearer {world.north_agent}"}
    response = await client.get(document["downloadUrl"], headers=north)
    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Contrato de N_')
    assert disposition.endswith(f"filename*=UTF-8''{quote(name, safe='')}")


async def test_a_document_uploaded_to_an_account_lists_on_the_account(client, world):
    made = result(await upload(client, {"accountId": world.north_account}, PNG, "foto.png",
                               kind="PHOTO"))  # fmt: skip
    assert made["document"]["contentType"] == "image/png"
    assert made["document"]["contact"] is None
    query = ("query($id: ID!) { node(id: $id) { ... on Account { documents "
             "{ totalCount nodes { name kind } } } } }")  # fmt: skip
    body = await gql(client, query, {"id": world.north_account})
    assert body["data"]["node"]["documents"]["nodes"] == [{"name": "foto.png", "kind": "PHOTO"}]


async def test_documents_survive_a_new_storage_on_the_same_directory(client, app, world):
    """What a restart keeps: the row in the database and the file under its hash; a storage
    made anew on the directory (as start-up makes it) serves the same bytes."""
    from storage import LocalStorage

    document = result(await upload(client, {"contactId": world.north_contact}))["document"]
    again = LocalStorage(storage_root(app), max_bytes=10, content_types=("application/pdf",))
    assert b"".join([chunk async for chunk in again.chunks(document["sha256"])]) == PDF


# ---------------------------------------------------------------- bad input: nothing written


@pytest.mark.parametrize(
    ("data", "code"),
    [(EXE, "FILE_TYPE_NOT_ALLOWED"), (ELF, "FILE_TYPE_NOT_ALLOWED"),
     (HTML, "FILE_TYPE_NOT_ALLOWED"), (b"", "EMPTY_FILE")],
    ids=["windows-exe", "elf", "html", "empty"],
)  # fmt: skip
async def test_a_file_that_is_not_what_its_pdf_name_says_is_refused(client, app, world, data,
                                                                     code):  # fmt: skip
    before = await written()
    body = await upload(client, {"contactId": world.north_contact}, data, "factura.pdf")
    assert [(e["code"], e["field"]) for e in result(body)["errors"]] == [(code, ["file"])]
    assert result(body)["document"] is None
    assert await written() == before
    assert stored_files(app) == []


async def test_an_upload_over_the_size_limit_is_refused(client, app, world, monkeypatch):
    monkeypatch.setattr(app.state.storage, "max_bytes", len(PDF) - 1)
    before = await written()
    body = await upload(client, {"contactId": world.north_contact})
    assert [e["code"] for e in result(body)["errors"]] == ["FILE_TOO_LARGE"]
    assert await written() == before
    assert stored_files(app) == []


async def test_a_request_over_the_upload_limit_is_413_before_graphql_runs(client, app, world):
    limit = app.state.storage.max_bytes  # the server's --max-upload-bytes
    before = await written()
    response = await gql_upload(client, UPLOAD, {"input": {
        "contactId": world.north_contact, "file": None, "kind": "CONTRACT"}},
        {"variables.input.file": ("big.pdf", PDF + b"0" * limit, "application/pdf")})  # fmt: skip
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert await written() == before
    assert stored_files(app) == []


@pytest.mark.parametrize(
    ("field", "name", "code"),
    [("name", "../../etc/passwd.pdf", "INVALID_CHARACTERS"),
     ("file", "../../etc/passwd.pdf", "INVALID_CHARACTERS"),
     ("name", "contrato\x00.pdf", "INVALID_CHARACTERS"),
     ("name", "factura\u202efdp.exe", "INVALID_CHARACTERS"),
     ("name", "a" * 296 + ".pdf", "TOO_LONG")],
    ids=["dot-dot-name", "dot-dot-filename", "nul", "direction-mark", "300-characters"],
)  # fmt: skip
async def test_a_bad_file_name_is_refused(client, app, world, field, name, code):
    before = await written()
    if field == "name":
        body = await upload(client, {"contactId": world.north_contact}, name=name)
    else:
        body = await upload(client, {"contactId": world.north_contact}, filename=name)
    assert [(e["code"], e["field"]) for e in result(body)["errors"]] == [(code, [field])]
    assert await written() == before
    assert stored_files(app) == []


async def test_a_name_with_accents_of_255_characters_is_kept(client, world):
    name = "ñ" * 251 + ".pdf"
    document = result(await upload(client, {"contactId": world.north_contact}, name=name))
    assert document["document"]["name"] == name


async def test_an_upload_names_exactly_one_target(client, world):
    before = await written()
    body = await upload(client, {"contactId": world.north_contact,
                                 "accountId": world.north_account})  # fmt: skip
    assert [e["code"] for e in result(body)["errors"]] == ["TARGET_REQUIRED"]
    assert await written() == before


# ---------------------------------------------------------------- rule 8 and roles


async def test_another_teams_document_is_404_as_if_absent(client, app, world):
    document = result(await upload(client, {"contactId": world.north_contact}))["document"]
    south = {"Authorization": f"Bearer {world.south_agent}"}
    response = await client.get(document["downloadUrl"], headers=south)
    absent = await client.get(f"/documents/{gid('Document', 9999)}", headers=south)
    assert response.status_code == absent.status_code == 404
    assert response.json() == absent.json()
    assert "Bodega" not in response.text
    body = await gql(client, "query($id: ID!) { node(id: $id) { id } }", {"id": document["id"]},
                     token=world.south_agent)  # fmt: skip
    assert body["data"]["node"] is None
    anonymous = await client.get(document["downloadUrl"])
    assert anonymous.status_code == 401


async def test_an_agent_uploads_to_their_team_only(client, app, world):
    mine = result(await upload(client, {"contactId": world.north_contact},
                               token=world.north_agent))  # fmt: skip
    assert mine["errors"] == []
    before = await written()
    other = result(await upload(client, {"contactId": world.south_contact},
                                token=world.north_agent))  # fmt: skip
    assert [(e["code"], e["field"]) for e in other["errors"]] == [("NOT_FOUND", ["contactId"])]
    assert await written() == before
    assert len(stored_files(app)) == 1


async def test_a_partner_reads_documents_but_does_not_write_them(client, app, world):
    document = result(await upload(client, {"contactId": world.north_contact}))["document"]
    before = await written()
    body = await upload(client, {"contactId": world.north_contact}, PNG, "x.png",
                        token=world.partner)  # fmt: skip
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql(client, DELETE, {"id": document["id"]}, token=world.partner)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await written() == before
    assert len(stored_files(app)) == 1
    response = await client.get(document["downloadUrl"],
                                headers={"Authorization": f"Bearer {world.partner}"})  # fmt: skip
    assert response.content == PDF


async def test_a_review_by_an_agent_is_forbidden(client, world):
    document = result(await upload(client, {"contactId": world.north_contact}))["document"]
    before = await written()
    body = await gql(client, REVIEW, {"id": document["id"], "status": "VALID"},
                     token=world.north_agent)  # fmt: skip
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await written() == before
    assert (await Document.get()).review_status == "PENDING"


async def test_a_review_status_outside_the_enum_is_refused(client, world):
    document = result(await upload(client, {"contactId": world.north_contact}))["document"]
    before = await written()
    body = await gql(client, REVIEW, {"id": document["id"], "status": "APPROVED"},
                     token=world.manager)  # fmt: skip
    assert body["data"] is None
    assert "APPROVED" in body["errors"][0]["message"]
    assert await written() == before
    assert (await Document.get()).review_status == "PENDING"


async def test_a_manager_reviews_and_the_figures_follow(client, world):
    ids = []
    for _ in range(3):
        made = result(await upload(client, {"contactId": world.north_contact}, PNG, "dni.png",
                                   kind="ID_CARD"))  # fmt: skip
        ids.append(made["document"]["id"])
    body = await gql(client, REVIEW, {"id": ids[0], "status": "VALID", "note": "Legible"},
                     token=world.manager)  # fmt: skip
    reviewed = body["data"]["reviewDocument"]
    assert reviewed["errors"] == []
    assert reviewed["document"]["reviewStatus"] == "VALID"
    assert reviewed["document"]["reviewNote"] == "Legible"
    assert reviewed["document"]["reviewedBy"] == {"name": "Mario"}
    assert reviewed["document"]["reviewedAt"]
    await gql(client, REVIEW, {"id": ids[1], "status": "REJECTED"}, token=world.manager)
    query = (
        "query($id: ID!) { node(id: $id) { ... on Contact { documentStats { total pending "
        "valid rejected } pending: documents(filter: {reviewStatus: PENDING}) { totalCount } "
        "valid: documents(filter: {reviewStatus: VALID, kind: ID_CARD}) { totalCount } "
        "contracts: documents(filter: {kind: CONTRACT}) { totalCount } } } }"
    )
    body = await gql(client, query, {"id": world.north_contact})
    node = body["data"]["node"]
    assert node["documentStats"] == {"total": 3, "pending": 1, "valid": 1, "rejected": 1}
    assert (node["pending"]["totalCount"], node["valid"]["totalCount"],
            node["contracts"]["totalCount"]) == (1, 1, 0)  # fmt: skip
    await gql(client, DELETE, {"id": ids[2]})
    body = await gql(client, query, {"id": world.north_contact})
    assert body["data"]["node"]["documentStats"] == {
        "total": 2, "pending": 0, "valid": 1, "rejected": 1
    }


async def test_an_agent_sees_only_their_teams_figures(client, world):
    await upload(client, {"contactId": world.south_contact})
    body = await gql(client, "{ contacts { nodes { fullName documentStats { total } "
                             "documents { totalCount } } } }", token=world.south_agent)  # fmt: skip
    assert body["data"]["contacts"]["nodes"] == [
        {"fullName": "Josefa Núñez", "documentStats": {"total": 1}, "documents": {"totalCount": 1}}
    ]
    body = await gql(client, "{ contacts { nodes { documentStats { total } } } }",
                     token=world.north_agent)  # fmt: skip
    assert body["data"]["contacts"]["nodes"] == [{"documentStats": {"total": 0}}]


# ---------------------------------------------------------------- deletion


async def test_deleting_unlinks_keeps_the_audit_and_removes_unused_bytes(client, app, world):
    first = result(await upload(client, {"contactId": world.north_contact}))["document"]
    second = result(await upload(client, {"contactId": world.south_contact}))["document"]
    assert first["sha256"] == second["sha256"]
    assert len(stored_files(app)) == 1  # the same bytes are stored once
    body = await gql(client, DELETE, {"id": first["id"]})
    assert body["data"]["deleteDocument"] == {"document": {"name": "contrato.pdf"}, "errors": []}
    assert len(stored_files(app)) == 1  # the other document still uses them
    event = await AuditEvent.get(resource_type="Document", action="DELETED")
    assert event.changes["sha256"] == {"from": first["sha256"], "to": None}
    assert event.changes["name"] == {"from": "contrato.pdf", "to": None}
    response = await client.get(first["downloadUrl"],
                                headers={"Authorization": f"Bearer {world.manager}"})  # fmt: skip
    assert response.status_code == 404
    await gql(client, DELETE, {"id": second["id"]})
    assert stored_files(app) == []
    assert await Document.all().count() == 0
    assert await Contact.all().count() == 2


async def downloads(client, app, world, document) -> bytes:
    response = await client.get(document["downloadUrl"],
                                headers={"Authorization": f"Bearer {world.manager}"})  # fmt: skip
    assert response.status_code == 200, response.text
    return response.content


async def test_an_upload_committing_while_a_deletion_moves_the_bytes_aside_keeps_them(
    client, app, world, monkeypatch
):
    """The deleter counted no user, then an upload of the same bytes commits (and finds its
    bytes in place) before the deleter moves them aside: the deleter's second count sees
    the upload and puts the bytes back."""
    first = result(await upload(client, {"contactId": world.north_contact}))["document"]
    store = app.state.storage
    retire = type(store).retire
    later = {}

    async def upload_commits_meanwhile(self, sha256):
        later.update(result(await upload(client, {"contactId": world.south_contact}))["document"])
        return await retire(self, sha256)

    monkeypatch.setattr(type(store), "retire", upload_commits_meanwhile)
    body = await gql(client, DELETE, {"id": first["id"]})
    assert body["data"]["deleteDocument"]["errors"] == []
    assert later["sha256"] == first["sha256"]
    assert await downloads(client, app, world, later) == PDF
    assert len(stored_files(app)) == 1  # nothing left aside


async def test_a_deletion_done_before_an_upload_commits_leaves_the_upload_its_bytes(
    client, app, world, monkeypatch
):
    """The upload placed its bytes (there already), then, before its row commits, the last
    other document using them is deleted and its bytes removed: the upload puts them back
    after its commit."""
    result(await upload(client, {"contactId": world.north_contact}))
    store = app.state.storage
    keep = type(store).keep
    gone = []

    async def deletion_meanwhile(self, staged):
        placed = await keep(self, staged)
        if gone:  # the upload's own ensure, after its commit
            return placed
        # What deleteDocument does for the first document: its row goes, then its bytes.
        await Document.filter(sha256=staged.sha256).delete()
        await _forget_unused(self, staged.sha256)
        gone.append(not self.path_of(staged.sha256).exists())  # the bytes went with it
        return placed

    monkeypatch.setattr(type(store), "keep", deletion_meanwhile)
    second = result(await upload(client, {"contactId": world.south_contact}))["document"]
    monkeypatch.undo()
    assert gone == [True]
    assert await downloads(client, app, world, second) == PDF
    assert len(stored_files(app)) == 1


# ---------------------------------------------------------------- no N+1


async def test_documents_and_figures_of_a_list_take_the_same_statements_for_any_count(
    client, world
):
    async def statements() -> int:
        with count_statements() as counter:
            body = await gql(client, "{ contacts { nodes { documentStats { total } "
                                     "documents(filter: {kind: CONTRACT}) { totalCount nodes "
                                     "{ name uploadedBy { name } } } } } }")  # fmt: skip
        assert "errors" not in body
        return len(counter.statements)

    for contact in (world.north_contact, world.south_contact):
        await upload(client, {"contactId": contact})
    two = await statements()
    account, main = await make_account("Bodega Centro")
    for n in range(3):
        contact = await contact_at(account, main, f"Ana{n}", "Ruiz")
        for _ in range(2):
            await upload(client, {"contactId": gid("Contact", contact.id)})
    assert await statements() == two


async def test_an_upload_whose_unit_of_work_fails_leaves_no_file(client, app, world,
                                                                 monkeypatch):  # fmt: skip
    from resolvers.unit_of_work import Unit

    async def fail(self, *args):
        raise RuntimeError("the outbox is out of reach")

    kept = result(await upload(client, {"contactId": world.north_contact}, PNG, "a.png"))
    before = await written()
    monkeypatch.setattr(Unit, "_insert_outbox", fail)
    body = await upload(client, {"contactId": world.north_contact})
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert await written() == before
    sha = kept["document"]["sha256"]
    assert stored_files(app) == [storage_root(app) / sha[:2] / sha]


async def test_documents_survive_a_restart_of_the_server(tmp_path: Path):
    """``python server.py`` started again on one database file and storage directory: the
    document uploaded before the restart downloads after it."""
    import httpx

    from tests.test_server import ServerProcess

    flags = ("--database-url", f"sqlite://{tmp_path / 'crm.sqlite3'}",
             "--storage-dir", str(tmp_path / "documents"))  # fmt: skip
    first = ServerProcess(*flags)
    async with first:
        pass  # prints the admin's token once, on its way out
    token = next(line.strip() for line in first.output.splitlines()
                 if line.strip().startswith("crm_"))  # fmt: skip
    second = ServerProcess(*flags)
    async with second, httpx.AsyncClient(base_url=second.url) as http:
        account = await gql(http, 'mutation { createAccount(input: {name: "Andina"}) '
                                  "{ account { id } } }", token=token)  # fmt: skip
        account_id = account["data"]["createAccount"]["account"]["id"]
        document = result(await upload(http, {"accountId": account_id}, token=token))["document"]
    third = ServerProcess(*flags)
    async with third, httpx.AsyncClient(base_url=third.url) as http:
        response = await http.get(document["downloadUrl"],
                                  headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 200
    assert response.content == PDF


# ---------------------------------------------------------------- an S3-compatible bucket


@pytest.fixture
def bucket(app, tmp_path, monkeypatch):
    """The app's documents in a bucket of a local S3-compatible server (moto's), for the
    test; the directory storage again afterwards."""
    import boto3
    from moto.server import ThreadedMotoServer

    from storage import S3Storage
    from tests.test_server import ServerProcess

    port = ServerProcess().port  # a free loopback port
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="crm-documents")
    local = app.state.storage
    store = S3Storage(tmp_path, "s3://crm-documents/prod", max_bytes=local.max_bytes,
                      content_types=tuple(local.content_types), endpoint=endpoint,
                      region="us-east-1")  # fmt: skip
    app.state.storage = store
    try:
        yield s3
    finally:
        app.state.storage = local
        server.stop()


def keys(s3) -> list[str]:
    listed = s3.list_objects_v2(Bucket="crm-documents")
    return sorted(item["Key"] for item in listed.get("Contents", []))


async def test_documents_in_an_s3_bucket_upload_download_and_go(client, world, bucket):
    document = result(await upload(client, {"contactId": world.north_contact}))["document"]
    sha = document["sha256"]
    assert keys(bucket) == [f"prod/{sha[:2]}/{sha}"]
    body = bucket.get_object(Bucket="crm-documents", Key=f"prod/{sha[:2]}/{sha}")["Body"]
    assert body.read() == PDF
    north = {"Authorization": f"Bearer {world.north_agent}"}
    response = await client.get(document["downloadUrl"], headers=north)
    assert response.status_code == 200
    assert response.content == PDF
    refused = await upload(client, {"contactId": world.north_contact}, EXE, "x.pdf")
    assert [e["code"] for e in result(refused)["errors"]] == ["FILE_TYPE_NOT_ALLOWED"]
    assert keys(bucket) == [f"prod/{sha[:2]}/{sha}"]
    await gql(client, DELETE, {"id": document["id"]})
    assert keys(bucket) == []
