"""The bench's in-process measurement reaches what it times: every call it wraps exists."""

from __future__ import annotations


def test_every_data_call_the_in_process_bench_wraps_exists():
    from bench.inprocess import DATA_CALLS

    missing = [f"{owner.__name__}.{name}" for owner, name in DATA_CALLS if not hasattr(owner, name)]
    assert missing == []
