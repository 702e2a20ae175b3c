"""Kafka engine internals: a consumer of chosen partitions, committing without a group join.

Work that follows another assignment than a consumer group's cannot be a group member:
a replica's own read model reads every partition, and a decider answers the requests of
exactly the partitions it owns as a writer (a second group would split them differently).
This consumer is told which partitions to read (`assign`) and can still store offsets
under a group name, so the next owner of a partition starts where the last one committed.

A fetch returns only what the broker gathers within its wait, and tansu's time to gather
grows with the partition: with a 1 ms wait, a reply partition of 4,000 records answered
every fetch from offset 2,632 on with no records at all, forever (its requests all went
unanswered). So a consumer whose fetches come back empty while the high watermark says
there is more doubles its wait, up to `MAX_WAIT_MS`, and returns to its own once it has
caught up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from hotline.log.kafka_consumer import record_of
from hotline.log.port import LogError, Record

if TYPE_CHECKING:
    from hotline.log.kafka import KafkaEventLog

MAX_WAIT_MS = 500  # a starved consumer's longest fetch wait: the read models' default


class KafkaPartitionConsumer:
    """The port's PartitionConsumer on Kafka: aiokafka's manual assignment."""

    def __init__(self, log: KafkaEventLog, group: str | None, topics: Sequence[str], *,
                 fetch_wait_ms: int) -> None:
        self.log, self.group, self.topics = log, group, list(topics)
        self.fetch_wait_ms = fetch_wait_ms
        self._consumer: AIOKafkaConsumer | None = None

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            for topic in self.topics:
                await self.log.partitions(topic)  # UnknownTopic, never auto-creation
            consumer = AIOKafkaConsumer(**self.log.consumer_args(self.group),
                                        fetch_max_wait_ms=self.fetch_wait_ms)
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def assign(self, partitions: set[tuple[str, int]], *, at_end: bool = False) -> None:
        """Read exactly `partitions`: kept ones where they were, new ones from the committed
        offset (auto_offset_reset earliest without one), or from the end with `at_end`."""
        consumer = await self._started()
        wanted = {TopicPartition(t, p) for t, p in partitions}
        kept = {tp: await consumer.position(tp) for tp in consumer.assignment() & wanted}
        consumer.assign(sorted(wanted))  # replaces the assignment and forgets every position
        for tp, offset in kept.items():
            consumer.seek(tp, offset)
        new = wanted - set(kept)
        if at_end and new:
            # exact ends (tansu's ListOffsets is not: see hotline.log.kafka)
            for topic in {tp.topic for tp in new}:
                ends = await self.log.end_offsets(topic)
                for tp in (tp for tp in new if tp.topic == topic):
                    consumer.seek(tp, ends[tp.partition])

    async def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        consumer = await self._started()
        if not consumer.assignment():
            await asyncio.sleep(timeout_s)  # nothing to read now: the caller loops
            return []
        try:
            batch = await consumer.getmany(timeout_ms=max(0, int(timeout_s * 1000)),
                                           max_records=max_records)
        except KafkaError as exc:  # the port's callers retry a LogError
            raise LogError(f"reading {sorted(self.topics)} failed: {exc}") from exc
        await self._pace(consumer, any(batch.values()))
        records = [record_of(m) for msgs in batch.values() for m in msgs]
        records.sort(key=lambda r: (r.topic, r.partition, r.offset))
        return records

    async def _pace(self, consumer: AIOKafkaConsumer, got: bool) -> None:
        """Wait longer per fetch while starved (nothing came though the broker holds more),
        our own wait again once caught up (see the module doc)."""
        fetcher = consumer._fetcher  # aiokafka keeps the wait there; no public setter
        behind = False
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            behind = behind or (high is not None and high > await consumer.position(tp))
        if not behind:
            fetcher._fetch_max_wait_ms = self.fetch_wait_ms
        elif not got:
            fetcher._fetch_max_wait_ms = min(max(2 * fetcher._fetch_max_wait_ms, 2), MAX_WAIT_MS)

    async def seek(self, positions: Mapping[tuple[str, int], int]) -> None:
        consumer = await self._started()
        assigned = consumer.assignment()
        for (topic, partition), offset in positions.items():
            tp = TopicPartition(topic, partition)
            if tp in assigned:
                consumer.seek(tp, offset)

    async def commit(self, positions: Mapping[tuple[str, int], int]) -> None:
        if self.group is None or not positions:
            return
        consumer = await self._started()
        try:
            await consumer.commit({TopicPartition(t, p): OffsetAndMetadata(o, "")
                                   for (t, p), o in positions.items()})
        except KafkaError as exc:
            raise LogError(f"group {self.group}: commit failed: {exc}") from exc

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        # aiokafka (0.14) re-raises the cancellation of its own committed-offsets task, and
        # leaves its connections open, when stopped before that task first ran: let it run
        await asyncio.sleep(0)
        await consumer.stop()
