"""`with_changes` copies a fold's state exactly as `dataclasses.replace` would, and refuses
what it cannot copy that way."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from contracts.frozen import with_changes


@dataclass(frozen=True, slots=True)
class State:
    name: str
    count: int = 0
    tags: frozenset[str] = frozenset()
    seen: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Checked:
    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low above high")


@dataclass(frozen=True)
class Unslotted:
    a: int
    b: int


def test_a_copy_with_changes_equals_dataclasses_replace() -> None:
    state = State("a", 1, frozenset({"x"}), {"k": 1})
    for changes in ({}, {"count": 2}, {"name": "b", "tags": frozenset()}, {"seen": {}}):
        copy = with_changes(state, **changes)
        assert copy == dataclasses.replace(state, **changes) and copy is not state
        assert type(copy) is State
    assert state == State("a", 1, frozenset({"x"}), {"k": 1})  # the original is untouched


@dataclass(frozen=True, slots=True)
class Child(State):
    extra: str = "-"


def test_inherited_fields_are_copied_too() -> None:
    child = Child("a", 1, extra="e")
    assert with_changes(child, count=5, extra="f") == dataclasses.replace(child, count=5,
                                                                          extra="f")
    assert type(with_changes(child)) is Child


def test_it_refuses_what_replace_would_refuse_or_do_differently() -> None:
    with pytest.raises(TypeError, match="no field"):
        with_changes(State("a"), colour="red")
    with pytest.raises(TypeError, match="only stores them"):
        with_changes(Checked(1, 2), high=3)  # its __post_init__ would not run
    with pytest.raises(TypeError, match="slotted"):
        with_changes(Unslotted(1, 2), a=3)
