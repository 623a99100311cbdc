"""totalCount is exact: a count SQLite remembers ends with any write, from any connection."""

from __future__ import annotations

import sqlite3

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from engine.pagination import exact_count
from models import Contact
from models.enums import RecordStatus
from tests.conftest import count_statements, gid, make_account, ok

CREATE = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } errors { code } }
}"""
DEACTIVATE = "mutation($id: ID!) { deactivateContact(input: {id: $id}) { errors { code } } }"
TOTAL = "query($vip: Boolean) { contacts(filter: {isVip: $vip}) { totalCount } }"


async def total(client, vip: bool | None = None) -> int:
    return (await ok(client, TOTAL, {"vip": vip}))["contacts"]["totalCount"]


async def create(client, account_id: int, name: str, vip: bool = False) -> str:
    data = await ok(client, CREATE, {"input": {
        "accountId": gid("Account", account_id), "firstName": name, "lastName": "Ruiz",
        "isVip": vip,
    }})  # fmt: skip
    assert data["createContact"]["errors"] == []
    return data["createContact"]["contact"]["id"]


async def test_total_count_follows_every_write_of_this_process(client):
    account, _ = await make_account()
    ana = await create(client, account.id, "Ana", vip=True)
    await create(client, account.id, "Luis")
    assert (await total(client), await total(client, vip=True)) == (2, 1)
    assert (await total(client), await total(client, vip=True)) == (2, 1)
    await create(client, account.id, "Eva", vip=True)
    assert (await total(client), await total(client, vip=True)) == (3, 2)
    await ok(client, DEACTIVATE, {"id": ana})
    assert (await total(client), await total(client, vip=True)) == (2, 1)


async def test_total_count_follows_a_commit_of_another_process(client):
    db = connections.get("default")
    if db.capabilities.dialect != "sqlite":
        pytest.skip("SQLite only: PostgreSQL counts are never remembered")
    account, _ = await make_account()
    await create(client, account.id, "Ana")
    await create(client, account.id, "Luis")
    assert await total(client) == 2
    with count_statements() as remembered:
        assert await total(client) == 2
    assert sum("COUNT" in statement for statement in remembered.statements) == 1
    with sqlite3.connect(db.filename) as other:  # another worker's connection to the file
        other.execute("UPDATE contact SET status = 'INACTIVE' WHERE first_name = 'Ana'")
    assert await total(client) == 1


async def test_a_count_inside_a_rolled_back_transaction_is_not_kept(client):
    account, _ = await make_account()
    await create(client, account.id, "Ana")
    active = Contact.filter(status=RecordStatus.ACTIVE)
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await Contact.filter(first_name="Ana").update(status=RecordStatus.INACTIVE)
            assert await exact_count(active) == 0
            raise RuntimeError("roll back")
    assert await exact_count(active) == 1
    assert await total(client) == 1
