"""`with_changes`: `dataclasses.replace` for the frozen, slotted states folds keep.

Every fold (the decider's ticket, the lifecycle's place, the boards' watch and case) copies
its state once or twice per event. `dataclasses.replace` does so by calling `__init__`
again with every field as a keyword; for the decider's 31-field `Ticket` that was the
largest Python cost of a cold load in the callback benchmark's profile. This copies the
slots as they are and sets the changed ones: the same result for a dataclass whose
`__init__` only stores its fields (no `__post_init__`, no `init=False` field), which is
checked once per class.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Layout = tuple[tuple[str, ...], frozenset[str], Callable[[Any], tuple[Any, ...]]]
_LAYOUT: dict[type, Layout] = {}
_set = object.__setattr__


def _layout(cls: type) -> Layout:
    found = _LAYOUT.get(cls)
    if found is None:
        fields = dataclasses.fields(cls)
        if (not hasattr(cls, "__slots__") or hasattr(cls, "__post_init__")
                or not all(f.init for f in fields) or len(fields) < 2):
            raise TypeError(f"{cls.__name__}: with_changes needs a slotted dataclass of at "
                            "least two fields that only stores them")
        names = tuple(f.name for f in fields)
        found = _LAYOUT[cls] = (names, frozenset(names), operator.attrgetter(*names))
    return found


def with_changes(obj: T, **changes: Any) -> T:
    """A copy of `obj` with `changes` (TypeError for a name that is not a field)."""
    names, known, values = _layout(type(obj))
    if not known.issuperset(changes):
        raise TypeError(f"{type(obj).__name__} has no field {sorted(set(changes) - known)}")
    new = object.__new__(type(obj))
    for name, value in zip(names, values(obj), strict=True):
        _set(new, name, value)
    for name, value in changes.items():
        _set(new, name, value)
    return new
