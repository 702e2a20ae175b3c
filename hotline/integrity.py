"""Checking that a stream's history proves itself (DESIGN.md principle 9).

Each event carries the hash of the stored bytes of its predecessor; the log
keeps the hash of the last one. Any altered, missing or reordered event, and
a truncated tail, shows up as a finding. `verify_stream` is a pure function over stored
bytes; `check_logged` reads a stream and its head from the log and runs it (what
`hotline verify` prints and the audit API answers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contracts.envelope import DecodeError, decode
from hotline.log.port import GENESIS_HASH, EventLog, StreamHead, value_hash


@dataclass(frozen=True, slots=True)
class Finding:
    """One integrity problem: at which position of the stream, and what."""

    position: int  # 1-based index in the stream as read
    problem: str


@dataclass(frozen=True, slots=True)
class Checked:
    """A stream as the log holds it, checked: how many events, the log's head, what broke."""

    stream: str
    events: int
    head: StreamHead
    findings: list[Finding]


async def check_logged(log: EventLog, topic: str, stream: str) -> Checked:
    """Read `stream` of `topic` and the head the log recorded for it, and verify them."""
    records = await log.read_stream(topic, stream)
    head = await log.stream_head(topic, stream)
    return Checked(stream, len(records), head,
                   verify_stream(stream, [r.value for r in records], head))


def verify_stream(stream: str, values: Sequence[bytes], head: StreamHead | None) -> list[Finding]:
    """Every break in the chain of `values` (stored order); empty when the history is intact."""
    findings: list[Finding] = []
    prev = GENESIS_HASH
    for i, value in enumerate(values, start=1):
        try:
            env = decode(value)
        except DecodeError as exc:
            findings.append(Finding(i, f"undecodable event: {exc}"))
            prev = value_hash(value)
            continue
        if env.subject != stream:
            findings.append(Finding(i, f"event {env.id} belongs to {env.subject}, not {stream}"))
        if env.streamversion != i:
            findings.append(Finding(i, f"event {env.id} has version {env.streamversion}, "
                                       f"expected {i}: an event is missing or out of order"))
        if env.prevhash != prev:
            findings.append(Finding(i, f"event {env.id} does not chain to its predecessor: "
                                       "the previous event was altered, removed or moved"))
        prev = value_hash(value)
    if head is not None:
        if head.version != len(values):
            findings.append(Finding(len(values), f"the log records {head.version} events for "
                                                 f"this stream but {len(values)} were read"))
        elif values and head.head_hash != prev:
            findings.append(Finding(len(values), "the last event differs from the one the log "
                                                 "recorded when it was appended"))
    return findings
