"""The stored bytes never change: every event's envelope encodes to the bytes committed in
golden/envelopes.jsonl (written by the json-module encoder this one replaced), and the fast
canonical JSON equals the json module's for any JSON value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.decoding import decode_typed, event_name_of
from contracts.envelope import Envelope, canonical_json, decode, encode
from contracts.events import EVENTS, from_envelope

GOLDEN = Path(__file__).parent / "golden" / "envelopes.jsonl"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30)


def reference(obj: Any) -> bytes:
    """Canonical JSON as first defined: the json module, sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"),
                      sort_keys=True).encode("utf-8")


def test_every_event_encodes_to_its_golden_bytes() -> None:
    """One envelope per event of the catalogue, as the json-module encoder stored it
    (their sealed samples hold random nonces, so the bytes are read back, not rebuilt)."""
    golden = GOLDEN.read_bytes().splitlines()
    for stored in golden:
        envelope = decode(stored)
        from_envelope(envelope)  # still a valid event of its model
        assert encode(envelope) == stored, envelope.type
        assert encode(Envelope(**envelope.model_dump())) == stored
    names = {decode(line).event_name for line in golden}
    assert len(names) == len(golden) == 45 and names <= set(EVENTS)  # every event of the day


def test_one_pass_decoding_reads_the_same_event_and_writes_the_same_bytes() -> None:
    """contracts.decoding: the envelope and payload validated at once equal the two-step
    decode's, and encode back to the stored bytes (the dispatch relay forwards them so)."""
    for stored in GOLDEN.read_bytes().splitlines():
        two_step = decode(stored)
        name = event_name_of(stored)
        assert name == two_step.event_name
        envelope, payload = decode_typed(stored, name)
        assert payload == from_envelope(two_step) and envelope.data is payload
        assert envelope.model_dump(exclude={"data"}) == two_step.model_dump(exclude={"data"})
        assert encode(envelope) == stored, name


def test_peeking_at_the_event_name_of_anything() -> None:
    assert event_name_of(b'{"type":"hotline.TicketClosed.v2","data":{}}') == "TicketClosed"
    assert event_name_of(b'{"data":{},"type":"hotline.TicketClosed.v2"} ') == "TicketClosed"
    for value in (b"", b"not json", b"[]", b'{"type":3}', b'{"type":"plain"}', b'{"x":1}',
                  b'{"data":{"type":"hotline.TicketClosed.v1"}}',  # not the envelope's
                  b'{"type":"hotline.Ticket.Closed.v1"}'):
        assert event_name_of(value) is None, value


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=5),
       st.sampled_from(["hotline.TicketClosed.v2", "hotline.X.v10", "hotline..v1", "x.Y.v1",
                        "hotline.Y.v", "hotline.Z.v1\"}"]))
def test_the_name_read_from_the_tail_is_the_one_msgspec_reads(fields: dict[str, Any],
                                                                kind: str) -> None:
    """Canonical bytes end with the envelope's `type` unless a key sorts after it: either
    way the name is the one a full read of the JSON gives."""
    value = canonical_json({**fields, "type": kind})
    expected = kind.split(".")[1] if len(kind.split(".")) == 3 else None
    assert event_name_of(value) == expected


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_canonical_json_is_the_json_modules_for_any_value(value: Any) -> None:
    assert canonical_json(value) == reference(value)


def test_floats_with_an_exponent_and_keys_out_of_order() -> None:
    for value in ({"b": 1e16, "a": 1.5e-7}, [1e22, -0.0, 0.0001, 9.99e15], {"键": "值", "a": 1},
                  {"\U0001f600": 1, "\uffff": 2, "z": 3}, "\x00\x1f\x7f\u2028\"\\"):
        assert canonical_json(value) == reference(value)
