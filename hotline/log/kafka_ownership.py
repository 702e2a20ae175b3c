"""Kafka engine internals: the single-writer rule by partition ownership.

`TopicOwnership` implements DESIGN.md §3.3 on Kafka: this process writes a
stream only while it owns the stream's partition in the consumer group
`hotline-writers.<topic>`. For every owned partition it keeps an in-memory
index key -> (offsets, head hash), loaded by reading the partition from
offset 0 when the partition is assigned, so a version check is a dictionary
lookup and never a broker round trip.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from hotline.log.kafka_reader import PartitionReader, Produce, stop_member
from hotline.log.partitioning import partition_for
from hotline.log.port import (
    GENESIS_HASH,
    ClaimListener,
    LogError,
    NotStreamOwner,
    OutgoingRecord,
    Position,
    StreamHead,
    VersionConflict,
    value_hash,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Stream:
    """What the index knows of one stream: its offsets in order and the hash of its last value."""

    offsets: list[int] = field(default_factory=list)
    head_hash: str = GENESIS_HASH

    def add(self, offset: int, value: bytes) -> None:
        """Record one stored record; a duplicate (seen by both a load and an append) is ignored."""
        i = bisect.bisect_left(self.offsets, offset)
        if i < len(self.offsets) and self.offsets[i] == offset:
            return
        self.offsets.insert(i, offset)
        if i == len(self.offsets) - 1:
            self.head_hash = value_hash(value)

    def head(self) -> StreamHead:
        """Version and hash of the last value."""
        return StreamHead(len(self.offsets), self.head_hash)


@dataclass(slots=True)
class _KeyLock:
    """The lock of one stream and how many appends hold or wait for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class _Partition:
    """The index of one owned partition, and the gate revocation closes."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.streams: dict[str, _Stream] = {}
        self.owned = True  # False once revoked: new appends are refused
        self.stale = False  # a failed produce left the index unsure: reload before the next use
        self.load: asyncio.Task[None] | None = None
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, key: str, offset: int, value: bytes) -> None:
        """Index one record of this partition."""
        self.streams.setdefault(key, _Stream()).add(offset, value)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Count an append in flight, so revocation can wait until none is half-done."""
        if not self.owned:
            raise NotStreamOwner(f"partition {self.number} was revoked")
        self._inflight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()

    async def drained(self) -> None:
        """Wait until no append is in flight."""
        await self._idle.wait()


class TopicOwnership(ConsumerRebalanceListener):  # type: ignore[misc]
    """This process's share of one topic's streams: the partitions it owns, and their index."""

    def __init__(
        self,
        topic: str,
        partitions: int,
        member: AIOKafkaConsumer,
        loader: PartitionReader,
        join_timeout_s: float,
    ) -> None:
        self.topic, self.n = topic, partitions
        self._member = member  # joins hotline-writers.<topic>; it never consumes records
        self._loader = loader
        self._join_timeout_s = join_timeout_s
        self._parts: dict[int, _Partition] = {}
        self._settled = asyncio.Event()  # clear from a revocation until the next assignment
        self._locks: dict[str, _KeyLock] = {}
        self._listeners: list[ClaimListener] = []

    # -- group membership ------------------------------------------------------------------

    async def start(self) -> None:
        """Join the writer group and wait for the first assignment."""
        await self._member.start()
        self._member.subscribe([self.topic], listener=self)
        try:
            await asyncio.wait_for(self._settled.wait(), self._join_timeout_s)
        except TimeoutError:
            await self.close()
            raise LogError(
                f"no assignment in writer group hotline-writers.{self.topic} "
                f"after {self._join_timeout_s:.0f} s"
            ) from None

    async def close(self) -> None:
        """Finish the appends in flight, then leave the group (the others take over)."""
        parts = list(self._parts.values())
        for part in parts:
            part.owned = False
        for part in parts:
            await part.drained()
        await stop_member(self._member)  # aiokafka does not call on_partitions_revoked here
        for part in parts:
            self._forget(part)
        self._parts.clear()

    def owned(self) -> set[int]:
        """Partitions currently assigned to this process."""
        return set(self._parts)

    async def follow(self, listener: ClaimListener) -> None:
        """Tell `listener` the partitions owned now, then each gain and loss."""
        self._listeners.append(listener)
        await listener(self.owned(), set())

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Refuse appends to revoked partitions, let those in flight finish, drop the index."""
        self._settled.clear()
        gone = [self._parts[tp.partition] for tp in revoked if tp.partition in self._parts]
        for listener in self._listeners:  # first: what they do on these partitions finishes
            await listener(set(), {part.number for part in gone})
        for part in gone:
            part.owned = False
        for part in gone:
            await part.drained()
            self._forget(part)
            self._parts.pop(part.number, None)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Start loading the index of the new partitions (in the background: no heartbeats here)."""
        self._member.pause(*assigned)  # ownership only: never fetch records on this member
        for tp in assigned:
            part = _Partition(tp.partition)
            previous = self._parts.get(tp.partition)  # only if a revocation was skipped
            if previous is not None:
                previous.owned = False
                self._forget(previous)
            self._start_load(part, previous)
            self._parts[tp.partition] = part
        log.info("writer group %s: own partitions %s", self.topic, sorted(self._parts))
        self._settled.set()
        for listener in self._listeners:
            await listener({tp.partition for tp in assigned}, set())

    # -- the index -------------------------------------------------------------------------

    def _start_load(self, part: _Partition, drain: _Partition | None) -> None:
        """Load the partition's index in a task that appends to it will wait for."""
        part.load = asyncio.create_task(self._load(part, drain), name=f"index {self.topic}")
        part.load.add_done_callback(self._load_done)

    def _load_done(self, task: asyncio.Task[None]) -> None:
        """Log a failed load (the next append retries it)."""
        if not task.cancelled() and task.exception() is not None:
            log.error("loading the stream index of %s failed", self.topic,
                      exc_info=task.exception())

    async def _load(self, part: _Partition, drain: _Partition | None = None) -> None:
        """Read the partition from its start and index every record by key."""
        if drain is not None:
            # an append still in flight would be acknowledged after our read passed its offset
            await drain.drained()
        part.streams.clear()
        tp = TopicPartition(self.topic, part.number)

        def index(r: ConsumerRecord) -> None:
            part.add(r.key.decode("utf-8") if r.key is not None else "", r.offset, r.value or b"")

        ends = await self._loader.read({tp: 0}, index)
        log.info("indexed %s: %d streams up to offset %d", tp, len(part.streams), ends.get(tp, 0))

    async def _ready(self, partition: int) -> _Partition | None:
        """The owned partition's loaded index, or None when this process does not own it."""
        if partition not in self._parts and not self._settled.is_set():
            # a rebalance is under way: the partition may come back to us
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settled.wait(), self._join_timeout_s)
        part = self._parts.get(partition)
        if part is None:
            return None
        if part.stale and part.load is not None and part.load.done():
            # replace the task at once, so every later caller waits for the rebuilt index
            part.stale = False
            self._start_load(part, part)
        assert part.load is not None
        try:
            await asyncio.shield(part.load)
        except asyncio.CancelledError:
            if part.owned:
                raise
            return None  # revoked while loading
        except Exception:
            part.stale = True  # try again next time
            raise
        return part if part.owned else None

    @staticmethod
    def _forget(part: _Partition) -> None:
        """Stop a load in progress and free the index."""
        if part.load is not None and not part.load.done():
            part.load.cancel()
        part.streams.clear()

    @contextlib.asynccontextmanager
    async def _stream_lock(self, key: str) -> AsyncIterator[None]:
        """Serialise appends to one stream; the lock is freed when nobody waits for it."""
        entry = self._locks.setdefault(key, _KeyLock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[key]

    # -- the operations --------------------------------------------------------------------

    async def append(
        self, key: str, values: Sequence[OutgoingRecord], expected: int, produce: Produce
    ) -> list[Position]:
        """Produce `values` iff the stream still has `expected` records and we own it."""
        number = partition_for(key, self.n)
        async with self._stream_lock(key):
            part = await self._ready(number)
            if part is None:
                raise NotStreamOwner(
                    f"{self.topic}[{number}] (stream {key}) is owned by another writer"
                )
            with part.writing():
                stream = part.streams.get(key)
                actual = len(stream.offsets) if stream else 0
                if actual != expected:
                    raise VersionConflict(self.topic, key, expected, actual)
                try:
                    positions = await produce(number, values)
                except BaseException:
                    part.stale = True  # some records may be stored: reread before trusting it
                    raise
                for pos, rec in zip(positions, values, strict=True):
                    part.add(key, pos.offset, rec.value)
                return positions

    async def head(self, key: str) -> StreamHead | None:
        """The stream's head from the index, or None when its partition is not ours."""
        part = await self._ready(partition_for(key, self.n))
        if part is None:
            return None
        stream = part.streams.get(key)
        return stream.head() if stream else StreamHead(0, GENESIS_HASH)

    async def offsets(self, key: str) -> list[int] | None:
        """The stream's offsets from the index, or None when its partition is not ours."""
        part = await self._ready(partition_for(key, self.n))
        if part is None:
            return None
        stream = part.streams.get(key)
        return list(stream.offsets) if stream else []

    def note(self, positions: Sequence[Position], records: Sequence[OutgoingRecord]) -> None:
        """Index records a plain `append` stored on partitions we own."""
        for pos, rec in zip(positions, records, strict=True):
            part = self._parts.get(pos.partition)
            if part is not None and part.owned:
                part.add(rec.key, pos.offset, rec.value)
