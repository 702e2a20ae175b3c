"""The stored bytes never change: every event's envelope encodes to the bytes committed in
golden/envelopes.jsonl (written by the json-module encoder this one replaced), and the fast
canonical JSON equals the json module's for any JSON value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.envelope import Envelope, canonical_json, decode, encode
from contracts.events import EVENTS, from_envelope

GOLDEN = Path(__file__).parent / "golden" / "envelopes.jsonl"


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


json_values = st.recursive(
    st.none() | st.booleans() | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_canonical_json_is_the_json_modules_for_any_value(value: Any) -> None:
    assert canonical_json(value) == reference(value)


def test_floats_with_an_exponent_and_keys_out_of_order() -> None:
    for value in ({"b": 1e16, "a": 1.5e-7}, [1e22, -0.0, 0.0001, 9.99e15], {"键": "值", "a": 1},
                  {"\U0001f600": 1, "\uffff": 2, "z": 3}, "\x00\x1f\x7f\u2028\"\\"):
        assert canonical_json(value) == reference(value)
