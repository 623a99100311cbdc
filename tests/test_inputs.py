"""Plain values past the schema edge: resolvers and models know nothing of Strawberry."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

import resolvers.contacts
from models import Contact
from models.enums import ChannelKind, RecordStatus
from resolvers import validation as check
from resolvers.errors import Rejected
from resolvers.inputs import NOT_SENT, Input
from schema.accounts import CreateAccountInput, UpdateAccountInput
from schema.channels import ChannelInput
from schema.contacts import ContactFilter, UpdateContactInput
from schema.inputs import plain
from schema.locations import LocationFieldsInput
from tests.conftest import gid, make_account, ok

ROOT = Path(__file__).resolve().parent.parent
PLAIN_PACKAGES = ("resolvers", "models", "demo")
GRAPHQL_PACKAGES = {"strawberry", "graphql"}


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_resolvers_and_models_import_nothing_from_strawberry_or_graphql():
    files = [path for package in PLAIN_PACKAGES for path in (ROOT / package).rglob("*.py")]
    assert len(files) > 20
    offenders = sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in _imported_modules(path)
        if name.split(".")[0] in GRAPHQL_PACKAGES
    )
    assert offenders == []


def test_the_import_walk_sees_every_form_of_import(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text(
        "import strawberry.types\nfrom strawberry import UNSET\n"
        "def f():\n    from graphql import parse\n"
    )
    assert _imported_modules(source) == {"strawberry.types", "strawberry", "graphql"}


def _strawberry_values(value: Any) -> list[Any]:
    """Anything left in ``value`` of a type the GraphQL layer defines (UNSET, input objects)."""
    if isinstance(value, Input):
        return [v for item in value.values() for v in _strawberry_values(item)]
    if isinstance(value, list):
        return [v for item in value for v in _strawberry_values(item)]
    package = type(value).__module__.split(".")[0]
    return [value] if package in {*GRAPHQL_PACKAGES, "schema"} else []


def test_an_update_input_becomes_plain_values_with_not_sent_apart_from_null():
    custom = {"ruc": "20123456789"}
    sent = UpdateContactInput(
        id="Q29udGFjdDox",
        email=None,
        job_title="Jefe de compras",
        tags=["vip", "lima"],
        custom_fields=custom,
        channels=[
            ChannelInput(kind=ChannelKind.EMAIL, value="ana@andina.pe"),
            ChannelInput(kind=ChannelKind.MOBILE, value="+51 987 654 321", is_primary=True),
        ],
    )
    data = plain(sent)
    assert isinstance(data, Input)
    assert _strawberry_values(data) == []
    # Sent as null: clear it. Not sent: leave it. The difference survives the edge.
    assert data.email is None and check.given(data.email)
    assert data.phone is NOT_SENT and not check.given(data.phone)
    assert data.first_name is NOT_SENT and not data.first_name
    assert data.id == "Q29udGFjdDox" and data.job_title == "Jefe de compras"
    assert data.tags == ["vip", "lima"]
    assert data.custom_fields is custom  # JSON values are already plain
    first, second = data.channels
    assert isinstance(first, Input) and isinstance(second, Input)
    assert first.kind is ChannelKind.EMAIL and first.value == "ana@andina.pe"
    assert first.label is None and first.is_primary is False  # the input's defaults
    assert second.kind is ChannelKind.MOBILE and second.is_primary is True
    assert set(data) == {f.name for f in UpdateContactInput.__dataclass_fields__.values()}
    assert data["job_title"] == "Jefe de compras"
    assert getattr(data, "no_such_field", "absent") == "absent"


def test_plain_inputs_are_read_only():
    data = plain(UpdateAccountInput(id="x", name="Nuevo nombre"))
    with pytest.raises(AttributeError):
        data.name = "Otro"
    with pytest.raises(TypeError):
        data["name"] = "Otro"  # type: ignore[index]
    assert data.name == "Nuevo nombre"


def test_nested_inputs_lists_enums_and_absent_values_convert():
    created = plain(
        CreateAccountInput(name="Andina", main_location=LocationFieldsInput(city="Lima"))
    )
    assert isinstance(created.main_location, Input)
    assert created.main_location.city == "Lima" and created.main_location.street is None
    assert created.tags is None and created.owner_id is None  # create inputs default to null
    assert plain(CreateAccountInput(name="Andina")).main_location is None
    empty_list = plain(UpdateContactInput(id="x", channels=[]))
    assert empty_list.channels == [] and check.given(empty_list.channels)
    listed = plain(ContactFilter(status=RecordStatus.INACTIVE))
    assert listed.status is RecordStatus.INACTIVE and listed.include_inactive is False
    assert plain(None) is None
    assert plain(["a", 1, RecordStatus.ACTIVE]) == ["a", 1, RecordStatus.ACTIVE]


UPDATE = """mutation($input: UpdateContactInput!) {
  updateContact(input: $input) { contact { id } errors { code } } }"""


async def test_resolvers_receive_plain_inputs_over_http(client, monkeypatch):
    received: list[Any] = []

    def check_fields(problems, data, region, current=None, definitions=None):
        received.append(data)
        raise Rejected([])

    # The first look the resolver takes at the input, past the contact's lookup.
    monkeypatch.setattr(resolvers.contacts, "_check_fields", check_fields)
    account, main = await make_account()
    contact = await Contact.create(account_id=account.id, location_id=main.id,
                                   first_name="Zoila", last_name="Segundo")  # fmt: skip
    variables = {
        "input": {
            "id": gid("Contact", contact.id),
            "mobile": None,
            "channels": [{"kind": "WHATSAPP", "value": "+51 987 654 321"}],
        }
    }
    data = await ok(client, UPDATE, variables)
    assert data["updateContact"] == {"contact": None, "errors": []}
    [sent] = received
    assert isinstance(sent, Input) and _strawberry_values(sent) == []
    assert sent.mobile is None and sent.email is NOT_SENT
    assert [(c.kind, c.value, c.label) for c in sent.channels] == [
        (ChannelKind.WHATSAPP, "+51 987 654 321", None)
    ]
