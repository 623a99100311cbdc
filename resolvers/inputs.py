"""Inputs as resolvers take them: plain, read-only values that know nothing of GraphQL.

The schema converts what the GraphQL layer parsed (``schema.inputs.plain``) before it hands
an input to a resolver: an input object becomes an ``Input``, a field the client did not
send is ``NOT_SENT`` (a field sent as ``null`` is ``None``), enums are the models' enums.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final


class _NotSent:
    """The value of an input field the client left out: leave what is stored as it is."""

    __slots__ = ()
    _instance: _NotSent | None = None

    def __new__(cls) -> _NotSent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_SENT"

    def __bool__(self) -> bool:  # like a missing value: ``if data.tags:`` is false
        return False


NOT_SENT: Final[Any] = _NotSent()


class Input(Mapping[str, Any]):
    """One input object as the client sent it, read-only: its fields by their Python names,
    as attributes (``data.first_name``) or keys (``data["first_name"]``)."""

    __slots__ = ("_name", "_values")

    def __init__(self, name: str, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not a field: copy and pickle look these up before init
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"{self._name} has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._name} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self._name} is read-only")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __bool__(self) -> bool:  # an input object that was sent is a value, even with no fields
        return True

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self._values.items())
        return f"{self._name}({fields})"
