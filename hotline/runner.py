"""The projection runner: events in, rows out, offsets stored with the rows (principle 5).

The `ProjectionRunner` polls the log, and for every batch, in ONE database
transaction: skips the events at or below the version it last applied of their
stream (a redelivered record, e.g. a producer's retry stored twice: no second
effect), applies the new ones, records each stream's new head (one row per
stream, not per event: the table grows with the streams, not the log), and
stores the next offsets. A crash before COMMIT loses the whole batch and it is
read again; a crash after leaves nothing to redo. The log's own consumer-group
commit runs after the database commit and only feeds lag monitoring: on start
the runner seeks to the offsets in the database, never to the group's.

Records that cannot be decoded, and those whose values the database refuses, are copied
to the dead-letter topic, with the reason and their origin, before the offsets move past
them (hotline/deadletters.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, tuple_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.envelope import DecodeError
from contracts.topics import DEADLETTER
from hotline.builds import (
    build_key,
    ensure_schema,
    heads_table,
    leases_table,
    offsets_table,
    reset,
    retire,
    stored_offsets,
)
from hotline.deadletters import apply_or_isolate, dead_letter
from hotline.heads import StreamHeads
from hotline.leases import LEASE_S, Lease, LeaseLost, take_turn
from hotline.log.port import (
    Consumer,
    EventLog,
    LogError,
    OutgoingRecord,
    PartitionConsumer,
    Record,
)
from hotline.projection import Applied, Deferring, Projection, decode_for
from hotline.restarts import PAUSES_S, keep_running

log = logging.getLogger(__name__)

REBUILD_BATCH = 2000  # replay from zero: larger transactions, fewer round trips
# Runners of this process reading each topic now: while there are several, each record one
# decodes is remembered for the others (contracts.decoding.decoded_once).
_READERS: Counter[str] = Counter()
RETIRE_EVERY_S = LEASE_S  # how often a caught-up writer looks for builds to retire


@dataclass
class RunnerStats:
    """What a runner did, for logs, metrics and tests."""

    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    batches: int = 0
    positions: dict[tuple[str, int], int] = field(default_factory=dict)


class ProjectionRunner:
    """Feeds one projection from the log, exactly once in effect."""

    def __init__(
        self,
        log: EventLog,
        engine: AsyncEngine,
        projection: Projection,
        *,
        group: str | None = None,
        batch_size: int = 500,
        before_commit: Callable[[], Awaitable[None]] | None = None,
        on_batch: Callable[[RunnerStats], None] | None = None,
        shared: bool = False,
    ) -> None:
        self.log, self.engine, self.projection = log, engine, projection
        # a read model is every replica's own: it reads every partition into its own store,
        # from the offsets stored with its rows. A relay (effects outside, at least once) is
        # `shared`: the replicas split the partitions in one consumer group, each resuming
        # where the group committed, so an effect is not repeated by every replica.
        self.shared = shared
        self.group = group or f"projection.{projection.name}"
        self.batch_size = batch_size
        self.before_commit = before_commit  # fault injection for crash tests
        self.on_batch = on_batch  # progress bars, metrics
        self.stats = RunnerStats()
        self.key = build_key(projection)  # its version's offsets, heads and lease
        # a relay's replicas share its heads as they share its partitions: never remembered
        self.heads = StreamHeads(heads_table, self.key, remember=not shared)
        # a read model's replicas may share a database: one writes it at a time (a relay's
        # split their partitions, each writing its own)
        self.lease = None if shared else Lease(engine, leases_table, self.key)
        self._retire_at = 0.0  # monotonic time of its next look for older builds
        self.started = asyncio.Event()  # set once its tables exist and it knows its offsets
        self._stop = asyncio.Event()

    async def run(self, *, until: dict[tuple[str, int], int] | None = None) -> RunnerStats:
        """Consume until `stop()` (or until every position reaches `until`, for rebuilds).

        A read model's runner writes only while it holds the projection's lease
        (hotline/leases.py); until then, or after another replica took it over, it follows
        the holder's offsets (what readiness watches) and waits to take over."""
        while await self.lead(until):
            try:
                return await self._consume(until)
            except LeaseLost:
                log.warning("%s: another replica took over its writing; following it",
                            self.projection.name)  # its heads forgotten at the next start
            except BaseException:
                if self.lease is not None:  # this runner is gone: a successor may take over
                    self.lease.release_locally()
                raise
        return self.stats

    async def keep_running(self, pauses: Sequence[float] = PAUSES_S) -> RunnerStats:
        """`run` until `stop()`, started again after each failure (hotline/restarts.py): how
        every service runs its projections and relays."""
        await keep_running(self.run, self._stop, f"projection {self.projection.name}", pauses)
        return self.stats

    async def lead(self, until: dict[tuple[str, int], int] | None = None) -> bool:
        """Wait until this runner may write (False: stopped first, or the holder of the
        lease reached `until`)."""
        if self.lease is None:
            return not self._stop.is_set()
        return await take_turn(self.lease, self._stop, meanwhile=lambda: self._follow(until))

    async def _follow(self, until: dict[tuple[str, int], int] | None) -> bool:
        """Where the replica writing the projection is: its committed offsets; False once
        they reach `until`."""
        try:
            self.stats.positions = await stored_offsets(self.engine, self.key)
        except DBAPIError:  # its tables are not made yet
            return True
        self.started.set()
        return until is None or not _reached(self.stats.positions, until)

    async def _consume(self, until: dict[tuple[str, int], int] | None) -> RunnerStats:
        await ensure_schema(self.engine, self.projection)
        async with self.engine.connect() as conn:
            await self.heads.start(conn)
        consumer = await self._consumer(rebuilding=until is not None)
        _READERS.update(self.projection.topics)
        try:
            self.started.set()
            while not self._stop.is_set():
                if until is not None and _reached(self.stats.positions, until):
                    await self._settle(at_end=True)
                    break
                records = await consumer.poll(self.batch_size, timeout_s=0.5)
                if until is not None and records:
                    records = await self._fill(consumer, records)
                if not records:
                    if self.lease is not None:
                        await self.lease.keep()
                        await self._retire(self.lease)
                    await self._settle()
                else:
                    refused = await apply_or_isolate(records, self.projection.name,
                                                     self.log, self.process)
                    self.stats.dead_lettered += refused  # after: `process` counts too
                    try:
                        await consumer.commit(self.stats.positions)
                    except LogError as exc:  # only lag monitoring reads it: log and go on
                        log.warning("%s: group commit failed: %s", self.projection.name, exc)
                    if self.on_batch is not None:
                        self.on_batch(self.stats)
        finally:
            _READERS.subtract(self.projection.topics)
            await consumer.close()
        if self.lease is not None:  # stopped: a follower takes over at once
            await self.lease.give_up()
        return self.stats

    async def _fill(self, consumer: Consumer | PartitionConsumer,
                    records: list[Record]) -> list[Record]:
        """A rebuild's batch topped up while records come at once (its prompt fetches
        return a few hundred each, and a transaction per few hundred costs more), in the
        order one poll gives: by partition, then offset, however the polls fell."""
        batch = list(records)
        while len(batch) < self.batch_size:
            got = await consumer.poll(self.batch_size - len(batch), timeout_s=0)
            if not got:
                break
            batch += got
        if len(batch) > len(records):
            batch.sort(key=lambda r: (r.topic, r.partition, r.offset))
        return batch

    async def _consumer(self, rebuilding: bool) -> Consumer | PartitionConsumer:
        """A group member (shared), or a reader of every partition from the stored offsets;
        a prompt one for a rebuild, which reads to known ends: on tansu a fetch including a
        partition read to its end is held for the whole fetch wait (half a second by
        default) though the others still have records (measured: the last poll of a
        board's rebuild took 160-320 ms for its last hundred records)."""
        if self.shared:
            return self.log.consumer(self.group, self.projection.topics)
        positions = await stored_offsets(self.engine, self.key)
        for topic in self.projection.topics:  # partitions never seen start at 0
            for p in range(await self.log.partitions(topic)):
                positions.setdefault((topic, p), 0)
        consumer = self.log.partition_consumer(None, self.projection.topics, prompt=rebuilding)
        await consumer.assign(set(positions))
        await consumer.seek(positions)
        self.stats.positions = dict(positions)
        return consumer

    async def _settle(self, *, at_end: bool = False) -> None:
        """Let a `Deferring` projection finish what it left for later, now it has caught up:
        a rebuild `at_end`, else only when the log's ends say so (a poll can come back empty
        in the middle of a catch-up on Kafka: a slow fetch)."""
        projection = self.projection
        if not (isinstance(projection, Deferring) and projection.unsettled):
            return
        if not at_end and not await self.caught_up():
            return
        while projection.unsettled:
            async with self.engine.begin() as conn:  # a transaction per part of the work
                if self.lease is not None:
                    await self.lease.hold(conn)
                await projection.settle(conn)

    async def _retire(self, lease: Lease) -> None:
        """Now and then, while idle: drop the older builds no replica runs any more (under
        this build's lease: one writer of the database's builds of the projection at once)."""
        if time.monotonic() < self._retire_at:
            return
        self._retire_at = time.monotonic() + RETIRE_EVERY_S
        async with self.engine.begin() as conn:
            await lease.hold(conn)
            await retire(conn, self.projection)

    async def caught_up(self) -> bool:
        """Whether this runner has read every partition it reads to the log's end."""
        for topic in self.projection.topics:
            for partition, end in (await self.log.end_offsets(topic)).items():
                # a relay's replicas split the partitions: only its own are its to read
                default = end if self.shared else 0
                if self.stats.positions.get((topic, partition), default) < end:
                    return False
        return True

    def stop(self) -> None:
        """Finish the batch in hand, then return from `run`."""
        self._stop.set()

    async def process(self, records: Sequence[Record], *, skip: bool = False) -> None:
        """Apply one batch and store its offsets in one transaction (`skip`: only move the
        offsets past it, a record dead-lettered)."""
        wanted: list[tuple[str, Applied]] = []
        rejects: list[OutgoingRecord] = []
        shared = {t for t in self.projection.topics if _READERS[t] > 1}
        for record in () if skip else records:
            try:
                item = decode_for(record.value, self.projection.events,
                                  remember=record.topic in shared)
            except DecodeError as exc:
                rejects.append(dead_letter(record, str(exc), self.projection.name))
                continue
            if item is not None:
                wanted.append((record.topic, item))
        if rejects:  # durable before the offsets move past them
            await self.log.append(DEADLETTER, rejects)
            self.stats.dead_lettered += len(rejects)
            log.warning("%s: %d undecodable records dead-lettered", self.projection.name,
                        len(rejects))
        positions = dict(self.stats.positions)
        for record in records:
            positions[(record.topic, record.partition)] = record.offset + 1
        async with self.engine.begin() as conn:
            if self.lease is not None:  # first: see Lease.hold
                await self.lease.hold(conn)
            heads = await self.heads.of(conn, {(t, e.subject) for t, (e, _) in wanted})
            read = dict(heads)
            fresh: list[Applied] = []
            moved: dict[tuple[str, str], int] = {}
            for topic, item in wanted:
                stream, version = (topic, item[0].subject), item[0].streamversion
                if version <= heads.get(stream, 0):  # applied before: a redelivered record
                    self.stats.duplicates += 1
                    continue
                heads[stream] = moved[stream] = version
                fresh.append(item)
            if fresh:
                await self.projection.apply(conn, fresh)
                await self.heads.store(conn, moved, set(read))
            await self._store_offsets(conn, positions)
            if self.before_commit is not None:
                await self.before_commit()
        self.heads.committed(read, moved)
        self.stats.applied += len(fresh)
        self.stats.batches += 1
        self.stats.positions = positions

    async def _store_offsets(
        self, conn: AsyncConnection, positions: dict[tuple[str, int], int]
    ) -> None:
        name = self.key
        changed = {tp: o for tp, o in positions.items() if self.stats.positions.get(tp) != o}
        if not changed:
            return
        # delete-then-insert is the portable upsert (SQLite and PostgreSQL alike)
        await conn.execute(delete(offsets_table).where(
            offsets_table.c.projection == name,
            tuple_(offsets_table.c.topic, offsets_table.c.partition).in_(list(changed)),
        ))
        await conn.execute(
            offsets_table.insert(),
            [{"projection": name, "topic": t, "partition": p, "next_offset": o}
             for (t, p), o in changed.items()],
        )


def _reached(positions: dict[tuple[str, int], int], until: dict[tuple[str, int], int]) -> bool:
    return all(positions.get(tp, 0) >= end for tp, end in until.items())


async def rebuild(
    log: EventLog,
    engine: AsyncEngine,
    projection: Projection,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunnerStats:
    """Drop a projection's rows and offsets and replay its topics from offset zero (once
    no other runner writes them: it takes their lease first)."""
    until: dict[tuple[str, int], int] = {}
    total = 0

    def report(stats: RunnerStats) -> None:
        if on_progress is not None:
            on_progress(sum(stats.positions.values()), total)

    runner = ProjectionRunner(log, engine, projection, group=f"rebuild.{projection.name}",
                              batch_size=REBUILD_BATCH, on_batch=report)
    if not await runner.lead():
        return runner.stats
    await ensure_schema(engine, projection)
    async with engine.begin() as conn:
        await reset(conn, projection)
        await conn.run_sync(projection.metadata.create_all)
    for topic in projection.topics:
        for p, end in (await log.end_offsets(topic)).items():
            until[(topic, p)] = end
    total = sum(until.values())
    return await runner.run(until=until)
