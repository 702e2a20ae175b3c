"""Replaying the log: `rebuild` through `ProjectionRunner` beside a raw read of the same rows.

Ours: `hotline.runner.rebuild` of a projection that does nothing per event
(so what is measured is the runtime: polling the log, decoding each envelope,
the applied-id check and insert, the offsets, one sqlite+aiosqlite transaction
per batch of 500, the group commit), plus an informative line for a projection
that keeps one real row per subject (an upsert per event).

Raw, embedded: plain sqlite3 SELECT of the same rows, fetched 500 at a time.
Raw, Kafka: a plain AIOKafkaConsumer in its own group, getmany(max_records=500)
until every record is read.

Both sides are timed from the first batch in hand to the last record, so the
consumer-group join (about 3 s on tansu, the same for both) does not drown the
figure; the totals including the join are printed beside.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.broker import describe, get_broker
from bench.common import Envelopes, Result, Timer, check_payloads, rate, say, temp_dir, unique
from hotline.database import open_database
from hotline.log.embedded import EmbeddedEventLog
from hotline.log.port import EventLog, Record, TopicSpec
from hotline.projection import Applied
from hotline.runner import rebuild

PARTITIONS = 12
EMBEDDED_N = 50_000
KAFKA_N = 20_000
ROWS_N = 5_000  # events for the one-row-per-subject projection (informative)
BATCH = 500  # the runner's default batch
FILL_BATCH = 500


# -- projections -----------------------------------------------------------------------------


class NoOp:
    """Counts events in memory: every cost measured is the runner's."""

    def __init__(self, topic: str) -> None:
        self.name = "bench-noop"
        self.version = 1
        self.topics = [topic]
        self.events = frozenset({"ContactReceived"})
        self.metadata = MetaData()
        self.seen = 0

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        self.seen += len(batch)


class PerSubject:
    """Events per subject, in a table: one upsert per event."""

    def __init__(self, topic: str) -> None:
        self.name = "bench-per-subject"
        self.version = 1
        self.topics = [topic]
        self.events = frozenset({"ContactReceived"})
        self.metadata = MetaData()
        self.table = Table("bench_per_subject_v1", self.metadata,
                           Column("subject", String(100), primary_key=True),
                           Column("events", Integer, nullable=False))

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        """One upsert statement per batch (executemany), as real projections write."""
        stmt = sqlite_insert(self.table)
        await conn.execute(
            stmt.on_conflict_do_update(index_elements=[self.table.c.subject],
                                       set_={"events": self.table.c.events + 1}),
            [{"subject": event.subject, "events": 1} for event, _ in batch])


# -- timing ----------------------------------------------------------------------------------


@dataclass
class Clock:
    """When the first batch arrived, how big it was, and when it all ended."""

    start: float = field(default_factory=time.perf_counter)
    first: float | None = None
    first_n: int = 0
    end: float = 0.0

    def batch(self, n: int) -> None:
        if self.first is None and n:
            self.first, self.first_n = time.perf_counter(), n

    def done(self) -> None:
        self.end = time.perf_counter()

    def steady(self, total: int) -> float:
        """events/s after the first batch (the join and the first fetch excluded)."""
        assert self.first is not None
        return rate(total - self.first_n, self.end - self.first)

    def overall(self, total: int) -> float:
        return rate(total, self.end - self.start)

    @property
    def join_s(self) -> float:
        return (self.first or self.end) - self.start


class ClockedLog:
    """The log as the runner sees it, with its consumers' polls observed by a Clock."""

    def __init__(self, log: EventLog, clock: Clock) -> None:
        self._log, self._clock = log, clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)

    def consumer(self, group: str, topics: Sequence[str]) -> Any:
        return self._clocked(self._log.consumer(group, topics))

    def partition_consumer(self, group: str | None, topics: Sequence[str], **kw: Any) -> Any:
        """What a read model's runner reads with (every partition, from its stored offsets)."""
        return self._clocked(self._log.partition_consumer(group, topics, **kw))

    def _clocked(self, inner: Any) -> Any:
        clock = self._clock

        class Clocked:
            def __getattr__(self, name: str) -> Any:
                return getattr(inner, name)

            async def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
                records = await inner.poll(max_records, timeout_s)
                clock.batch(len(records))
                return records

        return Clocked()


async def ours(log: EventLog, db_url: str, projection: Any, total: int) -> Clock:
    engine = open_database(db_url)
    try:
        clock = Clock()
        stats = await rebuild(ClockedLog(log, clock), engine, projection)  # type: ignore[arg-type]
        clock.done()
    finally:
        await engine.dispose()
    if stats.applied != total:
        raise AssertionError(f"{projection.name}: applied {stats.applied} of {total}")
    return clock


async def fill(log: EventLog, topic: str, env: Envelopes, n: int) -> float:
    await log.create_topics([TopicSpec(topic, PARTITIONS, -1, 1, {})])
    size = 0.0
    for i in range(0, n, FILL_BATCH):
        records = env.records(min(FILL_BATCH, n - i))
        size += check_payloads(records) * len(records)
        await log.append(topic, records)
    return size / n


# -- embedded --------------------------------------------------------------------------------


def decoder() -> Callable[[bytes], object]:
    """What the runtime does to each record's bytes (typed decoding where it has it)."""
    from hotline.projection import decode_for

    wanted = frozenset({"ContactReceived"})
    return lambda value: decode_for(value, wanted)


def raw_sqlite(path: str, topic: str, total: int,
               parse: Callable[[bytes], object] | None = None) -> Clock:
    """Plain sqlite3 read of the topic, 500 rows at a time (each value given to `parse`)."""
    conn = sqlite3.connect(path)
    try:
        clock = Clock()
        cur = conn.execute(
            'SELECT partition, "offset", key, value, headers, ts FROM records WHERE topic=? '
            'ORDER BY partition, "offset"', (topic,))
        n = 0
        while rows := cur.fetchmany(BATCH):
            if parse is not None:
                for row in rows:
                    parse(row[3])
            clock.batch(len(rows))
            n += len(rows)
        clock.done()
    finally:
        conn.close()
    if n != total:
        raise AssertionError(f"raw read {n} of {total}")
    return clock


async def embedded(env: Envelopes) -> list[Result]:
    with temp_dir("replay") as tmp:
        log = EmbeddedEventLog(str(tmp / "log.db"))
        await log.start()
        try:
            topic, rows_topic = unique("bench.replay"), unique("bench.rows")
            with Timer() as t:
                size = await fill(log, topic, env, EMBEDDED_N)
                await fill(log, rows_topic, env, ROWS_N)
            say(f"  embedded: {EMBEDDED_N} envelopes of {size:.0f} B appended in {t.seconds:.1f} s")
            mine, raws, floors = [], [], []
            for rep in range(2):
                raw = raw_sqlite(log.path, topic, EMBEDDED_N)
                clock = await ours(log, f"sqlite+aiosqlite:///{tmp / f'noop{rep}.db'}",
                                   NoOp(topic), EMBEDDED_N)
                floor = raw_sqlite(log.path, topic, EMBEDDED_N, parse=decoder())
                mine.append(clock.steady(EMBEDDED_N))
                raws.append(raw.steady(EMBEDDED_N))
                floors.append(floor.steady(EMBEDDED_N))
                say(f"  rep {rep + 1}: runner {mine[-1]:,.0f}/s (overall "
                    f"{clock.overall(EMBEDDED_N):,.0f}/s), raw SELECT {raws[-1]:,.0f}/s, "
                    f"raw SELECT + decode each {floors[-1]:,.0f}/s")
            clock = await ours(log, f"sqlite+aiosqlite:///{tmp / 'rows.db'}",
                               PerSubject(rows_topic), ROWS_N)
            raw = raw_sqlite(log.path, rows_topic, ROWS_N)
            rows_rate = clock.steady(ROWS_N)
            say(f"  per-subject rows: {rows_rate:,.0f}/s")
        finally:
            await log.close()
    return [
        Result("replay embedded, no-op projection", max(mine), max(raws), "events/s", 0.3,
               f"{EMBEDDED_N} events via rebuild/ProjectionRunner (sqlite+aiosqlite offsets); "
               "raw: sqlite3 SELECT fetchmany(500)"),
        Result("replay embedded, vs raw SELECT + decode", max(mine), max(floors), "events/s",
               0.5, "raw side also decodes every value as the runtime does (Envelope + typed "
               "payload): what is left is the runner's own cost (the issue's target: 50 %)"),
        Result("replay embedded, one row per subject", rows_rate, raw.steady(ROWS_N), "events/s",
               None, f"{ROWS_N} events, one executemany upsert per batch through aiosqlite"),
    ]


# -- Kafka -----------------------------------------------------------------------------------


async def raw_kafka(bootstrap: str, topic: str, total: int, options: Any) -> Clock:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=unique("bench-raw"),
        enable_auto_commit=False, auto_offset_reset="earliest",
        isolation_level=options.isolation_level,
        session_timeout_ms=options.session_timeout_ms,
        heartbeat_interval_ms=options.heartbeat_interval_ms,
    )
    clock = Clock()
    await consumer.start()
    try:
        n = 0
        while n < total:
            batch = await consumer.getmany(timeout_ms=500, max_records=BATCH)
            got = sum(len(msgs) for msgs in batch.values())
            clock.batch(got)
            n += got
            if time.perf_counter() - clock.start > 120:
                raise TimeoutError(f"raw consumer read {n} of {total} in 120 s")
        clock.done()
    finally:
        await consumer.stop()
    return clock


async def kafka(env: Envelopes) -> list[Result]:
    from hotline.log.kafka import KafkaEventLog

    broker = get_broker()
    options = broker.options()
    log = KafkaEventLog(options)
    await log.start()
    try:
        topic = unique("bench.replay")
        with Timer() as t:
            size = await fill(log, topic, env, KAFKA_N)
        say(f"  kafka: broker {describe(broker)}; {KAFKA_N} envelopes of {size:.0f} B "
            f"appended in {t.seconds:.1f} s")
        with temp_dir("replay-kafka") as tmp:
            raw = await raw_kafka(broker.bootstrap, topic, KAFKA_N, options)
            clock = await ours(log, f"sqlite+aiosqlite:///{tmp / 'noop.db'}", NoOp(topic), KAFKA_N)
        mine, theirs = clock.steady(KAFKA_N), raw.steady(KAFKA_N)
        say(f"  runner {mine:,.0f}/s after a {clock.join_s:.1f} s join "
            f"(overall {clock.overall(KAFKA_N):,.0f}/s); raw getmany {theirs:,.0f}/s after "
            f"{raw.join_s:.1f} s (overall {raw.overall(KAFKA_N):,.0f}/s)")
    finally:
        await log.close()
    return [Result(
        "replay kafka, no-op projection", mine, theirs, "events/s", 0.3,
        f"{KAFKA_N} events, after the group join (ours {clock.join_s:.1f} s, raw "
        f"{raw.join_s:.1f} s); overall incl. join {clock.overall(KAFKA_N):,.0f}/s vs "
        f"{raw.overall(KAFKA_N):,.0f}/s; raw: AIOKafkaConsumer getmany(500)")]


async def run() -> list[Result]:
    env = Envelopes(seed=2)
    return await embedded(env) + await kafka(env)
