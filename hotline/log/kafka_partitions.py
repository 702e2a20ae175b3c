"""Kafka engine internals: a consumer of chosen partitions, committing without a group join.

Work that follows another assignment than a consumer group's cannot be a group member:
a replica's own read model reads every partition, and a decider answers the requests of
exactly the partitions it owns as a writer (a second group would split them differently).
This consumer is told which partitions to read (`assign`) and can still store offsets
under a group name, so the next owner of a partition starts where the last one committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from hotline.log.kafka_consumer import record_of
from hotline.log.port import Record

if TYPE_CHECKING:
    from hotline.log.kafka import KafkaEventLog


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
        batch = await consumer.getmany(timeout_ms=max(0, int(timeout_s * 1000)),
                                       max_records=max_records)
        records = [record_of(m) for msgs in batch.values() for m in msgs]
        records.sort(key=lambda r: (r.topic, r.partition, r.offset))
        return records

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
        await consumer.commit({TopicPartition(t, p): OffsetAndMetadata(o, "")
                               for (t, p), o in positions.items()})

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        # aiokafka (0.14) re-raises the cancellation of its own committed-offsets task, and
        # leaves its connections open, when stopped before that task first ran: let it run
        await asyncio.sleep(0)
        await consumer.stop()
