"""Kafka engine internals: reading partitions to their true end, and leaving groups promptly.

`PartitionReader` is one group-less consumer, shared under a lock: it reads
partitions from an offset up to the end reported by the *fetch* response
(the ListOffsets end of tansu is wrong, see `hotline.log.kafka`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from hotline.log.port import LogError, OutgoingRecord, Position

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
