"""Kafka-only behaviour: refused settings, stream ownership across processes, broker quirks."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from hotline.log.kafka import KafkaEventLog, KafkaOptions
from hotline.log.partitioning import partition_for
from hotline.log.port import (
    NotStreamOwner,
    OutgoingRecord,
    TopicSpec,
    UnknownTopic,
    UnsafeSettings,
    VersionConflict,
    value_hash,
)

pytestmark = pytest.mark.kafka

MakeTopic = Callable[[str], str]


def rec(key: str, text: str) -> OutgoingRecord:
    return OutgoingRecord(key, text.encode("utf-8"), {"ce_type": "hotline.Test.v1"})


def key_on(partition: int, partitions: int, prefix: str = "ticket") -> str:
    """A stream key that lands on `partition`."""
    keys = (f"{prefix}-{i}" for i in range(10_000))
    return next(k for k in keys if partition_for(k, partitions) == partition)


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 30) -> None:
    """Wait until `check` holds (group rebalances on tansu take seconds)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.2)


async def started(options: KafkaOptions) -> KafkaEventLog:
    log = KafkaEventLog(options)
    await log.start()
    return log


async def new_topic(log: KafkaEventLog, make: MakeTopic, partitions: int) -> str:
    topic = make("kafka")
    await log.create_topics([TopicSpec(topic, partitions, -1, 1)])
    return topic


@pytest.fixture
async def kafka_log(kafka_options: KafkaOptions) -> AsyncIterator[KafkaEventLog]:
    log = await started(kafka_options)
    yield log
    await log.close()


async def two_writers(
    options: KafkaOptions, make: MakeTopic
) -> tuple[KafkaEventLog, KafkaEventLog, str]:
    """Two logs in one writer group on a two-partition topic, once they have split it."""
    a, b = await started(options), await started(options)
    topic = await new_topic(a, make, 2)
    assert await a.claim(topic) == {0, 1}  # alone in the group: owns everything
    await b.claim(topic)  # joining makes the group rebalance

    async def split() -> bool:
        mine, theirs = await a.claim(topic), await b.claim(topic)
        return len(mine) == len(theirs) == 1 and mine | theirs == {0, 1}

    await eventually(split)
    return a, b, topic


async def test_unsafe_settings_are_refused(kafka_options: KafkaOptions) -> None:
    refused: list[tuple[dict[str, Any], str]] = [
        ({"acks": 1}, "acks"),
        ({"acks": "1"}, "acks"),
        ({"isolation_level": "read_uncommitted"}, "isolation_level"),
    ]
    for change, setting in refused:
        log = KafkaEventLog(dataclasses.replace(kafka_options, **change))
        with pytest.raises(UnsafeSettings, match=setting):
            await log.start()
        await log.close()
    unsafe = dataclasses.replace(
        kafka_options, acks=1, isolation_level="read_uncommitted", allow_unsafe=True
    )
    log = await started(unsafe)
    await log.close()


async def test_writers_split_partitions_and_only_the_owner_appends(
    kafka_options: KafkaOptions, kafka_topic: MakeTopic
) -> None:
    a, b, topic = await two_writers(kafka_options, kafka_topic)
    try:
        (pa,), (pb,) = await a.claim(topic), await b.claim(topic)
        key_a, key_b = key_on(pa, 2), key_on(pb, 2)
        with pytest.raises(NotStreamOwner):
            await b.append_stream(topic, key_a, [rec(key_a, "受理")], 0)
        with pytest.raises(NotStreamOwner):
            await a.append_stream(topic, key_b, [rec(key_b, "受理")], 0)
        await a.append_stream(topic, key_a, [rec(key_a, "受理"), rec(key_a, "派单")], 0)
        await b.append_stream(topic, key_b, [rec(key_b, "受理")], 0)
        # the non-owner still reads the stream, by scanning the partition
        head = await b.stream_head(topic, key_a)
        assert (head.version, head.head_hash) == (2, value_hash("派单".encode()))
        assert [r.value.decode() for r in await b.read_stream(topic, key_a)] == ["受理", "派单"]
    finally:
        await a.close()
        await b.close()


async def test_ownership_moves_to_the_survivor_with_the_versions(
    kafka_options: KafkaOptions, kafka_topic: MakeTopic
) -> None:
    a, b, topic = await two_writers(kafka_options, kafka_topic)
    try:
        (pb,) = await b.claim(topic)
        key_b = key_on(pb, 2)
        await b.append_stream(topic, key_b, [rec(key_b, f"事件{i}") for i in range(3)], 0)
        await b.close()

        async def owns_all() -> bool:
            return await a.claim(topic) == {0, 1}

        await eventually(owns_all)
        head = await a.stream_head(topic, key_b)
        assert (head.version, head.head_hash) == (3, value_hash("事件2".encode()))
        with pytest.raises(VersionConflict) as info:
            await a.append_stream(topic, key_b, [rec(key_b, "迟到")], 0)
        assert info.value.actual == 3
        await a.append_stream(topic, key_b, [rec(key_b, "办结")], 3)
        assert [r.value.decode() for r in await a.read_stream(topic, key_b)] == [
            "事件0", "事件1", "事件2", "办结"
        ]
    finally:
        await a.close()
        await b.close()


async def test_concurrent_appends_with_one_expected_version_one_wins(
    kafka_log: KafkaEventLog, kafka_topic: MakeTopic
) -> None:
    topic = await new_topic(kafka_log, kafka_topic, 3)

    async def attempt(i: int) -> bool:
        try:
            await kafka_log.append_stream(topic, "ticket-race", [rec("ticket-race", f"{i}")], 0)
            return True
        except VersionConflict as exc:
            assert (exc.expected, exc.actual) == (0, 1)
            return False

    # the 20 race the writer-group join as well as each other
    results = await asyncio.gather(*(attempt(i) for i in range(20)))
    assert results.count(True) == 1 and results.count(False) == 19
    assert (await kafka_log.stream_head(topic, "ticket-race")).version == 1
    assert len(await kafka_log.read_stream(topic, "ticket-race")) == 1


async def test_end_offsets_and_reads_are_exact_after_many_batches(
    kafka_log: KafkaEventLog, kafka_topic: MakeTopic
) -> None:
    # tansu's ListOffsets says "last batch base + 1": the engine must not trust it
    topic = await new_topic(kafka_log, kafka_topic, 3)
    positions = []
    for round_ in range(4):
        batch = [rec(f"k{i}", f"{round_}-{i}" * 20) for i in range(1500)]
        positions += await kafka_log.append(topic, batch)
    last = {p: max(x.offset for x in positions if x.partition == p) for p in range(3)}
    assert await kafka_log.end_offsets(topic) == {p: o + 1 for p, o in last.items()}
    tail = await kafka_log.read(topic, 0, last[0] - 2, limit=10)
    assert [r.offset for r in tail] == [last[0] - 2, last[0] - 1, last[0]]
    everything = await kafka_log.read(topic, 1, 0, limit=100_000)
    assert len(everything) == last[1] + 1
    (info,) = [t for t in await kafka_log.topics() if t.name == topic]
    assert (info.partitions, info.records) == (3, 6000)


async def test_unknown_topics_are_not_created_by_asking(
    kafka_log: KafkaEventLog, kafka_topic: MakeTopic
) -> None:
    absent = kafka_topic("absent")
    for _ in range(2):  # a broker that auto-creates would know it the second time
        with pytest.raises(UnknownTopic):
            await kafka_log.partitions(absent)
        with pytest.raises(UnknownTopic):
            await kafka_log.append(absent, [rec("k", "v")])
        with pytest.raises(UnknownTopic):
            await kafka_log.stream_head(absent, "k")
    assert absent not in {t.name for t in await kafka_log.topics()}


async def test_catalogue_settings_fit_a_one_broker_cluster(
    kafka_log: KafkaEventLog, kafka_topic: MakeTopic
) -> None:
    # replication 3 and min.insync.replicas 2 as in contracts/topics.py, on one broker
    topic = kafka_topic("catalogue")
    config = {"cleanup.policy": "delete", "min.insync.replicas": "2"}
    await kafka_log.create_topics([TopicSpec(topic, 4, 7 * 24 * 3600 * 1000, 3, config)])
    await kafka_log.create_topics([TopicSpec(topic, 4, 7 * 24 * 3600 * 1000, 3, config)])
    assert await kafka_log.partitions(topic) == 4
    (pos,) = await kafka_log.append(topic, [rec("ticket-1", "acks=all 可写")])
    assert pos.partition == kafka_log.partition_for("ticket-1", 4)


async def test_owner_index_sees_plain_appends(
    kafka_log: KafkaEventLog, kafka_topic: MakeTopic
) -> None:
    topic = await new_topic(kafka_log, kafka_topic, 2)
    await kafka_log.append(topic, [rec("ticket-x", "before join")])
    await kafka_log.claim(topic)
    assert (await kafka_log.stream_head(topic, "ticket-x")).version == 1  # loaded on joining
    await kafka_log.append(topic, [rec("ticket-x", "after join")])
    head = await kafka_log.stream_head(topic, "ticket-x")
    assert (head.version, head.head_hash) == (2, value_hash(b"after join"))
    await kafka_log.append_stream(topic, "ticket-x", [rec("ticket-x", "stream")], 2)
    assert [r.value for r in await kafka_log.read_stream(topic, "ticket-x")] == [
        b"before join", b"after join", b"stream"
    ]


async def test_a_closed_member_frees_its_partitions_at_once(
    kafka_log: KafkaEventLog, kafka_options: KafkaOptions, kafka_topic: MakeTopic
) -> None:
    # tansu numbers the first generation 0, for which aiokafka would not send LeaveGroup
    topic, group = await new_topic(kafka_log, kafka_topic, 2), kafka_topic("group")
    await kafka_log.append(topic, [rec(f"k{i}", "v") for i in range(4)])
    first = kafka_log.consumer(group, [topic])
    got: list[object] = []
    while len(got) < 4:
        got += await first.poll(10, timeout_s=5)
    await first.close()
    second = kafka_log.consumer(group, [topic])
    began = time.monotonic()
    while await second.assignment() != {(topic, 0), (topic, 1)}:
        await second.poll(10, timeout_s=0.2)
        # an unannounced departure would hold the group until the session timed out
        assert time.monotonic() - began < kafka_options.session_timeout_ms / 1000
    await second.close()


async def test_reading_a_stream_never_joins_the_writer_group(
    kafka_options: KafkaOptions, kafka_topic: MakeTopic
) -> None:
    writer, reader = KafkaEventLog(kafka_options), KafkaEventLog(kafka_options)
    await writer.start()
    await reader.start()
    try:
        topic = await new_topic(writer, kafka_topic, 2)
        assert await writer.claim(topic) == {0, 1}
        await writer.append_stream(topic, "ticket-r", [rec("ticket-r", "受理")], 0)
        head = await reader.stream_head(topic, "ticket-r")  # an auditor's `hotline verify`
        assert head.version == 1 and len(await reader.read_stream(topic, "ticket-r")) == 1
        assert await writer.claim(topic) == {0, 1}  # still every partition: no rebalance
        await writer.append_stream(topic, "ticket-r", [rec("ticket-r", "派单")], 1)
        after = await reader.read_stream(topic, "ticket-r", after=1)  # by scanning
        assert [r.value.decode() for r in after] == ["派单"]
    finally:
        await writer.close()
        await reader.close()


async def test_a_prompt_reader_catches_up_with_a_long_partition(
    kafka_log: KafkaEventLog, kafka_topic: MakeTopic
) -> None:
    """A 1 ms fetch wait on a long partition: tansu answered such fetches with nothing, for
    ever (a requester's reply partition stalled); the reader must still reach the end."""
    topic = await new_topic(kafka_log, kafka_topic, 1)
    body = "已收到您的诉求, 正在办理。" * 12
    for n in range(4000):  # one batch per record, as replies are written
        await kafka_log.append(topic, [rec("reply-to", f"{body}{n}")])
    reader = kafka_log.partition_consumer(None, [topic], prompt=True)
    try:
        await reader.assign({(topic, 0)})
        await reader.seek({(topic, 0): 2000})
        seen: list[int] = []
        deadline = time.monotonic() + 30
        while len(seen) < 2000 and time.monotonic() < deadline:
            seen += [r.offset for r in await reader.poll(500, 0.2)]
        assert sorted(seen) == list(range(2000, 4000))
    finally:
        await reader.close()
