"""A namespace over any engine: every topic and group name gets a prefix on the way down.

Several deployments (a staging copy, a second city, a test run) can then share
one Kafka cluster without seeing each other's topics. Services keep using
the catalogue's names; only the broker sees `<prefix><name>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from hotline.log.port import (
    ClaimListener,
    Consumer,
    EventLog,
    OutgoingRecord,
    PartitionConsumer,
    Position,
    Record,
    StreamHead,
    TopicInfo,
    TopicSpec,
)


class NamespacedLog:
    """EventLog that prefixes topic and group names of an inner EventLog."""

    def __init__(self, inner: EventLog, prefix: str) -> None:
        self.inner, self.prefix = inner, prefix
        self.engine = inner.engine

    def down(self, topic: str) -> str:
        return self.prefix + topic

    def up(self, topic: str) -> str:
        return topic.removeprefix(self.prefix)

    def up_record(self, record: Record) -> Record:
        return record._replace(topic=self.up(record.topic))

    def up_position(self, position: Position) -> Position:
        return replace(position, topic=self.up(position.topic))

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        await self.inner.create_topics([replace(s, name=self.down(s.name)) for s in specs])

    async def partitions(self, topic: str) -> int:
        return await self.inner.partitions(self.down(topic))

    def partition_for(self, key: str, partitions: int) -> int:
        return self.inner.partition_for(key, partitions)

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> list[Position]:
        return [self.up_position(p) for p in await self.inner.append(self.down(topic), records)]

    async def append_stream(
        self, topic: str, key: str, values: Sequence[OutgoingRecord], expected_version: int
    ) -> list[Position]:
        positions = await self.inner.append_stream(self.down(topic), key, values, expected_version)
        return [self.up_position(p) for p in positions]

    async def claim(self, topic: str) -> set[int]:
        return await self.inner.claim(self.down(topic))

    async def follow_claim(self, topic: str, listener: ClaimListener) -> None:
        await self.inner.follow_claim(self.down(topic), listener)

    def partition_consumer(self, group: str | None, topics: Sequence[str], *,
                           prompt: bool = False) -> PartitionConsumer:
        inner = self.inner.partition_consumer(
            None if group is None else self.prefix + group, [self.down(t) for t in topics],
            prompt=prompt)
        return NamespacedPartitionConsumer(self, inner)

    async def stream_head(self, topic: str, key: str) -> StreamHead:
        return await self.inner.stream_head(self.down(topic), key)

    async def read_stream(self, topic: str, key: str, after: int = 0) -> list[Record]:
        records = await self.inner.read_stream(self.down(topic), key, after)
        return [self.up_record(r) for r in records]

    async def read(
        self, topic: str, partition: int, from_offset: int, limit: int = 1000
    ) -> list[Record]:
        records = await self.inner.read(self.down(topic), partition, from_offset, limit)
        return [self.up_record(r) for r in records]

    async def end_offsets(self, topic: str) -> dict[int, int]:
        return await self.inner.end_offsets(self.down(topic))

    async def topics(self, prefix: str = "") -> list[TopicInfo]:
        return [replace(t, name=self.up(t.name))
                for t in await self.inner.topics(self.prefix + prefix)]

    def consumer(self, group: str, topics: Sequence[str]) -> Consumer:
        inner = self.inner.consumer(self.prefix + group, [self.down(t) for t in topics])
        return NamespacedConsumer(self, inner)


class NamespacedConsumer:
    """Consumer whose (topic, partition) keys are translated like the log's."""

    def __init__(self, log: NamespacedLog, inner: Consumer) -> None:
        self.log, self.inner = log, inner

    def _down(self, positions: Mapping[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        return {(self.log.down(t), p): o for (t, p), o in positions.items()}

    async def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        return [self.log.up_record(r) for r in await self.inner.poll(max_records, timeout_s)]

    async def seek(self, positions: Mapping[tuple[str, int], int]) -> None:
        await self.inner.seek(self._down(positions))

    async def commit(self, positions: Mapping[tuple[str, int], int]) -> None:
        await self.inner.commit(self._down(positions))

    async def committed(self) -> dict[tuple[str, int], int]:
        return {(self.log.up(t), p): o for (t, p), o in (await self.inner.committed()).items()}

    async def assignment(self) -> set[tuple[str, int]]:
        return {(self.log.up(t), p) for t, p in await self.inner.assignment()}

    async def close(self) -> None:
        await self.inner.close()


class NamespacedPartitionConsumer:
    """PartitionConsumer whose records name the catalogue's topics, not the broker's."""

    def __init__(self, log: NamespacedLog, inner: PartitionConsumer) -> None:
        self.log, self.inner = log, inner

    def _down(self, positions: Mapping[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        return {(self.log.down(t), p): o for (t, p), o in positions.items()}

    async def assign(self, partitions: set[tuple[str, int]], *, at_end: bool = False) -> None:
        await self.inner.assign({(self.log.down(t), p) for t, p in partitions}, at_end=at_end)

    async def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        return [self.log.up_record(r) for r in await self.inner.poll(max_records, timeout_s)]

    async def seek(self, positions: Mapping[tuple[str, int], int]) -> None:
        await self.inner.seek(self._down(positions))

    async def commit(self, positions: Mapping[tuple[str, int], int]) -> None:
        await self.inner.commit(self._down(positions))

    async def close(self) -> None:
        await self.inner.close()
