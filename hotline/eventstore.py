"""Typed event streams on top of the byte-level log: envelopes, the hash chain, reading back.

`EventStore.append` wraps event data in the CloudEvents envelope, chains each
event to its predecessor's hash (principle 9) and appends with the expected
stream version (principle 3). Nothing here knows which engine runs below.

Every append also masks the phone and ID numbers in free text
(contracts/free_text.py): the writers that know the citizen seal the originals
first (the ticket desk, intake); this is the backstop that makes a writer which
forgot unable to leak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from contracts.base import EventData
from contracts.envelope import Envelope, dataschema_for, decode, encode, type_for
from contracts.free_text import protect
from contracts.ids import new_id
from hotline.log.port import (
    GENESIS_HASH,
    EventLog,
    OutgoingRecord,
    Record,
    VersionConflict,
    value_hash,
)

# CloudEvents Kafka protocol binding, structured mode: the whole event is the value.
STRUCTURED = {"content-type": "application/cloudevents+json; charset=utf-8"}


@dataclass(frozen=True, slots=True)
class Context:
    """Who is acting and why: copied into every envelope of one append."""

    actor: str
    source: str
    correlation_id: str
    causation_id: str | None = None

    @classmethod
    def new(cls, actor: str, source: str, causation_id: str | None = None) -> Context:
        """A context that starts a new correlation (an original request)."""
        return cls(actor, source, new_id(), causation_id)


@dataclass(frozen=True, slots=True)
class Appended:
    """What one append wrote: the envelopes, the events as written (masked: what a reader
    decodes from the log), and the stream's new head."""

    envelopes: list[Envelope]
    version: int
    head_hash: str
    events: list[EventData]


@dataclass(frozen=True, slots=True)
class Stored:
    """An envelope with where it sits in the log."""

    envelope: Envelope
    record: Record


class EventStore:
    """Appends and reads event streams through any EventLog engine."""

    def __init__(self, log: EventLog) -> None:
        self.log = log

    async def append(
        self,
        stream: str,
        events: Sequence[EventData],
        *,
        expected_version: int,
        context: Context,
        now: datetime,
        head_hash: str | None = None,
    ) -> Appended:
        """Append events to a stream if it is still at `expected_version` (else VersionConflict).

        `head_hash`: the hash of the stream's last event when the caller knows it (a
        cached state), which saves reading the head; the log still checks the version.
        """
        if not events:
            raise ValueError("nothing to append")
        topic = events[0].topic
        if any(e.topic != topic for e in events):
            raise ValueError("one append writes one stream, on one topic")
        prev = GENESIS_HASH  # a new stream needs no read: append_stream checks it is empty
        if head_hash is not None:
            prev = head_hash
        elif expected_version > 0:
            head = await self.log.stream_head(topic, stream)
            if head.version != expected_version:
                raise VersionConflict(topic, stream, expected_version, head.version)
            # Another writer may still slip in before our append: then the log's own check
            # rejects us, so the chain can never fork.
            prev = head.head_hash
        envelopes, records, written = [], [], []
        for i, event in enumerate(map(protect, events)):
            name = type(event).__name__
            env = Envelope(
                source=context.source,
                type=type_for(name, event.major),
                subject=stream,
                time=now.astimezone(UTC) if now.tzinfo is not None else now,  # naive: refused
                dataschema=dataschema_for(name, event.major),
                streamversion=expected_version + i + 1,
                prevhash=prev,
                causationid=context.causation_id,
                correlationid=context.correlation_id,
                actor=context.actor,
                data=event.model_dump(mode="json"),
            )
            value = encode(env)
            prev = value_hash(value)
            envelopes.append(env)
            written.append(event)
            records.append(OutgoingRecord(stream, value, STRUCTURED))
        await self.log.append_stream(topic, stream, records, expected_version)
        return Appended(envelopes, expected_version + len(envelopes), prev, written)

    async def load(self, topic: str, stream: str) -> list[Stored]:
        """Every event of a stream, decoded, in order."""
        return [Stored(decode(r.value), r) for r in await self.log.read_stream(topic, stream)]
