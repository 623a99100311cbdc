"""Search and tag filters through their indexes (SQLite: FTS5 trigram and tag tables kept by
triggers; PostgreSQL: trigram and JSONB GIN indexes) mean exactly what the LIKE meant."""

from __future__ import annotations

import pytest
from tortoise import connections

from models import Contact
from tests.conftest import count_statements, gid, make_account, ok

CREATE = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } errors { code field message } }
}"""
UPDATE = """
mutation($input: UpdateContactInput!) {
  updateContact(input: $input) { contact { id } errors { code field message } }
}"""
DEACTIVATE = """
mutation($id: ID!) { deactivateContact(input: {id: $id}) { contact { status } errors { code } } }
"""
SEARCH = """
query($s: String, $inactive: Boolean) {
  contacts(search: $s, filter: {includeInactive: $inactive}) { totalCount nodes { lastName } }
}"""
BY_TAG = "query($t: String) { contacts(filter: {tag: $t}) { totalCount nodes { lastName } } }"


async def created(client, account_id: int, first: str, last: str, **fields) -> str:
    data = await ok(client, CREATE, {"input": {
        "accountId": gid("Account", account_id), "firstName": first, "lastName": last, **fields,
    }})  # fmt: skip
    payload = data["createContact"]
    assert payload["errors"] == [], payload["errors"]
    return payload["contact"]["id"]


async def found(client, text: str, include_inactive: bool = False) -> list[str]:
    data = await ok(client, SEARCH, {"s": text, "inactive": include_inactive})
    names = sorted(node["lastName"] for node in data["contacts"]["nodes"])
    assert data["contacts"]["totalCount"] == len(names)
    return names


def sqlite() -> bool:
    return connections.get("default").capabilities.dialect == "sqlite"


@pytest.fixture
async def people(client) -> dict[str, str]:
    account, _ = await make_account()
    rows = {
        "Pérez": ("José", {"mobile": "+51 987 654 321", "email": "jose.perez@andina.pe"}),
        "Núñez": ("Ángela", {"email": "angela@andina.pe"}),
        'Ríos "Chino"': ("Luis", {}),
        "Paz_Soto": ("Ana", {}),
        "PazXSoto": ("Eva", {}),
        "Cien%": ("Rosa", {}),
        "Ciento": ("Raúl", {}),
        "O'Brien": ("Liam", {}),
    }
    return {
        last: await created(client, account.id, first, last, **fields)
        for last, (first, fields) in rows.items()
    }


async def test_search_through_the_index_is_accent_and_case_insensitive(client, people):
    assert await found(client, "jose PEREZ") == ["Pérez"]
    assert await found(client, "ÁNGELA núñez") == ["Núñez"]
    assert await found(client, "nunez") == ["Núñez"]


async def test_words_of_one_or_two_characters_still_match_as_substrings(client, people):
    assert await found(client, "ñe") == ["Núñez"]
    assert await found(client, "jo pe") == ["Pérez"]
    assert await found(client, "z") == sorted(["Núñez", "Paz_Soto", "PazXSoto", "Pérez"])


async def test_phone_digits_match_with_or_without_separators(client, people):
    assert await found(client, "654321") == ["Pérez"]
    assert await found(client, "+51-987") == ["Pérez"]
    assert await found(client, "987 654") == ["Pérez"]


async def test_quotes_percent_and_underscore_are_literal_characters(client, people):
    assert await found(client, '"chino"') == ['Ríos "Chino"']
    assert await found(client, 'os "ch') == ['Ríos "Chino"']
    assert await found(client, "paz_soto") == ["Paz_Soto"]
    assert await found(client, "z_s") == ["Paz_Soto"]
    assert await found(client, "cien%") == ["Cien%"]
    assert await found(client, "n%") == ["Cien%"]
    assert await found(client, "o'brien") == ["O'Brien"]


async def test_search_syntax_in_words_finds_nothing_and_fails_nothing(client, people):
    for text in ('") OR 1=1 --', "jose OR perez", "NEAR(jose perez)", "jose*", "'; DROP", "%", "_"):
        expected = ["Cien%"] if text == "%" else []
        if text == "_":
            expected = ["Paz_Soto"]
        assert await found(client, text) == expected, text


async def test_a_changed_name_or_channel_is_searched_at_once(client, people):
    jose = people["Pérez"]
    await ok(client, UPDATE, {"input": {"id": jose, "lastName": "Quispe",
                                        "email": "jq@bodegainca.pe"}})  # fmt: skip
    assert await found(client, "perez") == []
    assert await found(client, "jose quispe") == ["Quispe"]
    assert await found(client, "bodegainca") == ["Quispe"]
    assert await found(client, "jose.perez@andina") == []


async def test_a_deactivated_contact_leaves_the_default_search(client, people):
    await ok(client, DEACTIVATE, {"id": people["Núñez"]})
    assert await found(client, "angela") == []
    assert await found(client, "angela", include_inactive=True) == ["Núñez"]


async def test_a_deleted_contact_leaves_the_search_and_its_index(client, people):
    contact = await Contact.get(last_name="Ciento")
    await contact.channels.all().delete()
    await contact.delete()
    assert await found(client, "ciento") == []
    if sqlite():
        db = connections.get("default")
        rows = await db.execute_query_dict(
            'SELECT "rowid" FROM "contact_search" WHERE "rowid" = ?', [contact.id]
        )
        assert rows == []


async def test_the_sqlite_index_holds_each_row_text_exactly(client, people):
    if not sqlite():
        pytest.skip("SQLite only: PostgreSQL indexes the column itself")
    await ok(client, UPDATE, {"input": {"id": people["Pérez"], "lastName": "Quispe"}})
    db = connections.get("default")
    index = await db.execute_query_dict(
        'SELECT "rowid" AS "id", "search_text" FROM "contact_search" ORDER BY "rowid"'
    )
    table = await db.execute_query_dict('SELECT "id", "search_text" FROM "contact" ORDER BY "id"')
    assert index == table


async def test_sqlite_search_reads_the_trigram_index_for_words_of_three_characters(client, people):
    if not sqlite():
        pytest.skip("SQLite only")
    with count_statements() as long_word:
        assert await found(client, "perez") == ["Pérez"]
    with count_statements() as short_word:
        assert await found(client, "ñe") == ["Núñez"]
    assert any('"contact_search" MATCH' in s for s in long_word.statements)
    assert not any("MATCH" in s for s in short_word.statements)


async def test_tag_filter_follows_created_changed_and_removed_tags(client):
    account, _ = await make_account()
    ana = await created(client, account.id, "Ana", "Gómez", tags=["decisor", "feria"])
    await created(client, account.id, "Luis", "Soto", tags=["decisores"])

    async def tagged(tag: str) -> list[str]:
        data = await ok(client, BY_TAG, {"t": tag})
        names = sorted(node["lastName"] for node in data["contacts"]["nodes"])
        assert data["contacts"]["totalCount"] == len(names)
        return names

    assert await tagged("decisor") == ["Gómez"]
    assert await tagged("decisores") == ["Soto"]
    await ok(client, UPDATE, {"input": {"id": ana, "tags": ["feria", "it's"]}})
    assert await tagged("decisor") == []
    assert await tagged("it's") == ["Gómez"]
    assert await tagged("feria") == ["Gómez"]
    await Contact.filter(last_name="Soto").delete()
    assert await tagged("decisores") == []


async def test_a_bulk_load_without_side_tables_finds_every_row_after(client):
    """The bench's generator loads with the search indexes suspended: rows written meanwhile
    are found by search and tag once they are built again."""
    from models.db import search_indexes_suspended, text_index

    connection = connections.get("default")

    async def indexes() -> list[str]:
        if sqlite():
            found = await connection.execute_query_dict(
                "SELECT name FROM sqlite_master WHERE name IN ('contact_search', 'contact_tag_key')"
            )
            return sorted(row["name"] for row in found)
        found = await connection.execute_query_dict(
            "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'contact' "
            "AND indexdef LIKE '%USING gin%'"
        )
        return sorted(row["name"] for row in found)

    built = await indexes()
    assert len(built) == (2 if sqlite() else 3), built  # search, tags (PostgreSQL: custom fields)
    account, _ = await make_account()
    await created(client, account.id, "José", "Quispe", tags=["decisor"])
    async with search_indexes_suspended(connection):
        assert await indexes() == []
        if sqlite():
            assert text_index("contact") is None  # nothing may query a table being rebuilt
        await created(client, account.id, "Josefina", "Mamani", tags=["decisor"])
    assert await indexes() == built
    if sqlite():
        assert text_index("contact") == "contact_search"
    assert await found(client, "jose") == ["Mamani", "Quispe"]
    data = await ok(client, BY_TAG, {"t": "decisor"})
    assert data["contacts"]["totalCount"] == 2
