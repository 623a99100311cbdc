"""Picklists: every enum of the live schema, each value labelled in Spanish and English."""

from __future__ import annotations

import pytest
from graphql import GraphQLEnumType

from resolvers.porting.columns import BY_KEY
from schema import schema
from schema.picklists import LABELS
from tests.conftest import gql, ok

PICKLISTS = "query($locale: Locale!) { picklists(locale: $locale) { name values { value label } } }"


def _live_enums() -> dict[str, GraphQLEnumType]:
    return {name: t for name, t in schema._schema.type_map.items()
            if isinstance(t, GraphQLEnumType) and not name.startswith("__")}  # fmt: skip


def test_every_enum_of_the_schema_has_a_label_in_both_languages_for_every_value():
    enums = _live_enums()
    assert len(enums) >= 20
    missing = [
        f"{name}.{value}"
        for name, enum in enums.items()
        for value in enum.values
        if value not in LABELS.get(name, {})
        or not all(label.strip() for label in LABELS[name][value])
    ]
    assert missing == [], f"label these in schema/picklists.py LABELS: {missing}"


async def _lists(client, locale: str) -> dict[str, dict[str, str]]:
    data = await ok(client, PICKLISTS, {"locale": locale})
    return {p["name"]: {v["value"]: v["label"] for v in p["values"]} for p in data["picklists"]}


async def test_picklists_in_spanish_carry_the_seeds_labels(client):
    lists = await _lists(client, "ES")
    assert lists.keys() == _live_enums().keys()
    assert lists["LeadSource"]["COLD_CALL"] == "Llamada en frío"
    assert lists["LeadSource"]["EXISTING_CUSTOMER"] == "Cliente existente"
    assert lists["ContactRole"]["BUYER"] == "Comprador"
    assert lists["ContactRole"]["OWNER"] == "Propietario"
    assert list(lists["LeadSource"]) == list(_live_enums()["LeadSource"].values)  # schema order


async def test_picklists_in_english(client):
    lists = await _lists(client, "EN")
    assert lists["LeadSource"]["COLD_CALL"] == "Cold call"
    assert lists["ContactRole"]["BUYER"] == "Buyer"


async def test_a_locale_outside_the_enum_is_a_validation_error(client):
    body = await gql(client, PICKLISTS, {"locale": "FR"})
    assert "data" not in body or body["data"] is None
    assert "FR" in body["errors"][0]["message"]


async def test_picklists_need_a_signed_in_caller(client):
    body = await gql(client, PICKLISTS, {"locale": "ES"}, token=None)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(("key", "enum"), [("role", "ContactRole"), ("leadSource", "LeadSource"),
                                           ("status", "RecordStatus")])  # fmt: skip
def test_the_import_reads_back_every_spanish_label_of_the_columns_it_takes(key, enum):
    for value, (spanish, english) in LABELS[enum].items():
        assert BY_KEY[key].parse(spanish).value == value, spanish
        assert BY_KEY[key].parse(english).value == value, english
