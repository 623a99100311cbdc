"""Tags: stored as typed, compared case- and accent-insensitively, listed with their counts."""

from __future__ import annotations

import pytest

from models import Account, AuditEvent, Contact, Team, User
from models.enums import Role
from tests.conftest import count_statements, gid, gql, make_account, ok
from tests.test_access import person

CREATE = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id tags } errors { code field message } }
}"""
UPDATE = """
mutation($input: UpdateContactInput!) {
  updateContact(input: $input) { contact { id tags } errors { code field message } }
}"""
CREATE_ACCOUNT = """
mutation($input: CreateAccountInput!) {
  createAccount(input: $input) { account { id tags } errors { code field message } }
}"""
UPDATE_ACCOUNT = """
mutation($input: UpdateAccountInput!) {
  updateAccount(input: $input) { account { id tags } errors { code field message } }
}"""
BY_TAG = "query($t: String) { contacts(filter: {tag: $t}) { totalCount nodes { lastName } } }"
ACCOUNTS_BY_TAG = "query($t: String) { accounts(filter: {tag: $t}) { nodes { name } } }"
TAGS = """query($search: String, $first: Int) {
  tags(search: $search, first: $first) { name count accountCount contactCount }
}"""


async def contact(client, account: Account, last: str, tags: list[str]) -> dict:
    variables = {"input": {"accountId": gid("Account", account.id), "firstName": "Ana",
                           "lastName": last, "tags": tags}}  # fmt: skip
    payload = (await ok(client, CREATE, variables))["createContact"]
    assert payload["errors"] == [], payload["errors"]
    return payload["contact"]


async def tagged(client, tag: str) -> list[str]:
    return [n["lastName"] for n in (await ok(client, BY_TAG, {"t": tag}))["contacts"]["nodes"]]


async def written() -> tuple[int, int, int]:
    return await Contact.all().count(), await Account.all().count(), await AuditEvent.all().count()


# ---------------------------------------------------------------- filters


async def test_a_tag_filter_ignores_case_and_accents_and_tags_stay_as_typed(client):
    account, _ = await make_account()
    ana = await contact(client, account, "Gómez", ["VIP", "Crédito"])
    await contact(client, account, "Soto", ["vipes"])
    assert ana["tags"] == ["VIP", "Crédito"]
    for tag in ("vip", "VIP", "Vip", " vip "):
        assert await tagged(client, tag) == ["Gómez"], tag
    for tag in ("credito", "CRÉDITO", "Credito", "crédito"):
        assert await tagged(client, tag) == ["Gómez"], tag
    assert await tagged(client, "vi") == []  # whole tags, not parts
    stored = await Contact.get(last_name="Gómez")
    assert stored.tags == ["VIP", "Crédito"] and stored.tag_keys == ["vip", "credito"]


async def test_a_changed_tag_is_found_by_its_new_spelling_only(client):
    account, _ = await make_account()
    ana = await contact(client, account, "Gómez", ["Crédito"])
    await ok(client, UPDATE, {"input": {"id": ana["id"], "tags": ["Contado"]}})
    assert await tagged(client, "credito") == []
    assert await tagged(client, "CONTADO") == ["Gómez"]


async def test_one_tag_in_two_spellings_is_kept_once_as_first_typed(client):
    account, _ = await make_account()
    ana = await contact(client, account, "Gómez", ["Crédito", "credito", "CRÉDITO", "VIP"])
    assert ana["tags"] == ["Crédito", "VIP"]


async def test_the_account_tag_filter_ignores_case_and_accents(client):
    variables = {"input": {"name": "Bodega Andina", "tags": ["Mayorista", "Crédito"]}}
    payload = (await ok(client, CREATE_ACCOUNT, variables))["createAccount"]
    assert payload["errors"] == [] and payload["account"]["tags"] == ["Mayorista", "Crédito"]
    data = await ok(client, ACCOUNTS_BY_TAG, {"t": "credito"})
    assert [n["name"] for n in data["accounts"]["nodes"]] == ["Bodega Andina"]
    data = await ok(client, ACCOUNTS_BY_TAG, {"t": "MAYORISTA"})
    assert [n["name"] for n in data["accounts"]["nodes"]] == ["Bodega Andina"]


# ---------------------------------------------------------------- bad input: nothing written


def _too_many() -> list[str]:
    return [f"tag{n}" for n in range(21)]


@pytest.mark.parametrize(
    ("tags", "code", "field"),
    [(["x" * 51], "TOO_LONG", ["tags", "0"]), (["ok", "é" * 51], "TOO_LONG", ["tags", "1"]),
     (_too_many(), "OUT_OF_RANGE", ["tags"])],
)  # fmt: skip
async def test_a_tag_over_50_characters_or_more_than_20_tags_writes_nothing(
    client, tags, code, field
):
    account, _ = await make_account()
    ana = await contact(client, account, "Gómez", ["VIP"])
    acme = (await ok(client, CREATE_ACCOUNT, {"input": {"name": "Acme"}}))["createAccount"]
    before = await written()
    cases = [
        ("createContact", CREATE, {"accountId": gid("Account", account.id), "firstName": "Eva",
                                   "lastName": "Soto", "tags": tags}),
        ("updateContact", UPDATE, {"id": ana["id"], "tags": tags}),
        ("createAccount", CREATE_ACCOUNT, {"name": "Otra", "tags": tags}),
        ("updateAccount", UPDATE_ACCOUNT, {"id": acme["account"]["id"], "tags": tags}),
    ]  # fmt: skip
    for name, mutation, variables in cases:
        payload = (await ok(client, mutation, {"input": variables}))[name]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], name
        assert next(v for v in payload.values() if v is not payload["errors"]) is None, name
    assert await written() == before
    assert (await Contact.get(last_name="Gómez")).tags == ["VIP"]
    assert (await Account.get(name="Acme")).tags == []


async def test_exactly_20_tags_of_50_characters_are_taken(client):
    account, _ = await make_account()
    tags = [f"{n:02d}" + "x" * 48 for n in range(20)]
    ana = await contact(client, account, "Gómez", tags)
    assert ana["tags"] == tags


# ---------------------------------------------------------------- the root list


async def test_tags_lists_each_tag_once_with_its_counts_most_used_first(client):
    account, _ = await make_account("Bodega", tags=["Crédito"])
    await contact(client, account, "Gómez", ["VIP", "Crédito"])
    await contact(client, account, "Soto", ["vip"])
    await contact(client, account, "Rojas", ["VIP"])
    data = await ok(client, TAGS)
    assert data["tags"] == [
        {"name": "VIP", "count": 3, "accountCount": 0, "contactCount": 3},
        {"name": "Crédito", "count": 2, "accountCount": 1, "contactCount": 1},
    ]
    assert [t["name"] for t in (await ok(client, TAGS, {"search": "CRED"}))["tags"]] == ["Crédito"]
    assert [t["name"] for t in (await ok(client, TAGS, {"search": "é"}))["tags"]] == ["Crédito"]
    assert (await ok(client, TAGS, {"first": 1}))["tags"][0]["name"] == "VIP"
    assert (await ok(client, TAGS, {"first": 0}))["tags"] == []


async def test_tags_count_only_active_rows(client):
    account, _ = await make_account()
    ana = await contact(client, account, "Gómez", ["VIP"])
    await contact(client, account, "Soto", ["VIP"])
    deactivate = "mutation($id: ID!) { deactivateContact(input: {id: $id}) { contact { id } } }"
    await ok(client, deactivate, {"id": ana["id"]})
    assert (await ok(client, TAGS))["tags"][0]["contactCount"] == 1


async def test_tags_count_only_what_the_caller_sees_rule8(client):
    team = await Team.create(name="Norte")
    nora = await person("Nora", Role.AGENT, team)
    sara_team = await Team.create(name="Sur")
    await person("Sara", Role.AGENT, sara_team)
    sara = await User.get(name="Sara")
    nora_user = await User.get(name="Nora")
    mine, _ = await make_account("Bodega Norte", owner_id=nora_user.id, tags=["Norte"])
    theirs, _ = await make_account("Bodega Sur", owner_id=sara.id, tags=["Secreto"])
    await contact(client, mine, "Gómez", ["VIP"])
    await contact(client, theirs, "Soto", ["VIP", "Secreto"])
    body = await gql(client, TAGS, token=nora)
    assert "errors" not in body, body
    assert body["data"]["tags"] == [
        {"name": "Norte", "count": 1, "accountCount": 1, "contactCount": 0},
        {"name": "VIP", "count": 1, "accountCount": 0, "contactCount": 1},
    ]  # "Secreto" is only on another team's rows: as if it did not exist
    body = await gql(client, TAGS, {"search": "secreto"}, token=nora)
    assert body["data"]["tags"] == []


@pytest.mark.parametrize(
    ("variables", "argument"),
    [({"first": 101}, "first"), ({"first": -1}, "first"), ({"search": "x" * 201}, "search"),
     ({"search": "a\u0000b"}, "search")],
)  # fmt: skip
async def test_tags_refuse_arguments_over_their_limits(client, variables, argument):
    body = await gql(client, TAGS, variables)
    assert body["data"] is None or body["data"].get("tags") is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and f"`{argument}`" in error["message"]


async def test_tags_take_the_same_statements_for_few_and_many_rows(client):
    account, _ = await make_account()
    await contact(client, account, "Gómez", ["VIP"])
    with count_statements() as few:
        await ok(client, TAGS)
    for n in range(15):
        await contact(client, account, f"Soto{n}", [f"tag{n}", "VIP"])
    with count_statements() as many:
        await ok(client, TAGS)
    assert len(many.statements) == len(few.statements) <= 6, many.statements


async def test_a_token_counts_only_the_tags_its_scopes_and_allowlist_let_it_read(client):
    account, _ = await make_account("Bodega", tags=["Mayorista"])
    await contact(client, account, "Gómez", ["VIP"])
    accounts_only = await person("Ada", Role.ADMIN, scopes=["accounts:read"])
    body = await gql(client, TAGS, token=accounts_only)
    assert [t["name"] for t in body["data"]["tags"]] == ["Mayorista"]
    no_tags = await person("Eli", Role.ADMIN, allowed_fields=["Contact.fullName", "Account.name"])
    body = await gql(client, TAGS, token=no_tags)
    assert body["data"]["tags"] == []
    users_only = await person("Ugo", Role.ADMIN, scopes=["users:read"])
    body = await gql(client, TAGS, token=users_only)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
