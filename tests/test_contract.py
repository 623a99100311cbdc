"""Names shared/API.md fixes: the error code's type, one input type per mutation."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    get_named_type,
)

from schema import schema
from tests.conftest import ok

ERROR_CODE_TYPE = """{ __type(name: "UserError") {
  fields { name type { kind ofType { kind name } } } } }"""


async def test_user_error_code_is_of_type_user_error_code(client):
    data = await ok(client, ERROR_CODE_TYPE)
    code = next(f for f in data["__type"]["fields"] if f["name"] == "code")
    assert code["type"] == {"kind": "NON_NULL", "ofType": {"kind": "ENUM", "name": "UserErrorCode"}}
    assert "ProblemCode" not in schema._schema.type_map
    # The enum answers in payloads too, with the same values as before.
    data = await ok(client, 'mutation { createTeam(input: {name: "  "}) { errors { code } } }')
    assert data["createTeam"]["errors"] == [{"code": "BLANK"}]
    assert isinstance(schema._schema.type_map["UserErrorCode"], GraphQLEnumType)
    assert get_named_type(schema._schema.type_map["UserError"].fields["code"].type).name == (
        "UserErrorCode"
    )


def _pascal(name: str) -> str:
    return name[0].upper() + name[1:]


def _input_type_uses() -> dict[str, list[str]]:
    """Every place an input type is named: field arguments and input object fields."""
    uses: dict[str, list[str]] = {}
    for type_name, graphql_type in schema._schema.type_map.items():
        if type_name.startswith("__"):
            continue
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                for arg_name, arg in field.args.items():
                    named = get_named_type(arg.type)
                    if isinstance(named, GraphQLInputObjectType):
                        uses.setdefault(named.name, []).append(
                            f"{type_name}.{field_name}({arg_name})"
                        )
        if isinstance(graphql_type, GraphQLInputObjectType):
            for field_name, field in graphql_type.fields.items():
                named = get_named_type(field.type)
                if isinstance(named, GraphQLInputObjectType):
                    uses.setdefault(named.name, []).append(f"{type_name}.{field_name}")
    return uses


# The contract's batches take the single mutation's input as their items
# (`createContacts(input: {contacts: [CreateContactInput!]!, atomic})`).
BATCH_ITEMS = {"CreateContactInput": "CreateContactsInput.contacts",
               "UpdateContactInput": "UpdateContactsInput.contacts"}  # fmt: skip


def test_every_mutation_takes_its_own_input_type_named_after_it():
    uses = _input_type_uses()
    mutations = schema._schema.mutation_type.fields
    assert len(mutations) >= 22
    wrong = []
    for name, mutation in mutations.items():
        argument = mutation.args.get("input")
        if argument is None or list(mutation.args) != ["input"]:
            wrong.append(f"{name}: arguments {list(mutation.args)}, not one `input`")
            continue
        if not isinstance(argument.type, GraphQLNonNull):
            wrong.append(f"{name}: input is optional")
        input_type = get_named_type(argument.type)
        if input_type.name != f"{_pascal(name)}Input":
            wrong.append(f"{name}: input type {input_type.name}")
        others = [use for use in uses[input_type.name] if use != BATCH_ITEMS.get(input_type.name)]
        if others != [f"Mutation.{name}(input)"]:
            wrong.append(f"{name}: {input_type.name} is also used by {uses[input_type.name]}")
    assert wrong == []


ROOT = Path(__file__).resolve().parent.parent
SHARED_CONTRACT = ROOT.parent / "shared" / "API.md"


def test_the_contract_in_the_repository_is_the_shared_one():
    if not SHARED_CONTRACT.exists():
        pytest.skip(
            f"{SHARED_CONTRACT} is missing: this clone has no shared/ beside it (CI puts a "
            "copy there), so docs/contract.md has nothing to be compared with"
        )
    assert (ROOT / "docs" / "contract.md").read_text() == SHARED_CONTRACT.read_text(), (
        "docs/contract.md differs from ../shared/API.md: copy the shared one over it"
    )
