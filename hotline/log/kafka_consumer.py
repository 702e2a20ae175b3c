"""A member of a Kafka consumer group behind the port's `Consumer`: explicit commits only."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from hotline.log.kafka_reader import stop_member
from hotline.log.port import LogError, Record

if TYPE_CHECKING:
    from hotline.log.kafka import KafkaEventLog


def record_of(m: ConsumerRecord) -> Record:
    """A port Record from an aiokafka one (key and headers decoded as UTF-8)."""
    headers = {k: (v or b"").decode("utf-8") for k, v in (m.headers or ())}
    key = m.key.decode("utf-8") if m.key is not None else ""
    return Record(m.topic, m.partition, m.offset, key, m.value or b"", headers, m.timestamp)



class KafkaConsumer(ConsumerRebalanceListener):  # type: ignore[misc]
    """A member of a Kafka consumer group, committing explicitly."""

    def __init__(self, log: KafkaEventLog, group: str, topics: list[str]) -> None:
        self.log, self.group, self.topics = log, group, topics
        self._consumer: AIOKafkaConsumer | None = None
        self._starting = asyncio.Lock()
        self._pending_seeks: dict[TopicPartition, int] = {}  # for partitions not yet assigned

    async def _member(self) -> AIOKafkaConsumer:
        """The aiokafka consumer, started and subscribed on first use."""
        async with self._starting:
            if self._consumer is None:
                for topic in self.topics:
                    await self.log.partitions(topic)  # UnknownTopic, never auto-creation
                consumer = AIOKafkaConsumer(**self.log.consumer_args(self.group))
                await consumer.start()
                consumer.subscribe(self.topics, listener=self)
                self._consumer = consumer
            return self._consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Nothing to do: offsets are committed by the caller."""

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Apply seeks asked for before these partitions were ours."""
        assert self._consumer is not None
        for tp in assigned & set(self._pending_seeks):
            self._consumer.seek(tp, self._pending_seeks.pop(tp))

    async def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        """Next records after the current positions, waiting up to `timeout_s` for some."""
        consumer = await self._member()
        batch = await consumer.getmany(
            timeout_ms=max(0, int(timeout_s * 1000)), max_records=max_records
        )
        records = [record_of(m) for msgs in batch.values() for m in msgs]
        records.sort(key=lambda r: (r.topic, r.partition, r.offset))
        return records

    async def seek(self, positions: Mapping[tuple[str, int], int]) -> None:
        """Move the read positions of (topic, partition) to the given next offsets."""
        assigned = self._consumer.assignment() if self._consumer is not None else set()
        for (topic, partition), offset in positions.items():
            tp = TopicPartition(topic, partition)
            if self._consumer is not None and tp in assigned:
                self._consumer.seek(tp, offset)
                self._pending_seeks.pop(tp, None)
            else:
                self._pending_seeks[tp] = offset

    async def commit(self, positions: Mapping[tuple[str, int], int]) -> None:
        """Store the group's next offsets for (topic, partition)."""
        if not positions:
            return
        consumer = await self._member()
        offsets = {
            TopicPartition(t, p): OffsetAndMetadata(o, "") for (t, p), o in positions.items()
        }
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # typically a rebalance took the partitions away: the new owner rereads them
            raise LogError(f"group {self.group}: commit failed: {exc}") from exc

    async def committed(self) -> dict[tuple[str, int], int]:
        """The group's stored next offsets for the partitions it reads."""
        if self._consumer is None:
            return {}
        out = {}
        for tp in self._consumer.assignment():
            offset = await self._consumer.committed(tp)
            if offset is not None:
                out[(tp.topic, tp.partition)] = offset
        return out

    async def assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this member currently reads."""
        if self._consumer is None:
            return set()
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    async def close(self) -> None:
        """Leave the group."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await stop_member(consumer)
        self.log._consumers.discard(self)
