"""The bench's in-process measurement reaches what it times: every call it wraps exists."""

from __future__ import annotations


def test_every_data_call_the_in_process_bench_wraps_exists():
    from bench.inprocess import DATA_CALLS

    missing = [f"{owner.__name__}.{name}" for owner, name in DATA_CALLS if not hasattr(owner, name)]
    assert missing == []


async def test_the_export_memory_bench_fills_columns_the_tables_have_and_every_required_one(app):
    """``app``: Tortoise knows the foreign-key columns once it is initialised."""
    from bench.export_memory import _generators
    from models import Account, Channel, Contact, Location

    models = {"account": Account, "location": Location, "contact": Contact, "channel": Channel}
    for table, columns, rows in _generators(3, owner=1):
        meta = models[table]._meta
        projection = meta.fields_db_projection  # field name -> column, foreign keys' too
        assert set(columns) <= set(projection.values()), (table, columns)
        required = {column for name, column in projection.items()
                    if not meta.fields_map[name].null and not meta.fields_map[name].generated}
        assert required <= set(columns), (table, required - set(columns))
        assert all(len(row) == len(columns) for row in rows)
