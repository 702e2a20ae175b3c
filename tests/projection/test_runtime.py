"""The projection runtime on every log engine and every database: exactly-once effects."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from contracts import decoding
from contracts import events as e
from contracts.base import EventData
from contracts.decoding import forget_decoded
from contracts.topics import CATALOGUE, DEADLETTER
from hotline.builds import heads_table, stored_offsets
from hotline.eventstore import Context, EventStore
from hotline.log.port import EventLog, OutgoingRecord, TopicSpec
from hotline.projection import Applied, checksum
from hotline.runner import ProjectionRunner, rebuild
from tests.conftest import settings_env, unique
from tests.projection.tally import Tally, noted_on

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


async def seed(log: EventLog, streams: int, per_stream: int) -> str:
    """A fresh topic with `streams` streams of `per_stream` events each."""
    topic = unique("tally")
    await log.create_topics([TopicSpec(topic, 3, -1, 1), CATALOGUE[DEADLETTER].spec])
    store, event = EventStore(log), noted_on(topic)
    ctx = Context.new("operator:op-1", "/tests")
    for s in range(streams):
        events = [event(text=f"第{i}次") for i in range(per_stream)]
        await store.append(f"s-{s}", events, expected_version=0, context=ctx, now=NOW)
    return topic


async def run_until_caught_up(runner: ProjectionRunner, log: EventLog, topic: str) -> None:
    ends = await log.end_offsets(topic)
    await runner.run(until={(topic, p): e for p, e in ends.items()})


async def test_batches_apply_once_and_store_offsets(log: EventLog, db_url: str) -> None:
    topic = await seed(log, streams=4, per_stream=5)
    # the same event delivered twice (a producer retry): same bytes, same event id
    first = (await log.read_stream(topic, "s-0"))[0]
    await log.append(topic, [OutgoingRecord("s-0", first.value)])
    engine = create_async_engine(db_url)
    tally = Tally(topic)
    runner = ProjectionRunner(log, engine, tally, batch_size=7)
    await run_until_caught_up(runner, log, topic)
    async with engine.connect() as conn:
        assert await tally.counts(conn) == {f"s-{i}": 5 for i in range(4)}
    assert runner.stats.duplicates == 1 and runner.stats.applied == 20
    assert await stored_offsets(engine, "tally@v1") == {
        (topic, p): e for p, e in (await log.end_offsets(topic)).items()
    }
    await engine.dispose()


async def test_a_record_stored_twice_is_applied_once_across_a_restart(
        log: EventLog, db_url: str) -> None:
    """The retry's copy lands after the consumer restarted: the stream's stored head, not
    anything held in memory, tells it apart; one head row per stream, however long."""
    topic = await seed(log, streams=2, per_stream=3)
    engine = create_async_engine(db_url)
    await run_until_caught_up(ProjectionRunner(log, engine, Tally(topic)), log, topic)
    second = (await log.read_stream(topic, "s-1"))[1]
    await log.append(topic, [OutgoingRecord("s-1", second.value)])  # version 2 again
    tally = Tally(topic)
    runner = ProjectionRunner(log, engine, tally)
    await run_until_caught_up(runner, log, topic)
    async with engine.connect() as conn:
        assert await tally.counts(conn) == {"s-0": 3, "s-1": 3}
        heads = (await conn.execute(select(heads_table.c.subject, heads_table.c.version)
                                    .where(heads_table.c.projection == "tally@v1"))).all()
    assert runner.stats.duplicates == 1 and runner.stats.applied == 0
    assert sorted(heads) == [("s-0", 3), ("s-1", 3)]
    await engine.dispose()


class Seen:
    """Keeps the payloads it is given, and writes nothing."""

    version = 1
    events = frozenset({"TicketAcknowledged"})

    def __init__(self, name: str, topic: str) -> None:
        self.name, self.topics, self.metadata = name, [topic], MetaData()
        self.payloads: list[EventData | None] = []

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        self.payloads += [data for _, data in batch]


async def test_runners_of_one_topic_share_what_they_decode(log: EventLog, db_url: str) -> None:
    """Two read models of one process read the same records: each is validated once, and
    the second gets the very event the first did; a runner alone keeps nothing for others."""
    topic = unique("acks")
    await log.create_topics([TopicSpec(topic, 3, -1, 1), CATALOGUE[DEADLETTER].spec])
    ack = type("TicketAcknowledged", (e.TicketAcknowledged,), {"topic": topic})
    engine = create_async_engine(db_url)
    pair = [Seen("first", topic), Seen("second", topic)]
    runners = [ProjectionRunner(log, engine, seen) for seen in pair]
    both = [asyncio.ensure_future(r.run()) for r in runners]
    await asyncio.gather(*(r.started.wait() for r in runners))  # both reading: then the events
    while any(r.lease is None or r.lease.epoch is None for r in runners):  # each writes its own
        await asyncio.sleep(0.01)
    ctx = Context.new("unit:d01-urban-squad", "/tests")
    for s in range(6):
        await EventStore(log).append(f"ticket-{s}", [ack(unit_id=f"u-{s}")], expected_version=0,
                                     context=ctx, now=NOW)
    ends = {(topic, p): end for p, end in (await log.end_offsets(topic)).items()}
    while any(r.stats.positions != ends for r in runners):
        await asyncio.sleep(0.01)
    for r in runners:
        r.stop()
    await asyncio.gather(*both)
    ids = [sorted(map(id, seen.payloads)) for seen in pair]
    assert len(ids[0]) == 6 and ids[0] == ids[1]  # the same objects: decoded once
    forget_decoded()
    alone = Seen("alone", topic)
    await ProjectionRunner(log, engine, alone).run(until=ends)
    assert len(alone.payloads) == 6 and not decoding._recent  # noqa: SLF001 - a lone reader
    await engine.dispose()


@pytest.mark.parametrize("remembered", [1000, 2])
async def test_heads_kept_in_memory_or_forgotten_still_tell_a_redelivery(
        log: EventLog, db_url: str, remembered: int) -> None:
    """A runner that started on an empty table knows every head it wrote without asking the
    database; one that had to forget some (it remembers `remembered` streams) asks again:
    either way a retry's copy is skipped and a new stream's first event applied."""
    topic = await seed(log, streams=6, per_stream=2)
    engine = create_async_engine(db_url)
    tally = Tally(topic)
    runner = ProjectionRunner(log, engine, tally)
    runner.heads.capacity = remembered
    await run_until_caught_up(runner, log, topic)
    first = (await log.read_stream(topic, "s-0"))[0]
    await EventStore(log).append("s-new", [noted_on(topic)(text="新的")], expected_version=0,
                                 context=Context.new("operator:op-1", "/tests"), now=NOW)
    fresh = (await log.read_stream(topic, "s-new"))[0]
    assert await runner.lead()  # the lease it gave up when it stopped
    await runner.process([first, fresh])
    async with engine.connect() as conn:
        counts = await tally.counts(conn)
    assert counts == {**{f"s-{i}": 2 for i in range(6)}, "s-new": 1}
    assert runner.stats.duplicates == 1 and runner.stats.applied == 13
    await engine.dispose()


async def test_undecodable_records_go_to_the_dead_letter_topic(log: EventLog, db_url: str) -> None:
    topic = await seed(log, streams=1, per_stream=2)
    await log.append(topic, [OutgoingRecord("s-9", "不是事件 {".encode())])
    dlq_before = sum((await log.end_offsets(DEADLETTER)).values())
    engine = create_async_engine(db_url)
    tally = Tally(topic)
    runner = ProjectionRunner(log, engine, tally)
    await run_until_caught_up(runner, log, topic)
    assert runner.stats.dead_lettered == 1 and runner.stats.applied == 2
    ends = await log.end_offsets(DEADLETTER)
    assert sum(ends.values()) == dlq_before + 1
    letters = []
    for p in ends:
        letters += [r for r in await log.read(DEADLETTER, p, 0, 10_000) if r.key == "s-9"
                    and r.headers["dlq_topic"] == topic]
    assert letters[0].value == "不是事件 {".encode()
    assert "not a hotline CloudEvent" in letters[0].headers["dlq_reason"]
    await engine.dispose()


async def test_a_broken_record_is_dead_lettered_by_its_readers(log: EventLog,
                                                               db_url: str) -> None:
    """A record whose `type` names an event the projection does not read is skipped
    unvalidated (its readers dead-letter it if it is broken); one it reads, or one whose
    type cannot be read at all, goes to the dead letters."""
    topic = await seed(log, streams=1, per_stream=1)
    await log.append(topic, [
        OutgoingRecord("s-1", b'{"id":"x","type":"hotline.Other.v1"}'),  # not Tally's
        OutgoingRecord("s-2", b'{"id":"x","type":"hotline.Noted.v1"}'),  # Tally's, broken
        OutgoingRecord("s-3", b'{"id":"x"}'),  # no type to read
    ])
    engine = create_async_engine(db_url)
    runner = ProjectionRunner(log, engine, Tally(topic))
    await run_until_caught_up(runner, log, topic)
    assert runner.stats.dead_lettered == 2 and runner.stats.applied == 1
    letters = []
    for p, end in (await log.end_offsets(DEADLETTER)).items():
        letters += [r.key for r in await log.read(DEADLETTER, p, 0, end)
                    if r.headers["dlq_topic"] == topic]
    assert sorted(letters) == ["s-2", "s-3"]
    await engine.dispose()


async def test_rebuild_reproduces_the_same_rows(log: EventLog, db_url: str, tmp_path: Path) -> None:
    topic = await seed(log, streams=6, per_stream=3)
    live = create_async_engine(db_url)
    tally = Tally(topic)
    await run_until_caught_up(ProjectionRunner(log, live, tally), log, topic)
    fresh = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    progress: list[tuple[int, int]] = []
    await rebuild(log, fresh, Tally(topic), on_progress=lambda done, total: progress.append(
        (done, total)))
    assert await checksum(live, tally.metadata) == await checksum(fresh, tally.metadata)
    assert progress[-1][0] == progress[-1][1] == 18
    await rebuild(log, live, tally)  # in place, over existing rows
    assert await checksum(live, tally.metadata) == await checksum(fresh, tally.metadata)
    await live.dispose()
    await fresh.dispose()


async def test_consumer_killed_between_write_and_commit(
    log: EventLog, db_url: str, tmp_path: Path
) -> None:
    """SIGKILL a real consumer process after it wrote rows, before COMMIT; restart; count."""
    topic = await seed(log, streams=10, per_stream=10)
    marker = tmp_path / "about-to-commit"
    env = {**os.environ, **settings_env(log), "TALLY_BATCH": "30"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.projection.tally", topic, db_url, str(marker)], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert worker.poll() is None, "the worker died before reaching the commit"
            assert time.monotonic() < deadline, "the worker never reached the commit"
            await asyncio.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    engine = create_async_engine(db_url)
    tally = Tally(topic)
    async with engine.connect() as conn:
        assert await tally.counts(conn) == {}, "the killed transaction must leave nothing"
    runner = ProjectionRunner(log, engine, tally)
    await run_until_caught_up(runner, log, topic)
    async with engine.connect() as conn:
        assert await tally.counts(conn) == {f"s-{i}": 10 for i in range(10)}
    assert runner.stats.duplicates == 0
    await engine.dispose()


async def test_stop_finishes_the_batch_and_returns(log: EventLog, tmp_path: Path) -> None:
    topic = await seed(log, streams=3, per_stream=2)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    tally = Tally(topic)
    runner = ProjectionRunner(log, engine, tally)
    task = asyncio.create_task(runner.run())
    deadline = time.monotonic() + 30
    while runner.stats.applied < 6:
        assert time.monotonic() < deadline and not task.done()
        await asyncio.sleep(0.05)
    runner.stop()
    stats = await asyncio.wait_for(task, 10)
    assert stats.applied == 6
    assert await stored_offsets(engine, "tally@v1") == {
        (topic, p): e for p, e in (await log.end_offsets(topic)).items()}
    await engine.dispose()


async def test_a_new_projection_version_is_rebuilt_from_zero(log: EventLog, db_url: str) -> None:
    topic = await seed(log, streams=2, per_stream=3)
    engine = create_async_engine(db_url)
    await run_until_caught_up(ProjectionRunner(log, engine, Tally(topic)), log, topic)
    await run_until_caught_up(ProjectionRunner(log, engine, Tally(topic)), log, topic)
    newer = Tally(topic, version=2)
    runner = ProjectionRunner(log, engine, newer)
    await run_until_caught_up(runner, log, topic)
    assert runner.stats.applied == 6  # everything again, into empty tables
    async with engine.connect() as conn:
        assert await newer.counts(conn) == {"s-0": 3, "s-1": 3}
    await engine.dispose()
