"""GraphQL over HTTP as the spec describes it (the npm graphql-http audit checks the rest)."""

from __future__ import annotations

from tests.conftest import ADMIN_TOKEN

RESPONSE_TYPE = "application/graphql-response+json"


async def post(client, body, accept: str | None = None):
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    if accept:
        headers["Accept"] = accept
    return await client.post("/graphql", json=body, headers=headers)


async def test_graphql_response_json_is_used_when_accepted(client):
    response = await post(client, {"query": "{ viewer { role } }"}, RESPONSE_TYPE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(RESPONSE_TYPE)
    assert response.json() == {"data": {"viewer": {"role": "ADMIN"}}}


async def test_unparsable_and_invalid_documents_are_400_without_data(client):
    for query in ("{ viewer { id }", "{ nope }"):
        response = await post(client, {"query": query}, RESPONSE_TYPE)
        assert response.status_code == 400, query
        assert "data" not in response.json()
        assert response.json()["errors"][0]["extensions"]["code"].startswith("GRAPHQL_")


async def test_bad_variables_are_400(client):
    response = await post(
        client, {"query": "query($n: Int) { contacts(first: $n) { totalCount } }",
                 "variables": {"n": "many"}}, RESPONSE_TYPE,
    )  # fmt: skip
    assert response.status_code == 400


async def test_field_errors_stay_200_with_data(client):
    response = await post(client, {"query": "{ contacts(first: 500) { totalCount } }"},
                          RESPONSE_TYPE)  # fmt: skip
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert response.json()["errors"][0]["path"] == ["contacts"]


async def test_plain_json_clients_keep_200(client):
    response = await post(client, {"query": "{ nope }"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")


async def test_batches_and_form_posts_are_refused(client):
    response = await client.post(
        "/graphql", json=[{"query": "{ viewer { id } }"}] * 50,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )  # fmt: skip
    assert response.status_code == 400
    response = await client.post(
        "/graphql", data={"query": "{ viewer { id } }"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )  # fmt: skip
    assert response.status_code == 400
