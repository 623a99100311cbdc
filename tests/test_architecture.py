"""The shape of the house, checked: the engine knows no domain, the registry knows every
entity, and each entity has its node type."""

from __future__ import annotations

from pathlib import Path

from tortoise import Tortoise

from engine.types import node_types
from models.registry import ENTITIES
from resolvers.ids import TYPE_NAMES
from schema import schema
from tests.test_inputs import _imported_modules

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = {"schema", "resolvers", "models", "demo", "server", "settings", "bench"}
# The engine's data half (loaders, statements, pagination, ids, errors) is no GraphQL.
DATA_HALF = ("loaders.py", "rows.py", "pagination.py", "ids.py", "errors.py")
# Tables that are not entities: no global id, no node type, never read through `Access`
# (the outbox, and the idempotency keys the HTTP layer keeps per token).
NOT_ENTITIES = frozenset({"outbox", "idempotency_key"})


def _offenders(files: list[Path], forbidden: set[str]) -> list[str]:
    return sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in _imported_modules(path)
        if name.split(".")[0] in forbidden
    )


def test_the_engine_imports_nothing_from_the_domains():
    files = sorted((ROOT / "engine").glob("*.py"))
    assert len(files) > 10
    assert _offenders(files, DOMAINS) == []


def test_the_engines_data_half_imports_no_graphql():
    files = [ROOT / "engine" / name for name in DATA_HALF]
    assert _offenders(files, {"strawberry", "graphql"}) == []


async def test_every_model_is_a_registered_entity_with_a_node_type(app):
    tables = {model._meta.db_table for model in Tortoise.apps["models"].values()}
    assert {entity.table for entity in ENTITIES} == tables - NOT_ENTITIES
    assert set(node_types()) == ENTITIES.names == TYPE_NAMES
    for entity in ENTITIES:
        assert node_types()[entity.name].model() is entity.model
        assert schema.get_type_by_name(entity.name) is not None


def _table(path: Path, header: str) -> list[list[str]]:
    """The rows of the Markdown table whose header row starts with ``header``."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_docs_table_of_token_areas_is_the_guards():
    from engine.guard import type_areas

    documented = {
        area.strip("`"): {name.strip("`") for name in types.split(", ")}
        for area, types in _table(ROOT / "docs" / "access.md", "area")
    }
    derived: dict[str, set[str]] = {}
    for type_name, area in type_areas(schema._schema).items():
        derived.setdefault(str(area), set()).add(type_name)
    assert documented == derived


def test_every_audited_field_is_a_field_of_its_model():
    from resolvers.locations import ADDRESS_FIELDS

    for entity in ENTITIES:
        attributes = set(entity.model._meta.fields_db_projection)
        assert set(entity.audited) <= attributes, entity.name
    assert {name for name, _ in ADDRESS_FIELDS} <= set(ENTITIES["Location"].audited)
