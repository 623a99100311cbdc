"""``resolvers.loaders.Loader``: keys asked for together are loaded by one call, each once."""

from __future__ import annotations

import asyncio

import pytest

from resolvers.loaders import Loader


class Source:
    """A batch function that records every call."""

    def __init__(self, failing: set[int] = frozenset()) -> None:
        self.calls: list[list[int]] = []
        self.failing = set(failing)

    async def __call__(self, keys: list[int]) -> list[str]:
        self.calls.append(list(keys))
        await asyncio.sleep(0)  # as a statement would
        if self.failing & set(keys):
            raise LookupError(f"cannot load {sorted(self.failing & set(keys))}")
        return [f"value {key}" for key in keys]


async def test_keys_asked_for_together_are_loaded_by_one_call_each_key_once():
    source = Source()
    loader = Loader(source)
    level, one, again = await asyncio.gather(
        loader.load_many([3, 1, 3, 2]), loader.load(4), loader.load(1)
    )
    assert level == ["value 3", "value 1", "value 3", "value 2"]
    assert (one, again) == ("value 4", "value 1")
    assert source.calls == [[3, 1, 2, 4]]


async def test_loaded_keys_are_remembered_and_new_ones_make_the_next_batch():
    source = Source()
    loader = Loader(source)
    await loader.load_many([1, 2])
    assert await loader.load_many([2, 1]) == ["value 2", "value 1"]
    assert await loader.load_many([2, 5]) == ["value 2", "value 5"]
    assert source.calls == [[1, 2], [5]]
    assert await loader.load_many([]) == []


async def test_a_failed_batch_fails_every_waiter_and_is_asked_again_later():
    source = Source(failing={2})
    loader = Loader(source)
    results = await asyncio.gather(loader.load(1), loader.load(2), return_exceptions=True)
    assert [type(result) for result in results] == [LookupError, LookupError]
    source.failing.clear()
    assert await loader.load_many([1, 2]) == ["value 1", "value 2"]
    assert source.calls == [[1, 2], [1, 2]]


async def test_a_batch_function_giving_the_wrong_number_of_values_is_an_error():
    async def short(keys: list[int]) -> list[str]:
        return ["only one"]

    with pytest.raises(ValueError, match="1 values for 2 keys"):
        await Loader(short).load_many([1, 2])


async def test_a_cancelled_waiter_leaves_the_batch_to_the_others():
    """graphql-core cancels the sibling fields of one that failed; a Task cancels the
    future it awaits. The batch is shared: the other waiters still get their values."""
    problems: list[dict] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: problems.append(context))
    try:
        source = Source()
        loader = Loader(source)
        cancelled = asyncio.ensure_future(loader.load(1))
        other = asyncio.ensure_future(loader.load_many([1, 2]))
        await asyncio.sleep(0)  # both wait on the batch
        cancelled.cancel()
        assert await other == ["value 1", "value 2"]
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert await loader.load(1) == "value 1"
        assert source.calls == [[1, 2]]
        await asyncio.sleep(0)
        assert problems == []  # no batch failed to set its result
    finally:
        loop.set_exception_handler(None)
