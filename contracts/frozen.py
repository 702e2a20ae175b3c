"""`with_changes`: `dataclasses.replace` for the frozen, slotted states folds keep.

Every fold (the decider's ticket, the lifecycle's place, the boards' watch and case) copies
its state once or twice per event. `dataclasses.replace` does so by calling `__init__`
again with every field as a keyword; for the decider's 31-field `Ticket` that was the
largest Python cost of a cold load in the callback benchmark's profile. This copies the
slots as they are and sets the changed ones: the same result for a dataclass whose
`__init__` only stores its fields (no `__post_init__`, no `init=False` field), which is
checked once per class.

The copy is a function written for each class on first use, as `dataclasses` writes
`__init__`: one line per field, storing through the slot's own descriptor (which a frozen
class's `__setattr__` does not stand in front of). Looping over the fields by name took
twice as long (4.4 against 2.0 µs for `Ticket`, timeit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Copier = Callable[[Any, dict[str, Any]], Any]
_COPIERS: dict[type, tuple[frozenset[str], Copier]] = {}


def _copier(cls: type) -> tuple[frozenset[str], Copier]:
    found = _COPIERS.get(cls)
    if found is None:
        fields = dataclasses.fields(cls)
        if (not hasattr(cls, "__slots__") or hasattr(cls, "__post_init__")
                or not all(f.init for f in fields) or len(fields) < 2):
            raise TypeError(f"{cls.__name__}: with_changes needs a slotted dataclass of at "
                            "least two fields that only stores them")
        names = [f.name for f in fields]
        scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
        lines = ["def copy(obj, changes):", "    made = new(cls)", "    get = changes.get"]
        for i, name in enumerate(names):
            scope[f"set{i}"] = getattr(cls, name).__set__  # its slot's member descriptor
            lines.append(f"    set{i}(made, get({name!r}, obj.{name}))")
        lines.append("    return made")
        exec("\n".join(lines), scope)  # noqa: S102 (field names of our own dataclasses)
        found = _COPIERS[cls] = (frozenset(names), scope["copy"])
    return found


def with_changes(obj: T, **changes: Any) -> T:
    """A copy of `obj` with `changes` (TypeError for a name that is not a field)."""
    known, copy = _copier(type(obj))
    if not known.issuperset(changes):
        raise TypeError(f"{type(obj).__name__} has no field {sorted(set(changes) - known)}")
    made: T = copy(obj, changes)
    return made
