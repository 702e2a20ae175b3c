"""The event-log contract: written once, run on the embedded engine and on a real Kafka broker."""

from __future__ import annotations

import asyncio

import pytest

from hotline.log.port import (
    GENESIS_HASH,
    EventLog,
    OutgoingRecord,
    TopicSpec,
    UnknownTopic,
    VersionConflict,
    value_hash,
)
from tests.conftest import unique


async def new_topic(log: EventLog, partitions: int = 3) -> str:
    name = unique("contract")
    await log.create_topics([TopicSpec(name, partitions, -1, 1)])
    return name


def rec(key: str, text: str) -> OutgoingRecord:
    return OutgoingRecord(key, text.encode("utf-8"), {"ce_type": "hotline.Test.v1"})


async def test_topics_are_created_once_with_their_partitions(log: EventLog) -> None:
    topic = await new_topic(log, 4)
    await log.create_topics([TopicSpec(topic, 4, -1, 1)])  # again: kept, not an error
    assert await log.partitions(topic) == 4
    assert topic in {t.name for t in await log.topics()}
    with pytest.raises(UnknownTopic):
        await log.partitions(unique("absent"))


async def test_batch_append_keeps_per_key_order_on_one_partition(log: EventLog) -> None:
    topic = await new_topic(log)
    batch = [rec(f"ticket-{i % 5}", f"第{i}条 诉求") for i in range(50)]
    positions = await log.append(topic, batch)
    assert len(positions) == 50
    for r, pos in zip(batch, positions, strict=True):
        assert pos.partition == log.partition_for(r.key, 3)
    for key in {r.key for r in batch}:
        mine = [p for r, p in zip(batch, positions, strict=True) if r.key == key]
        assert [p.offset for p in mine] == sorted(p.offset for p in mine)
        assert len({p.partition for p in mine}) == 1
    ends = await log.end_offsets(topic)
    assert sum(ends.values()) == 50


async def test_read_from_an_offset_returns_what_was_written(log: EventLog) -> None:
    topic = await new_topic(log, 1)
    await log.append(topic, [rec("k", f"内容{i}") for i in range(10)])
    got = await log.read(topic, 0, 4, limit=3)
    assert [r.offset for r in got] == [4, 5, 6]
    assert got[0].value.decode() == "内容4"
    assert got[0].key == "k" and got[0].headers["ce_type"] == "hotline.Test.v1"
    assert await log.read(topic, 0, 10) == []


async def test_stream_append_checks_the_expected_version(log: EventLog) -> None:
    topic = await new_topic(log)
    assert (await log.stream_head(topic, "ticket-1")).version == 0
    assert (await log.stream_head(topic, "ticket-1")).head_hash == GENESIS_HASH
    await log.append_stream(topic, "ticket-1", [rec("ticket-1", "a"), rec("ticket-1", "b")], 0)
    with pytest.raises(VersionConflict) as info:
        await log.append_stream(topic, "ticket-1", [rec("ticket-1", "x")], 0)
    assert info.value.actual == 2
    await log.append_stream(topic, "ticket-1", [rec("ticket-1", "c")], 2)
    head = await log.stream_head(topic, "ticket-1")
    assert head.version == 3 and head.head_hash == value_hash(b"c")
    assert [r.value for r in await log.read_stream(topic, "ticket-1")] == [b"a", b"b", b"c"]


async def test_a_stream_is_read_after_a_version(log: EventLog) -> None:
    """A state kept at version n (a ticket's snapshot) reads only what came since."""
    topic = await new_topic(log)
    await log.claim(topic)  # on Kafka: read by the owner's index
    await log.append(topic, [rec("ticket-2", "other")])  # interleaved with another stream
    await log.append_stream(topic, "ticket-1", [rec("ticket-1", "a"), rec("ticket-1", "b")], 0)
    await log.append(topic, [rec("ticket-2", "other")])
    await log.append_stream(topic, "ticket-1", [rec("ticket-1", "c")], 2)
    assert [r.value for r in await log.read_stream(topic, "ticket-1", after=1)] == [b"b", b"c"]
    assert [r.value for r in await log.read_stream(topic, "ticket-1", after=2)] == [b"c"]
    assert await log.read_stream(topic, "ticket-1", after=3) == []
    assert await log.read_stream(topic, "ticket-none", after=0) == []


async def test_conflicting_appends_exactly_one_wins(log: EventLog) -> None:
    topic = await new_topic(log)
    await log.claim(topic)  # on Kafka: become the writer (owner) of its partitions first

    async def attempt(i: int) -> bool:
        try:
            await log.append_stream(topic, "ticket-race", [rec("ticket-race", f"单位{i}签收")], 0)
            return True
        except VersionConflict:
            return False

    results = await asyncio.gather(*(attempt(i) for i in range(20)))
    assert results.count(True) == 1
    assert len(await log.read_stream(topic, "ticket-race")) == 1


async def test_consumer_group_resumes_from_committed_offsets(log: EventLog) -> None:
    topic, group = await new_topic(log, 2), unique("group")
    await log.append(topic, [rec(f"k{i}", f"v{i}") for i in range(30)])
    first = log.consumer(group, [topic])
    seen = []
    while len(seen) < 30:
        seen += await first.poll(100, timeout_s=5)
    assert len({(r.partition, r.offset) for r in seen}) == 30
    # commit only up to offset 5 of every partition, as if the rest were not processed
    await first.commit({(topic, p): 5 for p in range(2)})
    assert await first.committed() == {(topic, 0): 5, (topic, 1): 5}
    await first.close()
    second = log.consumer(group, [topic])
    again = []
    while len(again) < 20:
        again += await second.poll(100, timeout_s=5)
    assert sorted(r.offset for r in again if r.partition == 0)[0] == 5
    assert len(again) == 20
    await second.close()


async def test_consumer_seek_rereads(log: EventLog) -> None:
    topic = await new_topic(log, 1)
    await log.append(topic, [rec("k", str(i)) for i in range(5)])
    consumer = log.consumer(unique("group"), [topic])
    got = []
    while len(got) < 5:
        got += await consumer.poll(10, timeout_s=5)
    await consumer.seek({(topic, 0): 2})
    again = await consumer.poll(10, timeout_s=5)
    assert [r.value for r in again] == [b"2", b"3", b"4"]
    await consumer.close()


async def test_poll_waits_for_new_records(log: EventLog) -> None:
    topic = await new_topic(log, 1)
    consumer = log.consumer(unique("group"), [topic])
    assert await consumer.poll(10, timeout_s=0.2) == []
    await log.append(topic, [rec("k", "新")])
    got = await consumer.poll(10, timeout_s=5)
    assert [r.value.decode() for r in got] == ["新"]
    await consumer.close()
