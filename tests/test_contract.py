"""Names shared/API.md fixes: the error code's type, one input type per mutation."""

from __future__ import annotations

from graphql import GraphQLEnumType, get_named_type

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
