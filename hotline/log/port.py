"""The event log port: the one interface every service uses, whatever the engine.

The log is byte-level (key, value, headers): it does not parse payloads, so a
record that fails to decode can still be read, dead-lettered and inspected.
Typed envelopes, the hash chain and personal-data sealing live one layer up,
in `hotline.eventstore`.

Streams: a *stream* is every record of one key on one topic (a ticket, a
contact). `append_stream` enforces the single-writer rule of DESIGN.md §3.3:
it succeeds only if the stream still has `expected_version` records, and it
keeps the stream's head (version and SHA-256 of the last value) so the hash
chain can be extended and a truncated stream detected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

from contracts.topics import TopicSpec

__all__ = ["TopicSpec"]  # part of the port; defined with the catalogue it describes


class Record(NamedTuple):
    """One stored record, as read back from the log.

    A named tuple, not a frozen dataclass: a replay makes one per record, and a frozen
    dataclass's `__init__` sets each of its seven fields through `object.__setattr__`
    (0.70 µs a record against 0.23, 3 % of a no-op replay)."""

    topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    headers: Mapping[str, str]
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Position:
    """Where an appended record landed."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """A record to append."""

    key: str
    value: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamHead:
    """The current end of a stream: how many records it has and the hash of the last."""

    version: int
    head_hash: str  # hex SHA-256 of the last record's value; GENESIS_HASH when empty


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """A topic as the engine sees it, for `hotline topics`."""

    name: str
    partitions: int
    records: int
    bytes: int | None  # None where the engine cannot tell cheaply


GENESIS_HASH = "0" * 64


def value_hash(value: bytes) -> str:
    """The hash that the next event of a stream carries as its predecessor's."""
    return hashlib.sha256(value).hexdigest()


class LogError(Exception):
    """Base of every error the log raises on purpose."""


class VersionConflict(LogError):
    """The stream moved on since the caller read it: another writer won."""

    def __init__(self, topic: str, key: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {topic}/{key}: expected version {expected}, found {actual}")
        self.topic, self.key, self.expected, self.actual = topic, key, expected, actual


class NotStreamOwner(LogError):
    """This process does not own the partition of that stream (Kafka engine)."""


class UnknownTopic(LogError):
    """The topic does not exist; topics are created from the catalogue."""


class UnsafeSettings(LogError):
    """The log refuses to start with settings that could lose accepted data."""


@runtime_checkable
class Consumer(Protocol):
    """A member of a consumer group: reads from its positions, commits explicitly."""

    async def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        """Next records after the current positions, waiting up to `timeout_s` for some."""
        ...

    async def seek(self, positions: Mapping[tuple[str, int], int]) -> None:
        """Move the read positions of (topic, partition) to the given next offsets."""
        ...

    async def commit(self, positions: Mapping[tuple[str, int], int]) -> None:
        """Store the group's next offsets for (topic, partition)."""
        ...

    async def committed(self) -> dict[tuple[str, int], int]:
        """The group's stored next offsets for the partitions it reads."""
        ...

    async def assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this member currently reads."""
        ...

    async def close(self) -> None: ...


# told which partitions of a topic this process gained and lost as their writer
ClaimListener = Callable[[set[int], set[int]], Awaitable[None]]


@runtime_checkable
class PartitionConsumer(Protocol):
    """Reads the (topic, partition) pairs it is told to read, committing under a group name
    without joining a group: for work that follows another assignment than a consumer
    group's (every partition, for a replica's own read model; the partitions a process owns
    as a writer, for the requests addressed to their streams)."""

    async def assign(self, partitions: set[tuple[str, int]], *, at_end: bool = False) -> None:
        """Read exactly these; one kept keeps its position, a new one starts at the group's
        committed offset (else the log start), or at the end with `at_end`."""
        ...

    async def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        """Next records of the assigned partitions, waiting up to `timeout_s` for some."""
        ...

    async def seek(self, positions: Mapping[tuple[str, int], int]) -> None:
        """Read these assigned partitions again from the given offsets."""
        ...

    async def commit(self, positions: Mapping[tuple[str, int], int]) -> None:
        """Store the group's next offsets."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class EventLog(Protocol):
    """The log every service writes to and reads from (DESIGN.md §3, principle 2)."""

    engine: str  # "embedded" or "kafka"

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        """Create missing topics with the catalogue's settings; existing ones are kept."""
        ...

    async def partitions(self, topic: str) -> int:
        """Number of partitions of `topic` (UnknownTopic if absent)."""
        ...

    def partition_for(self, key: str, partitions: int) -> int:
        """The partition a key lands on; the same function on both engines (murmur2)."""
        ...

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> list[Position]:
        """Append a batch; returns once every record is durable, in input order."""
        ...

    async def append_stream(
        self, topic: str, key: str, values: Sequence[OutgoingRecord], expected_version: int
    ) -> list[Position]:
        """Append to a stream iff it still has `expected_version` records, else VersionConflict."""
        ...

    async def claim(self, topic: str) -> set[int]:
        """Become a writer of `topic`'s streams; the partitions this process may write.

        Embedded: all of them. Kafka: those the writer group assigned to this process
        (joining takes a rebalance, so services claim their stream topics at start-up).
        """
        ...

    async def follow_claim(self, topic: str, listener: ClaimListener) -> None:
        """Claim `topic` and tell `listener` the partitions this process gains and loses as
        their writer: at once those it holds, then every change. A loss is told before the
        partitions go, so whatever the listener does on them finishes first.

        Embedded: every partition, once. Kafka: the writer group's rebalances.
        """
        ...

    def partition_consumer(self, group: str | None, topics: Sequence[str], *,
                           prompt: bool = False) -> PartitionConsumer:
        """A reader of chosen partitions of `topics`, committing under `group` (None: never);
        `prompt` when someone waits on each record (requests, replies): look for new ones
        eagerly rather than cheaply."""
        ...

    async def stream_head(self, topic: str, key: str) -> StreamHead:
        """Version and last hash of a stream (zero and GENESIS_HASH when it has none)."""
        ...

    async def read_stream(self, topic: str, key: str, after: int = 0) -> list[Record]:
        """The records of one stream after its first `after` (every one by default), in
        order: a state kept at version `after` reads only what came since."""
        ...

    async def read(
        self, topic: str, partition: int, from_offset: int, limit: int = 1000
    ) -> list[Record]:
        """Records of one partition from an offset, without a consumer group."""
        ...

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """Next offset to be written, per partition."""
        ...

    async def topics(self, prefix: str = "") -> list[TopicInfo]:
        """Every topic whose name starts with `prefix`, with its size."""
        ...

    def consumer(self, group: str, topics: Sequence[str]) -> Consumer:
        """A consumer-group member for `topics`; call `poll` to start reading."""
        ...
