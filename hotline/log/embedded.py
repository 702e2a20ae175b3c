"""The embedded engine: a durable SQLite file (WAL, synchronous=FULL) behind the EventLog port.

Appends go through `GroupCommitWriter`: concurrent appends share one
transaction and one fsync, and each caller is answered only after the COMMIT
that made its records durable.

Stream appends check the expected version inside that transaction, and the
transaction holds SQLite's write lock, so two conflicting appends can never
both succeed — not even from two processes sharing the file.

Consumer groups here have a single member per group: it reads every
partition of its topics. (Kafka spreads partitions over members; the embedded
engine is for one machine.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from hotline.log.partitioning import partition_for
from hotline.log.port import (
    GENESIS_HASH,
    ClaimListener,
    OutgoingRecord,
    Position,
    Record,
    StreamHead,
    TopicInfo,
    TopicSpec,
    UnknownTopic,
    UnsafeSettings,
    VersionConflict,
    value_hash,
)
from hotline.sqlite_writer import SAFE_SYNC, GroupCommitWriter, LoopReads, connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY, partitions INTEGER NOT NULL,
    retention_ms INTEGER NOT NULL, config TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS partitions (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, "offset" INTEGER NOT NULL,
    key TEXT NOT NULL, value BLOB NOT NULL, headers TEXT, ts INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, "offset"));
CREATE TABLE IF NOT EXISTS streams (
    topic TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, head_hash TEXT NOT NULL,
    PRIMARY KEY (topic, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stream_records (
    topic TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL,
    partition INTEGER NOT NULL, "offset" INTEGER NOT NULL,
    PRIMARY KEY (topic, key, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_offsets (
    grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL, PRIMARY KEY (grp, topic, partition)) WITHOUT ROWID;
"""


@dataclass(slots=True)
class _Op:
    """One queued write: a plain batch append, or a stream append with its expected version."""

    topic: str
    records: Sequence[OutgoingRecord]
    stream_key: str | None = None
    expected_version: int = 0


@lru_cache(maxsize=256)
def _headers_text(items: tuple[tuple[str, str], ...]) -> str:
    return json.dumps(dict(items), ensure_ascii=False)


def _headers_json(headers: Mapping[str, str]) -> str | None:
    """Headers as stored; the same few header sets repeat, so their JSON is cached."""
    return _headers_text(tuple(headers.items())) if headers else None


@lru_cache(maxsize=256)
def _headers(raw: str | None) -> Mapping[str, str]:
    return MappingProxyType(json.loads(raw)) if raw else MappingProxyType({})


ON_LOOP_ROWS = 64  # records of a stream read on the event loop (0.2 ms for 64 of 1.5 KB)
POLL_INTERVAL_S = 0.05  # how often a consumer looks for appends by other processes
Mark = tuple[int, int]  # (this process's commits, SQLite's data_version): EmbeddedEventLog.mark


class EmbeddedEventLog:
    """EventLog on one SQLite file; `path` may be `:memory:` only for throwaway tests."""

    engine = "embedded"

    def __init__(self, path: str, *, synchronous: str = "FULL", allow_unsafe: bool = False):
        self.path = str(path)
        self.synchronous = synchronous.upper()
        if self.synchronous not in SAFE_SYNC and not allow_unsafe:
            raise UnsafeSettings(
                f"synchronous={self.synchronous} can lose committed events on power loss; "
                "use FULL, or pass allow_unsafe=True knowingly"
            )
        self._writer = GroupCommitWriter(self.path, self.synchronous, "hotline-log", self,
                                         rejections=(VersionConflict,))
        self._next: dict[tuple[str, int], int] = {}  # writer thread only
        self._dirty: set[tuple[str, int]] = set()
        self._data_version = -1
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="hotline-log-reader")
        self._rconn: sqlite3.Connection | None = None
        self._loop_reads: LoopReads | None = None  # a stream's head, a short stream
        self._partitions: dict[str, int] = {}
        self.appended = self._writer.committed  # consumers wait on it for new records
        self._outside: tuple[float, int] = (-1e9, -1)  # (when, data_version) last looked at

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._writer.start(SCHEMA)
        self._rconn = await self._in_reader(connect, self.path, self.synchronous)
        self._loop_reads = LoopReads(self.path, self.synchronous,
                                     lambda work: self._in_reader(work, self._rconn))

    async def close(self) -> None:
        await self._writer.close()
        if self._rconn is not None:
            await self._in_reader(self._rconn.close)
            self._rconn = None
        if self._loop_reads is not None:
            self._loop_reads.close()
            self._loop_reads = None
        self._reader.shutdown(wait=True)

    async def _in_reader(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._reader, fn, *args)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        assert self._rconn is not None, "log not started"
        return self._rconn.execute(sql, params).fetchall()

    async def _point(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """A read of a few rows by key, on the event loop (`LoopReads`: no thread hand-off);
        the reader thread's when SQLite answers busy."""
        assert self._loop_reads is not None, "log not started"
        return await self._loop_reads.run(lambda conn: conn.execute(sql, params).fetchall())

    # -- topics ----------------------------------------------------------------------------

    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        def create(conn: sqlite3.Connection) -> None:
            for s in specs:
                cfg = json.dumps(dict(s.config), sort_keys=True)
                conn.execute(
                    "INSERT OR IGNORE INTO topics VALUES (?,?,?,?)",
                    (s.name, s.partitions, s.retention_ms, cfg),
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO partitions VALUES (?,?,0)",
                    [(s.name, p) for p in range(s.partitions)],
                )

        await self._writer.run(create)

    async def partitions(self, topic: str) -> int:
        if topic not in self._partitions:
            rows = await self._in_reader(
                self._query, "SELECT partitions FROM topics WHERE name=?", (topic,)
            )
            if not rows:
                raise UnknownTopic(topic)
            self._partitions[topic] = rows[0][0]
        return self._partitions[topic]

    def partition_for(self, key: str, partitions: int) -> int:
        return partition_for(key, partitions)

    async def topics(self, prefix: str = "") -> list[TopicInfo]:
        rows = await self._in_reader(
            self._query,
            "SELECT t.name, t.partitions, COUNT(r.value), COALESCE(SUM(LENGTH(r.value)), 0) "
            "FROM topics t LEFT JOIN records r ON r.topic = t.name GROUP BY t.name ORDER BY t.name",
        )
        return [TopicInfo(n, p, c, b) for n, p, c, b in rows if n.startswith(prefix)]

    async def end_offsets(self, topic: str) -> dict[int, int]:
        await self.partitions(topic)
        rows = await self._in_reader(
            self._query, "SELECT partition, next_offset FROM partitions WHERE topic=?", (topic,)
        )
        return {p: o for p, o in rows}

    # -- writing ---------------------------------------------------------------------------

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> list[Position]:
        if not records:
            return []
        return await self._submit(_Op(topic, records))

    async def append_stream(
        self, topic: str, key: str, values: Sequence[OutgoingRecord], expected_version: int
    ) -> list[Position]:
        if any(r.key != key for r in values):
            raise ValueError("every record of a stream append must carry the stream key")
        return await self._submit(_Op(topic, values, key, expected_version))

    async def _submit(self, op: _Op) -> list[Position]:
        await self.partitions(op.topic)  # UnknownTopic before anything is queued
        return await self._writer.run(lambda conn: self._apply(conn, op))

    def _apply(self, conn: sqlite3.Connection, op: _Op) -> list[Position]:
        n = self._partitions[op.topic]
        version = 0
        if op.stream_key is not None:
            row = conn.execute(
                "SELECT version FROM streams WHERE topic=? AND key=?", (op.topic, op.stream_key)
            ).fetchone()
            version = row[0] if row else 0
            if version != op.expected_version:
                raise VersionConflict(op.topic, op.stream_key, op.expected_version, version)
        now_ms = int(time.time() * 1000)
        taken: dict[tuple[str, int], int] = {}  # next offsets after this op, kept if it succeeds
        rows, positions = [], []
        for rec in op.records:
            tp = (op.topic, partition_for(rec.key, n))
            off = taken.get(tp)
            if off is None:
                off = self._next_offset(conn, tp)
            taken[tp] = off + 1
            rows.append((op.topic, tp[1], off, rec.key, rec.value, _headers_json(rec.headers),
                         now_ms))
            positions.append(Position(op.topic, tp[1], off))
        conn.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?)", rows)
        if op.stream_key is not None:
            self._advance_stream(conn, op, version, positions)
        self._next.update(taken)  # only now: a failed op leaves the cache as it was
        self._dirty.update(taken)
        return positions

    def _next_offset(self, conn: sqlite3.Connection, tp: tuple[str, int]) -> int:
        if tp not in self._next:
            self._next[tp] = conn.execute(
                "SELECT next_offset FROM partitions WHERE topic=? AND partition=?", tp
            ).fetchone()[0]
        return self._next[tp]

    # -- transaction hooks (writer thread): next offsets are cached between transactions ----

    def begun(self, conn: sqlite3.Connection) -> None:
        """Drop the offset cache if another connection (another process) committed meanwhile."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._next.clear()
            self._data_version = version

    def committing(self, conn: sqlite3.Connection) -> None:
        """Write the partitions' next offsets once per transaction, not once per append."""
        conn.executemany(
            "UPDATE partitions SET next_offset=? WHERE topic=? AND partition=?",
            [(self._next[tp], tp[0], tp[1]) for tp in self._dirty],
        )
        self._dirty.clear()

    def rolled_back(self) -> None:
        self._next.clear()
        self._dirty.clear()

    @staticmethod
    def _advance_stream(
        conn: sqlite3.Connection, op: _Op, version: int, positions: list[Position]
    ) -> None:
        key = op.stream_key
        conn.executemany(
            "INSERT INTO stream_records VALUES (?,?,?,?,?)",
            [(op.topic, key, version + i + 1, pos.partition, pos.offset)
             for i, pos in enumerate(positions)],
        )
        conn.execute(
            "INSERT INTO streams VALUES (?,?,?,?) ON CONFLICT (topic, key) "
            "DO UPDATE SET version=excluded.version, head_hash=excluded.head_hash",
            (op.topic, key, version + len(positions), value_hash(op.records[-1].value)),
        )

    # -- reading ---------------------------------------------------------------------------

    async def claim(self, topic: str) -> set[int]:
        return set(range(await self.partitions(topic)))  # one machine: the only writer

    async def follow_claim(self, topic: str, listener: ClaimListener) -> None:
        await listener(await self.claim(topic), set())  # never changes: nobody else writes

    def partition_consumer(self, group: str | None, topics: Sequence[str], *,
                           prompt: bool = False) -> EmbeddedPartitionConsumer:
        return EmbeddedPartitionConsumer(self, group, topics)  # woken by every commit anyway

    async def stream_head(self, topic: str, key: str) -> StreamHead:
        rows = await self._point(
            "SELECT version, head_hash FROM streams WHERE topic=? AND key=?", (topic, key))
        return StreamHead(*rows[0]) if rows else StreamHead(0, GENESIS_HASH)

    async def read_stream(self, topic: str, key: str, after: int = 0) -> list[Record]:
        """A short stream (a ticket, a contact, an article) is read on the loop; a longer one
        is read again, whole, by the reader thread."""
        sql = ('SELECT r.topic, r.partition, r."offset", r.key, r.value, r.headers, r.ts '
               "FROM stream_records s JOIN records r ON r.topic = s.topic "
               'AND r.partition = s.partition AND r."offset" = s."offset" '
               "WHERE s.topic=? AND s.key=? AND s.version>? ORDER BY s.version")
        rows = await self._point(f"{sql} LIMIT ?", (topic, key, after, ON_LOOP_ROWS + 1))
        if len(rows) > ON_LOOP_ROWS:
            rows = await self._in_reader(self._query, sql, (topic, key, after))
        return [Record(t, p, o, k, v, _headers(h), ts) for t, p, o, k, v, h, ts in rows]

    async def mark(self) -> Mark:
        """What changes whenever anything is committed to the log: this process's commits at
        once, another process's within POLL_INTERVAL_S (SQLite's `data_version` of the
        reader's connection, looked at no more often than that for all consumers).

        A consumer that read every partition and found nothing new need not read them again
        until the mark moves: idle, a process's dozens of consumers each read every
        partition twenty times a second before (a third of a core for `hotline run`)."""
        when, version = self._outside
        if time.monotonic() - when >= POLL_INTERVAL_S:
            rows = await self._in_reader(self._query, "PRAGMA data_version")
            version = rows[0][0]
            self._outside = (time.monotonic(), version)
        return self._writer.commits, version

    async def read(
        self, topic: str, partition: int, from_offset: int, limit: int = 1000
    ) -> list[Record]:
        rows = await self._in_reader(
            self._query,
            'SELECT "offset", key, value, headers, ts FROM records '
            'WHERE topic=? AND partition=? AND "offset">=? ORDER BY "offset" LIMIT ?',
            (topic, partition, from_offset, limit),
        )
        return [Record(topic, partition, o, k, v, _headers(h), ts) for o, k, v, h, ts in rows]

    def consumer(self, group: str, topics: Sequence[str]) -> EmbeddedConsumer:
        return EmbeddedConsumer(self, group, list(topics))

    # -- group offsets (used by EmbeddedConsumer) -------------------------------------------

    async def _committed(self, group: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        marks = ",".join("?" * len(topics))
        rows = await self._in_reader(
            self._query,
            f"SELECT topic, partition, next_offset FROM group_offsets "
            f"WHERE grp=? AND topic IN ({marks})",
            (group, *topics),
        )
        return {(t, p): o for t, p, o in rows}

    async def _commit(self, group: str, positions: Mapping[tuple[str, int], int]) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO group_offsets VALUES (?,?,?,?) ON CONFLICT (grp, topic, partition) "
                "DO UPDATE SET next_offset=excluded.next_offset",
                [(group, t, p, o) for (t, p), o in positions.items()],
            )

        await self._writer.run(write)


async def pulse(event: asyncio.Event, timeout_s: float) -> None:
    """Wait for `event` at most `timeout_s`. Not `wait_for`: on Python 3.11 it swallows a
    cancellation that arrives as the event is set, and this event is set after every commit,
    so a consumer loop could never be stopped."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()


class _Polling:
    """How both embedded consumers poll: read their partitions from their positions, and
    while a read finds nothing, read again only once the log's mark moved (a commit),
    waking at every commit of this process and every POLL_INTERVAL_S for other processes."""

    log: EmbeddedEventLog
    _nothing_at: Mark | None = None  # the log's mark when a read found nothing new

    async def _current(self) -> dict[tuple[str, int], int]:
        raise NotImplementedError

    async def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        positions = await self._current()
        deadline = time.monotonic() + timeout_s
        while True:
            mark = await self.log.mark()  # before reading: what is committed after moves it
            out: list[Record] = []
            if mark != self._nothing_at:
                for (topic, p), offset in positions.items():
                    records = await self.log.read(topic, p, offset, max_records - len(out))
                    if records:
                        positions[(topic, p)] = records[-1].offset + 1
                        out.extend(records)
                    if len(out) >= max_records:
                        break
                self._nothing_at = None if out else mark
            left = deadline - time.monotonic()
            if out or left <= 0:
                return out
            await pulse(self.log.appended, min(left, POLL_INTERVAL_S))


class EmbeddedConsumer(_Polling):
    """The single member of a consumer group on the embedded engine."""

    def __init__(self, log: EmbeddedEventLog, group: str, topics: list[str]) -> None:
        self.log, self.group, self.topics = log, group, topics
        self._positions: dict[tuple[str, int], int] | None = None

    async def _current(self) -> dict[tuple[str, int], int]:
        if self._positions is None:
            committed = await self.log._committed(self.group, self.topics)
            positions = {}
            for t in self.topics:
                for p in range(await self.log.partitions(t)):
                    positions[(t, p)] = committed.get((t, p), 0)
            self._positions = positions
        return self._positions

    async def seek(self, positions: Mapping[tuple[str, int], int]) -> None:
        current = await self._current()
        current.update(positions)
        self._nothing_at = None

    async def commit(self, positions: Mapping[tuple[str, int], int]) -> None:
        await self.log._commit(self.group, positions)

    async def committed(self) -> dict[tuple[str, int], int]:
        return await self.log._committed(self.group, self.topics)

    async def assignment(self) -> set[tuple[str, int]]:
        return set(await self._current())

    async def close(self) -> None:
        self._positions, self._nothing_at = None, None


class EmbeddedPartitionConsumer(_Polling):
    """Reads chosen partitions; offsets committed under a group name."""

    def __init__(self, log: EmbeddedEventLog, group: str | None, topics: Sequence[str]) -> None:
        self.log, self.group, self.topics = log, group, list(topics)
        self._positions: dict[tuple[str, int], int] = {}

    async def _current(self) -> dict[tuple[str, int], int]:
        return self._positions

    async def assign(self, partitions: set[tuple[str, int]], *, at_end: bool = False) -> None:
        start: dict[tuple[str, int], int] = {}
        if at_end:
            for topic in {t for t, _ in partitions}:
                start |= {(topic, p): o for p, o in (await self.log.end_offsets(topic)).items()}
        elif self.group:
            start = await self.log._committed(self.group, self.topics)
        self._positions = {tp: self._positions.get(tp, start.get(tp, 0))
                           for tp in sorted(partitions)}
        self._nothing_at = None

    async def seek(self, positions: Mapping[tuple[str, int], int]) -> None:
        self._positions.update({tp: o for tp, o in positions.items() if tp in self._positions})
        self._nothing_at = None

    async def commit(self, positions: Mapping[tuple[str, int], int]) -> None:
        if self.group and positions:
            await self.log._commit(self.group, positions)

    async def close(self) -> None:
        self._positions, self._nothing_at = {}, None
