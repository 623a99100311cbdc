"""Extensions' hooks looked up once per class run exactly as under Strawberry's own runner:
the same hooks, in the same order, seeing the same exceptions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import nullcontext

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

from engine.hooks import PlannedHooksRunner, stage_hook
from schema import schema

STAGES = ("operation", "parsing", "validation", "executing")


class Recording(SchemaExtension):
    """Every kind of hook Strawberry accepts: generators, async generators, plain functions
    and coroutine functions."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def on_operation(self) -> AsyncIterator[None]:
        self.log.append(f"{self.name} operation in")
        try:
            yield
        except ValueError as error:
            self.log.append(f"{self.name} operation saw {error}")
            raise
        finally:
            self.log.append(f"{self.name} operation out")

    def on_parse(self) -> Iterator[None]:
        self.log.append(f"{self.name} parse in")
        yield
        self.log.append(f"{self.name} parse out")

    def on_validate(self) -> None:
        self.log.append(f"{self.name} validate")

    async def on_execute(self) -> None:
        self.log.append(f"{self.name} execute")


class Quiet(SchemaExtension):
    """No hook at all: it must not be entered anywhere."""


def _extensions(log: list[str]) -> list[SchemaExtension]:
    return [Recording("first", log), Quiet(), Recording("second", log)]


async def _run(runner_type: type[SchemaExtensionsRunner], fail: bool) -> list[str]:
    log: list[str] = []
    runner = runner_type(execution_context=None, extensions=_extensions(log))  # type: ignore[arg-type]
    with pytest.raises(ValueError) if fail else nullcontext():
        async with runner.operation():
            for stage in STAGES[1:]:
                async with getattr(runner, stage)():
                    log.append(f"inside {stage}")
            if fail:
                raise ValueError("boom")
    return log


@pytest.mark.parametrize("fail", [False, True], ids=["completes", "raises"])
async def test_planned_hooks_run_as_strawberrys_runner_runs_them(fail: bool) -> None:
    planned = await _run(PlannedHooksRunner, fail)
    assert planned == await _run(SchemaExtensionsRunner, fail)
    assert planned[:2] == ["first operation in", "second operation in"]
    for name in ("second", "first"):  # left in reverse order, each seeing the error
        seen = [line for line in planned if line.startswith(f"{name} operation")]
        assert seen[1:] == ([f"{name} operation saw boom"] if fail else []) + [
            f"{name} operation out"
        ]
    assert planned[-1] == "first operation out"


async def test_an_async_hook_in_a_synchronous_stage_is_refused_as_strawberry_refuses_it() -> None:
    runner = PlannedHooksRunner(execution_context=None, extensions=_extensions([]))  # type: ignore[arg-type]
    with (
        pytest.raises(RuntimeError, match=r"Recording.*on_operation failed to complete synchr"),
        runner.operation(),
    ):
        pass


def test_hooks_are_found_once_per_class_and_stage() -> None:
    assert stage_hook(Quiet, "on_operation") is None
    assert stage_hook(Recording, "on_parse") is stage_hook(Recording, "on_parse")
    assert stage_hook(Recording, "on_operation")[1] is True  # type: ignore[index]
    assert stage_hook(Recording, "on_parse")[1] is False  # type: ignore[index]


def test_the_schema_runs_its_extensions_through_the_planned_runner() -> None:
    runner = schema.create_extensions_runner(None, schema.get_extensions())  # type: ignore[arg-type]
    assert isinstance(runner, PlannedHooksRunner)
