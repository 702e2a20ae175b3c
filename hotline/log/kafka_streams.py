"""Kafka engine internals: reading partitions to their true end, and the stream-ownership index.

`PartitionReader` is one group-less consumer, shared under a lock: it reads
partitions from an offset up to the end reported by the *fetch* response
(the ListOffsets end of tansu is wrong, see `hotline.log.kafka`).

`TopicOwnership` implements the single-writer rule of DESIGN.md §3.3 on
Kafka: this process writes a stream only while it owns the stream's partition
in the consumer group `hotline-writers.<topic>`. For every owned partition it
keeps an in-memory index key -> (offsets, head hash), loaded by reading the
partition from offset 0 when the partition is assigned, so a version check is
a dictionary lookup and never a broker round trip.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from hotline.log.partitioning import partition_for
from hotline.log.port import (
    GENESIS_HASH,
    LogError,
    NotStreamOwner,
    OutgoingRecord,
    Position,
    StreamHead,
    VersionConflict,
    value_hash,
)

log = logging.getLogger(__name__)

Sink = Callable[[ConsumerRecord], None]
Produce = Callable[[int, Sequence[OutgoingRecord]], Awaitable[list[Position]]]

POLL_MS = 10  # one getmany wait: short, as an empty fetch at the end only reports the end
SEEK_GAP = 500  # in read_offsets: seek over a gap this wide rather than read through it


async def stop_member(consumer: AIOKafkaConsumer) -> None:
    """Stop a consumer-group member so that the group rebalances at once, on tansu too.

    aiokafka announces a departure (LeaveGroup) only when its generation is
    above 0, and tansu numbers a group's first generation 0 (Kafka starts at
    1): unannounced, the member would hold its partitions until its session
    times out, and the next join would wait for it. LeaveGroup carries only
    the member id, so claiming generation 1 changes nothing else.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    if getattr(coordinator, "generation", None) == 0:
        coordinator.generation = 1  # type: ignore[union-attr]
    await consumer.stop()


class PartitionReader:
    """A group-less consumer that reads partitions up to their end, one caller at a time."""

    def __init__(self, consumer: AIOKafkaConsumer, timeout_s: float, committed_only: bool) -> None:
        self._consumer = consumer
        self._timeout_s = timeout_s  # without progress for this long, a read fails
        self._committed_only = committed_only  # read_committed: stop at the last stable offset
        self._lock = asyncio.Lock()  # assign/seek/getmany of two callers must not interleave
        self._started = False

    async def start(self) -> None:
        """Connect to the cluster."""
        await self._consumer.start()
        self._started = True

    async def close(self) -> None:
        """Disconnect."""
        if self._started:
            self._started = False
            await self._consumer.stop()

    async def read(
        self, starts: Mapping[TopicPartition, int], sink: Sink, limit: int | None = None
    ) -> dict[TopicPartition, int]:
        """Feed `sink` every record from each start to its partition's end (or `limit` in all).

        Returns the next offset of each partition after the read.
        """
        async with self._session(starts) as c:
            return await self._drain(c, set(starts), sink, limit)

    async def ends(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The true next offset of each partition.

        ListOffsets gives a lower bound (exact on Kafka; on tansu the base offset
        of the last batch + 1); reading from just below it to the fetch's high
        watermark costs at most one batch per partition and is exact on both.
        """
        if not tps:
            return {}
        async with self._lock:
            listed: dict[TopicPartition, int] = await self._consumer.end_offsets(list(tps))
        probes = {tp: end - 1 for tp, end in listed.items() if end > 0}
        if not probes:
            return dict(listed)
        reached = await self.read(probes, lambda _r: None)
        return {tp: max(listed[tp], reached.get(tp, 0)) for tp in tps}

    async def beginnings(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The first offset still stored in each partition."""
        async with self._lock:
            return dict(await self._consumer.beginning_offsets(list(tps)))

    async def read_offsets(
        self, tp: TopicPartition, offsets: Sequence[int]
    ) -> list[ConsumerRecord]:
        """The records at the given (sorted) offsets of one partition, seeking over wide gaps."""
        wanted = sorted(set(offsets))
        found: dict[int, ConsumerRecord] = {}
        i = 0
        while i < len(wanted):
            # one run: offsets close enough to read through the gaps between them
            j = i
            while j + 1 < len(wanted) and wanted[j + 1] - wanted[j] <= SEEK_GAP:
                j += 1
            run = set(wanted[i : j + 1])
            last = wanted[j]

            def keep(r: ConsumerRecord, run: set[int] = run) -> None:
                if r.offset in run:
                    found[r.offset] = r

            async with self._session({tp: wanted[i]}) as c:
                await self._drain(c, {tp}, keep, None, stop_after=last)
            i = j + 1
        missing = [o for o in wanted if o not in found]
        if missing:
            raise LogError(f"{tp.topic}[{tp.partition}]: offsets {missing[:5]} no longer readable")
        return [found[o] for o in wanted]

    @contextlib.asynccontextmanager
    async def _session(
        self, starts: Mapping[TopicPartition, int]
    ) -> AsyncIterator[AIOKafkaConsumer]:
        """Hold the lock with `starts` assigned; unassign after, so nothing fetches meanwhile."""
        async with self._lock:
            c = self._consumer
            c.assign(list(starts))
            for tp, offset in starts.items():
                c.seek(tp, max(offset, 0))
            try:
                yield c
            finally:
                c.unsubscribe()

    async def _drain(
        self,
        c: AIOKafkaConsumer,
        pending: set[TopicPartition],
        sink: Sink,
        limit: int | None,
        stop_after: int | None = None,
    ) -> dict[TopicPartition, int]:
        """getmany until every pending partition's position reaches its end, or `limit` records."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        count = 0
        reached: dict[TopicPartition, int] = {}
        while pending:
            room = None if limit is None else limit - count
            batch = await c.getmany(*pending, timeout_ms=POLL_MS, max_records=room)
            for msgs in batch.values():
                for m in msgs:
                    sink(m)
                count += len(msgs)
            if batch:
                deadline = loop.time() + self._timeout_s
            for tp in list(pending):
                position = await c.position(tp)
                reached[tp] = position
                end = self._end_seen(c, tp)
                if (end is not None and position >= end) or (
                    stop_after is not None and position > stop_after
                ):
                    pending.discard(tp)
            if limit is not None and count >= limit:
                break
            if pending and loop.time() > deadline:
                names = sorted(f"{tp.topic}[{tp.partition}]" for tp in pending)
                raise LogError(f"reading {names} made no progress for {self._timeout_s:.0f} s")
        return reached

    def _end_seen(self, c: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
        """The end the last fetch response reported (None before the first response)."""
        hw: int | None = c.highwater(tp)
        if self._committed_only:
            lso: int | None = c.last_stable_offset(tp)
            if lso is not None and lso >= 0 and hw is not None:
                return min(hw, lso)
        return hw


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

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Refuse appends to revoked partitions, let those in flight finish, drop the index."""
        self._settled.clear()
        gone = [self._parts[tp.partition] for tp in revoked if tp.partition in self._parts]
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
