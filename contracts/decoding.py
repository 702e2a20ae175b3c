"""Reading an event back in one pass: its envelope and typed payload validated from the bytes.

`decode` then `from_envelope` validates every event twice: the JSON into an `Envelope`
whose `data` is a dict, then that dict into the payload model. For each event of the
catalogue there is also a typed envelope (`typed_envelope`): the same attributes and
rules, with `data` declared as the payload model, so pydantic-core validates both
straight from the bytes at once. For a contact's envelope (1 KB, Chinese text) that is
9 µs instead of 14, and replay pays it per event (the performance issue's profile: half
of a no-op replay's time was decoding).

A typed envelope's `data` is the payload model, not a dict; `encode` writes it back to
the same bytes (contracts/envelope.py). Anything that fails here is decoded again the
two-step way by the caller, whose error says what is wrong, so the reasons in the dead
letters are the same as before.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Literal

import msgspec
from pydantic import create_model

from contracts.base import EventData
from contracts.envelope import Envelope, decode, in_utc, type_for
from contracts.events import EVENTS, from_envelope


class _Type(msgspec.Struct):
    type: str


_PEEK = msgspec.json.Decoder(_Type)


_TAIL = b'"type":"hotline.'  # how a stored envelope's last attribute begins
_TAIL_REACH = 160  # bytes from the end within which it begins, and more


def event_name_of(value: bytes) -> str | None:
    """The event name in a stored envelope's `type`, read without validating anything else;
    None when the bytes hold no such attribute. A hint: whoever acts on the event still
    validates the bytes, which must then carry this very type.

    The store writes keys sorted, so `type` is an envelope's last attribute and its bytes end
    with it: read from there, 0.3 µs. Anything else is read by msgspec (0.7 µs for a
    contact's envelope: it goes through the whole JSON)."""
    if value.endswith(b'"}') and (at := value.rfind(_TAIL, -_TAIL_REACH)) >= 0:
        name, dot, major = value[at + len(_TAIL):-2].partition(b".v")
        if dot and name.isalpha() and major.isdigit():  # ASCII letters, ASCII digits
            return name.decode("ascii")
    try:
        parts = _PEEK.decode(value).type.split(".")
    except msgspec.DecodeError:
        return None
    return parts[1] if len(parts) == 3 else None


@functools.cache
def typed_envelope(name: str) -> type[Envelope]:
    """The envelope model of one catalogue event: its current `type` only, `data` its
    payload model (KeyError for a name the catalogue does not hold)."""
    cls = EVENTS[name]
    model: type[Envelope] = create_model(
        f"{name}Envelope", __base__=Envelope, __module__=__name__,
        type=(Literal[type_for(name, cls.major)], ...),  # type: ignore[arg-type]
        data=(cls, ...))
    return model


def decode_typed(value: bytes, name: str) -> tuple[Envelope, EventData]:
    """Envelope and payload of a stored `name` event, validated in one pass; ValueError
    (pydantic's) when the bytes are not one."""
    envelope = in_utc(typed_envelope(name).model_validate_json(value))
    return envelope, envelope.data  # type: ignore[return-value]


RECENT = 8192  # decoded records remembered by their bytes: about 3 KB each, 25 MB in all
# Ordered: a plain dict's first item is found by skipping every slot deleted before it (until
# the dict is rebuilt), which cost 2.2 µs per eviction at 8,192 entries; popitem here is O(1).
_recent: OrderedDict[bytes, tuple[Envelope, EventData]] = OrderedDict()


def forget_decoded() -> None:
    """Forget what was decoded (a benchmark that measures one reader at a time)."""
    _recent.clear()


def decoded_once(value: bytes, name: str | None, *, remember: bool = False
                 ) -> tuple[Envelope, EventData] | None:
    """`decode_typed` for a catalogue event's bytes; None when `name` is not one or the
    bytes do not validate (the caller then decodes step by step, for the reason).

    With `remember`, the answer is kept among the last RECENT by the bytes it came from:
    a process may run several read models over the same topic (`hotline run` runs every
    board of hotline.tickets), which read each record within moments of one another (or a
    few thousand records apart while they catch up together), and all but the first then
    skip the validation (5-10 µs). The same bytes always decode to the same event, and the
    models are frozen, so they may be shared; looking up costs a hash of the bytes (about
    0.5 µs for a ticket event). Three boards rebuilt together: 72,000 validations for
    24,000 events before, 24,000 now, 22.3-22.8k -> 26.3-27.8k events/s. Keeping them is
    not free (3-4 µs a record for a 1.5 KB contact: 25 MB of fresh objects instead of the
    same few reused), so a lone reader does not: the projection runtime asks only while
    another runner of its process reads the same topic."""
    if name not in EVENTS:
        return None
    if (seen := _recent.get(value)) is not None:
        return seen
    try:
        found = decode_typed(value, name)
    except ValueError:
        return None
    if not remember:
        return found
    if len(_recent) >= RECENT:  # one thread reads: the event loop's
        _recent.popitem(last=False)  # the oldest
    _recent[value] = found
    return found


def decode_event(value: bytes) -> tuple[Envelope, EventData]:
    """Envelope and payload of any stored catalogue event: in one pass when it can be (or
    as a read model of this process just decoded it), else the two steps, whose DecodeError
    (or KeyError, for an event the catalogue does not hold) says what is wrong."""
    if (typed := decoded_once(value, event_name_of(value))) is not None:
        return typed
    envelope = decode(value)
    return envelope, from_envelope(envelope)
