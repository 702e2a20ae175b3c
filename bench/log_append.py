"""Appending to the log: `EventLog.append` / `append_stream` beside the raw engine below it.

Embedded: `EmbeddedEventLog` ÷ plain sqlite3 `executemany` into an equivalent
`records` table (same columns and primary key, WAL, synchronous=FULL, one
COMMIT per batch), rows prepared before the clock starts.
Kafka: `KafkaEventLog` ÷ a plain `AIOKafkaProducer` (acks=all, same batches,
same broker, send then await every future).

Runs are interleaved (raw, ours, raw, ours, ...) and the best of each side is
kept, so a burst of noise on the shared machine hurts neither side alone.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from aiokafka import AIOKafkaProducer

from bench.broker import describe, get_broker
from bench.common import Envelopes, Result, Timer, check_payloads, rate, say, temp_dir, unique
from hotline.log.embedded import SCHEMA, EmbeddedEventLog
from hotline.log.partitioning import partition_for
from hotline.log.port import EventLog, OutgoingRecord, TopicSpec

PARTITIONS = 12  # as hotline.contacts
BATCH = 100
CONCURRENCY = 64
EMBEDDED_N = 20_000
EMBEDDED_SINGLES = 10_000
EMBEDDED_REPS = 5
KAFKA_N = 10_000
KAFKA_SINGLES = 5_000
KAFKA_REPS = 2
STREAM_EVENTS = 5  # events per ticket stream, each appended with its expected version


def spec(name: str) -> TopicSpec:
    return TopicSpec(name, PARTITIONS, -1, 1, {"cleanup.policy": "delete"})


# -- our side --------------------------------------------------------------------------------


async def ours_batched(log: EventLog, topic: str, records: Sequence[OutgoingRecord],
                       batch: int) -> float:
    """events/s of sequential `append` calls of `batch` records each."""
    with Timer() as t:
        for i in range(0, len(records), batch):
            await log.append(topic, records[i:i + batch])
    return rate(len(records), t.seconds)


async def concurrently(n_items: int, workers: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Seconds for `workers` tasks to call `one(i)` for every i in range(n_items)."""
    it = iter(range(n_items))

    async def worker() -> None:
        for i in it:
            await one(i)

    with Timer() as t:
        await asyncio.gather(*(worker() for _ in range(workers)))
    return t.seconds


async def ours_singles(log: EventLog, topic: str, records: Sequence[OutgoingRecord]) -> float:
    """events/s of 64 concurrent tasks each appending one record per call (group commit)."""

    async def one(i: int) -> None:
        await log.append(topic, [records[i]])

    return rate(len(records), await concurrently(len(records), CONCURRENCY, one))


async def ours_streams(log: EventLog, topic: str, tickets: Sequence[list[OutgoingRecord]]) -> float:
    """events/s of 64 concurrent tasks, each writing whole ticket streams event by event."""

    async def one(i: int) -> None:
        stream = tickets[i]
        for version, rec in enumerate(stream):
            await log.append_stream(topic, rec.key, [rec], expected_version=version)

    seconds = await concurrently(len(tickets), CONCURRENCY, one)
    return rate(sum(map(len, tickets)), seconds)


# -- raw SQLite ------------------------------------------------------------------------------


class RawSqlite:
    """The same `records` table, written with plain sqlite3 from the calling thread."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)
        self.offsets: dict[int, int] = {}

    def rows(self, topic: str, records: Sequence[OutgoingRecord]) -> list[tuple[object, ...]]:
        """Rows with partition and offset assigned, prepared before timing."""
        now_ms = int(time.time() * 1000)
        out: list[tuple[object, ...]] = []
        for r in records:
            p = partition_for(r.key, PARTITIONS)
            off = self.offsets.get(p, 0)
            self.offsets[p] = off + 1
            out.append((topic, p, off, r.key, r.value,
                        json.dumps(dict(r.headers), ensure_ascii=False), now_ms))
        return out

    def batched(self, rows: Sequence[tuple[object, ...]], batch: int) -> float:
        with Timer() as t:
            for i in range(0, len(rows), batch):
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?)",
                                      rows[i:i + batch])
                self.conn.execute("COMMIT")
        return rate(len(rows), t.seconds)

    def close(self) -> None:
        self.conn.close()


async def embedded(env: Envelopes) -> list[Result]:
    results = []
    with temp_dir("append") as tmp:
        log = EmbeddedEventLog(str(tmp / "log.db"))
        await log.start()
        raw = RawSqlite(tmp / "raw.db")
        try:
            records = env.records(EMBEDDED_N)
            size = check_payloads(records)
            say(f"  embedded: {EMBEDDED_N} records of {size:.0f} B mean, temp dir {tmp}")
            ours_b, raw_b, ours_s, raw_s = [], [], [], []
            for rep in range(EMBEDDED_REPS):
                topic = unique("bench.append")
                await log.create_topics([spec(topic)])
                rows = raw.rows(topic, records)
                raw_b.append(raw.batched(rows, BATCH))
                ours_b.append(await ours_batched(log, topic, records, BATCH))
                singles = records[:EMBEDDED_SINGLES]
                raw_s.append(raw.batched(raw.rows(topic, singles), CONCURRENCY))
                ours_s.append(await ours_singles(log, topic, singles))
                say(f"  rep {rep + 1}: batched ours {ours_b[-1]:,.0f}/s raw {raw_b[-1]:,.0f}/s; "
                    f"64 concurrent singles ours {ours_s[-1]:,.0f}/s, "
                    f"raw batches of 64 {raw_s[-1]:,.0f}/s")
            results.append(Result(
                "log append embedded, batches of 100", max(ours_b), max(raw_b), "events/s", 0.5,
                f"raw: sqlite3 executemany, WAL+FULL, 1 COMMIT/100; ~{size:.0f} B envelopes"))
            results.append(Result(
                "log append embedded, 64 concurrent singles", max(ours_s), max(raw_s), "events/s",
                0.5, "group commit; raw: executemany in batches of 64 (the ideal group)"))

            tickets = [env.stream(f"ticket-{unique('t')}", STREAM_EVENTS)
                       for _ in range(EMBEDDED_SINGLES // STREAM_EVENTS)]
            topic = unique("bench.streams")
            await log.create_topics([spec(topic)])
            streams = await ours_streams(log, topic, tickets)
            say(f"  streams: {streams:,.0f} events/s")
            results.append(Result(
                "log append_stream embedded, 64 tickets at once", streams, max(raw_s),
                "events/s", None,
                f"{len(tickets)} tickets x {STREAM_EVENTS} events, expected version each; "
                "raw: batches of 64"))
        finally:
            raw.close()
            await log.close()
    return results


# -- Kafka -----------------------------------------------------------------------------------


class RawProducer:
    """A plain aiokafka producer with the settings KafkaEventLog gives its own."""

    def __init__(self, bootstrap: str, idempotent: bool) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                         enable_idempotence=idempotent, linger_ms=0,
                                         max_batch_size=16_384, client_id="hotline-bench-raw")

    async def batched(self, topic: str, records: Sequence[OutgoingRecord], batch: int) -> float:
        p = self.producer
        with Timer() as t:
            for i in range(0, len(records), batch):
                futures = [await p.send(topic, r.value, key=r.key.encode(),
                                        headers=[(k, v.encode()) for k, v in r.headers.items()])
                           for r in records[i:i + batch]]
                await asyncio.gather(*futures)
        return rate(len(records), t.seconds)

    async def singles(self, topic: str, records: Sequence[OutgoingRecord]) -> float:
        p = self.producer

        async def one(i: int) -> None:
            r = records[i]
            await (await p.send(topic, r.value, key=r.key.encode(),
                                headers=[(k, v.encode()) for k, v in r.headers.items()]))

        return rate(len(records), await concurrently(len(records), CONCURRENCY, one))


async def kafka(env: Envelopes) -> list[Result]:
    from hotline.log.kafka import KafkaEventLog

    broker = get_broker()
    options = broker.options()
    say(f"  kafka: broker {describe(broker)}, acks=all, idempotence={options.enable_idempotence}")
    log = KafkaEventLog(options)
    await log.start()
    raw = RawProducer(broker.bootstrap, options.enable_idempotence)
    await raw.producer.start()
    results = []
    try:
        records = env.records(KAFKA_N)
        singles = records[:KAFKA_SINGLES]
        ours_b, raw_b, ours_s, raw_s = [], [], [], []
        for rep in range(KAFKA_REPS):
            ours_topic, raw_topic = unique("bench.append"), unique("bench.raw")
            await log.create_topics([spec(ours_topic), spec(raw_topic)])
            await raw.producer.send_and_wait(raw_topic, b"warm-up", key=b"w")
            await log.append(ours_topic, [OutgoingRecord("w", b"warm-up")])
            raw_b.append(await raw.batched(raw_topic, records, BATCH))
            ours_b.append(await ours_batched(log, ours_topic, records, BATCH))
            raw_s.append(await raw.singles(raw_topic, singles))
            ours_s.append(await ours_singles(log, ours_topic, singles))
            say(f"  rep {rep + 1}: batched ours {ours_b[-1]:,.0f}/s raw {raw_b[-1]:,.0f}/s; "
                f"64 concurrent singles ours {ours_s[-1]:,.0f}/s raw {raw_s[-1]:,.0f}/s")
        results.append(Result(
            "log append kafka, batches of 100", max(ours_b), max(raw_b), "events/s", 0.5,
            "raw: AIOKafkaProducer acks=all, send 100 then await all"))
        results.append(Result(
            "log append kafka, 64 concurrent singles", max(ours_s), max(raw_s), "events/s", 0.5,
            "raw: 64 tasks, send + await one future each"))

        topic = unique("bench.streams")
        await log.create_topics([spec(topic)])
        with Timer() as join:
            await log.claim(topic)  # join the writer group (not timed below)
            await warm_index(log, topic)
        tickets = [env.stream(f"ticket-{unique('t')}", STREAM_EVENTS)
                   for _ in range(KAFKA_SINGLES // STREAM_EVENTS)]
        streams = await ours_streams(log, topic, tickets)
        say(f"  streams: {streams:,.0f} events/s (writer-group join and index load took "
            f"{join.seconds:.1f} s)")
        results.append(Result(
            "log append_stream kafka, 64 tickets at once", streams, max(raw_s), "events/s", None,
            f"{len(tickets)} tickets x {STREAM_EVENTS}; join + index load {join.seconds:.1f} s "
            "not counted; "
            "raw: 64 concurrent sends"))
    finally:
        await raw.producer.stop()
        await log.close()
    return results


async def warm_index(log: EventLog, topic: str) -> None:
    """Wait until the stream index of every partition is loaded (a stream_head on each)."""
    keys: dict[int, str] = {}
    i = 0
    while len(keys) < PARTITIONS:
        key = f"warm-{i}"
        keys.setdefault(partition_for(key, PARTITIONS), key)
        i += 1
    for key in keys.values():
        await log.stream_head(topic, key)


async def run() -> list[Result]:
    env = Envelopes(seed=1)
    results = await embedded(env)
    results += await kafka(env)
    return results
