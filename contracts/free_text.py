"""What people type: the free-text fields of every contract, and masking them on the way in.

A field is free text when its type carries the `PersonalText` marker (`Text`,
`Reason`, `Note` in contracts/base.py, an attachment's file name). Anything a
person types may hold a phone or ID number or the room of a home (3号楼502室), so
every such field of every event is masked (`mask_personal_text`) before it
reaches the log; the original is sealed under the citizen's key when there is
one (`protect`), so the roles entitled to it still read it
(hotline.disclosure.typed_texts). Marking the type, not listing fields, means a
new field of type `Text` is covered without anyone remembering to add it.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from contracts.personal import Sealed, mask_personal_text

M = TypeVar("M", bound=BaseModel)
Originals = dict[str, str]  # dotted path ("note", "attachments.0.filename") -> text as typed


class PersonalText:
    """Marks a string type as typed by a person; its JSON Schema says `x-personal-text`."""

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core)
        schema["x-personal-text"] = True
        return schema

    def __repr__(self) -> str:
        return "PersonalText()"


PERSONAL_TEXT = PersonalText()
NoteText = Annotated[str, PERSONAL_TEXT]  # a free note without a length rule of its own


def _marked(annotation: Any, metadata: list[Any]) -> bool:
    """Whether a field's type, or any alternative of it, carries the marker."""
    if any(isinstance(m, PersonalText) for m in metadata):
        return True
    if get_origin(annotation) is Annotated:
        return any(isinstance(m, PersonalText) for m in annotation.__metadata__)
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_marked(arg, []) for arg in get_args(annotation))
    return False


def _models(annotation: Any) -> bool:
    """Whether a field may hold models (or tuples of them) with free text inside."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return bool(text_fields(annotation))
    return any(_models(arg) for arg in get_args(annotation) if arg is not Ellipsis)


@functools.cache
def text_fields(model: type[BaseModel]) -> tuple[tuple[str, bool], ...]:
    """(field, is free text itself) for every field holding free text, directly or nested."""
    found = []
    for name, info in model.model_fields.items():
        if _marked(info.annotation, info.metadata):
            found.append((name, True))
        elif _models(info.annotation):
            found.append((name, False))
    return tuple(found)


def _masked_value(value: Any, path: str, originals: Originals) -> Any:
    if isinstance(value, BaseModel):
        return masked_copy(value, path + ".", originals)
    if isinstance(value, tuple | list):
        return type(value)(_masked_value(v, f"{path}.{i}", originals) for i, v in enumerate(value))
    return value


def masked_copy(model: M, prefix: str = "", originals: Originals | None = None) -> M:
    """`model` with its free text masked; what masking changed is added to `originals`."""
    found = originals if originals is not None else {}
    updates: dict[str, Any] = {}
    for name, is_text in text_fields(type(model)):
        value = getattr(model, name)
        if value is None:
            continue
        if is_text:
            clean = mask_personal_text(value)
            if clean != value:
                updates[name], found[prefix + name] = clean, value
        else:
            before = len(found)
            clean = _masked_value(value, prefix + name, found)
            if len(found) != before:
                updates[name] = clean
    # masking never lengthens a text, so the copy keeps every length rule without revalidating
    return model.model_copy(update=updates) if updates else model


def originals_of(model: BaseModel) -> Originals:
    """What masking would change in `model`: empty when it holds nothing personal."""
    found: Originals = {}
    masked_copy(model, "", found)
    return found


def protect(model: M, seal: Callable[[Originals], Sealed] | None = None) -> M:
    """`model` masked; with `seal`, the originals go sealed into its `text_sealed` field."""
    found: Originals = {}
    clean = masked_copy(model, "", found)
    if found and seal is not None and "text_sealed" in type(model).model_fields:
        clean = clean.model_copy(update={"text_sealed": seal(found)})
    return clean


def seal_context(stream: str, version: int) -> str:
    """What an event's sealed originals are bound to: its stream and place in it."""
    return f"{stream}@{version}"


def texts(model: BaseModel) -> Iterator[tuple[str, str]]:
    """Every free-text value of `model` with its path (for scans and tests)."""
    for name, is_text in text_fields(type(model)):
        value = getattr(model, name)
        if value is None:
            continue
        if is_text:
            yield name, value
        else:
            for i, item in enumerate(value if isinstance(value, tuple | list) else (value,)):
                if isinstance(item, BaseModel):
                    yield from ((f"{name}.{i}.{p}", t) for p, t in texts(item))
