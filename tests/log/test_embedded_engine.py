"""Embedded-only behaviour: two processes (two connections) sharing one log file; point
reads on the event loop's own connection; idle consumers that do not read."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hotline.log.embedded import (
    ON_LOOP_ROWS,
    EmbeddedConsumer,
    EmbeddedEventLog,
    EmbeddedPartitionConsumer,
)
from hotline.log.port import (
    OutgoingRecord,
    Record,
    TopicSpec,
    UnsafeSettings,
    VersionConflict,
    value_hash,
)
from tests.fixtures.databases import sqlite_busy


async def test_two_writers_on_one_file_keep_offsets_contiguous(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    a, b = EmbeddedEventLog(path), EmbeddedEventLog(path)
    await a.start()
    await b.start()
    await a.create_topics([TopicSpec("t", 1, -1, 1)])
    for i in range(10):  # alternate: each writer's cached offsets go stale every time
        writer = a if i % 2 == 0 else b
        await writer.append("t", [OutgoingRecord("k", f"{i}".encode())] * 3)
    assert [r.offset for r in await a.read("t", 0, 0)] == list(range(30))
    assert await b.end_offsets("t") == {0: 30}
    await a.append_stream("t", "s", [OutgoingRecord("s", b"1")], 0)
    with pytest.raises(VersionConflict):
        await b.append_stream("t", "s", [OutgoingRecord("s", b"2")], 0)
    await a.close()
    await b.close()


def test_unsafe_durability_is_refused_unless_asked_for(tmp_path: Path) -> None:
    with pytest.raises(UnsafeSettings):
        EmbeddedEventLog(str(tmp_path / "x.db"), synchronous="OFF")
    EmbeddedEventLog(str(tmp_path / "x.db"), synchronous="NORMAL", allow_unsafe=True)


async def test_a_stream_head_is_read_on_the_loop_or_off_it_when_busy(tmp_path: Path) -> None:
    log = EmbeddedEventLog(str(tmp_path / "log.db"))
    await log.start()
    await log.create_topics([TopicSpec("t", 2, -1, 1)])
    await log.append_stream("t", "s", [OutgoingRecord("s", b"1"), OutgoingRecord("s", b"2")], 0)
    on_loop = await log.stream_head("t", "s")
    with sqlite_busy(log._loop_reads):  # noqa: SLF001 - the reader thread answers instead
        assert await log.stream_head("t", "s") == on_loop
        assert (await log.stream_head("t", "none")).version == 0
        assert [r.value for r in await log.read_stream("t", "s")] == [b"1", b"2"]
    assert on_loop.version == 2 and on_loop.head_hash == value_hash(b"2")
    await log.close()


@pytest.mark.parametrize("length", [ON_LOOP_ROWS, ON_LOOP_ROWS + 1, 3 * ON_LOOP_ROWS])
async def test_a_long_stream_is_read_whole(tmp_path: Path, length: int) -> None:
    """Past ON_LOOP_ROWS records the stream is read again by the reader thread: all of it."""
    log = EmbeddedEventLog(str(tmp_path / "log.db"))
    await log.start()
    await log.create_topics([TopicSpec("t", 2, -1, 1)])
    values = [f"第{i}条".encode() for i in range(length)]
    await log.append_stream("t", "s", [OutgoingRecord("s", v) for v in values], 0)
    assert [r.value for r in await log.read_stream("t", "s")] == values
    assert [r.value for r in await log.read_stream("t", "s", after=5)] == values[5:]
    assert await log.read_stream("t", "s", after=length) == []
    await log.close()


class CountingLog(EmbeddedEventLog):
    """The embedded log, counting the partition reads its consumers make."""

    reads = 0

    async def read(self, topic: str, partition: int, from_offset: int,
                   limit: int = 1000) -> list[Record]:
        self.reads += 1
        return await super().read(topic, partition, from_offset, limit)


@pytest.mark.parametrize("kind", ["group", "partitions"])
async def test_an_idle_consumer_reads_nothing_until_a_commit(tmp_path: Path, kind: str) -> None:
    """Waiting for records it reads the partitions once, not every 50 ms (a third of a core
    for an idle `hotline run`); it still sees this process's append at once and another
    process's within its poll."""
    path = str(tmp_path / "log.db")
    log, other = CountingLog(path), EmbeddedEventLog(path)
    await log.start()
    await other.start()
    await log.create_topics([TopicSpec("t", 12, -1, 1)])
    consumer: EmbeddedConsumer | EmbeddedPartitionConsumer = log.consumer("g", ["t"])
    if kind == "partitions":
        consumer = chosen = log.partition_consumer(None, ["t"])
        await chosen.assign({("t", p) for p in range(12)})
    assert await consumer.poll(timeout_s=0.3) == []
    before = log.reads
    assert await consumer.poll(timeout_s=0.6) == []  # twelve wake-ups, nothing committed
    assert log.reads == before
    waiting = asyncio.create_task(consumer.poll(timeout_s=5))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await log.append("t", [OutgoingRecord("k", b"mine")])
    assert [r.value for r in await waiting] == [b"mine"]
    assert time.monotonic() - started < 0.2
    waiting = asyncio.create_task(consumer.poll(timeout_s=5))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await other.append("t", [OutgoingRecord("k", b"theirs")])  # another process's commit
    assert [r.value for r in await waiting] == [b"theirs"]
    assert time.monotonic() - started < 1.0
    await consumer.close()
    await log.close()
    await other.close()
