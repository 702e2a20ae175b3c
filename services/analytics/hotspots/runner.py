"""The embedded hotspot runner: reads `hotline.tickets` and `hotline.contacts`, feeds the
pure detector (services/analytics/hotspots/detector.py) and appends what it finds to
`hotline.analytics` through the event store.

Its state is the detector's windows, in memory, rebuilt by event time exactly as they
were when the log is read again (no wall clock anywhere). Every finding is appended to a
stream named by its derived id at the version it must have (`HotspotDetected` and
`PeriodicDemandForeseen` first, `HotspotCleared` second): a finding already in the log is
a `VersionConflict` and is skipped, so a restart or a second replica appends nothing
twice. On Kafka a replica writes only the hotspot streams of the `hotline.analytics`
partitions it owns (`NotStreamOwner`: another replica running the same detector writes
it). A start takes up the windows from the runner's checkpoint (hotspots/checkpoint.py)
and reads what came after it; without one (a new database, another policy) it reads both
topics from zero.

The analytics replicas share their database, and with it the checkpoint: one of them runs
the detector, under the checkpoint's lease (hotline/leases.py), and the others wait to take
over from its last checkpoint when it stops or dies. Each ran its own before: every replica
read both topics whole and held every window, for findings that all but one then skipped,
and their checkpoints overwrote one another's. The lease is renewed at each batch and held
by the transaction that writes a checkpoint, so a runner that lost it writes none.

`findings_of` and `events_of` are shared with the faust job (hotspots/faust_app.py), so
both turn records into sightings and findings into events the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from contracts import events as e
from contracts.analytics_events import HotspotCleared, HotspotDetected, PeriodicDemandForeseen
from contracts.base import Category, EventData
from contracts.decoding import decode_event, event_name_of
from contracts.envelope import DecodeError
from contracts.topics import ANALYTICS, CONTACTS, TICKETS
from hotline.builds import leases_table
from hotline.eventstore import Context, EventStore
from hotline.leases import Lease, LeaseLost, take_turn
from hotline.log.port import EventLog, LogError, NotStreamOwner, Record, VersionConflict
from hotline.readiness import Readiness
from hotline.restarts import keep_running
from hotline.runtime import Background
from services.analytics.hotspots.checkpoint import (
    EVERY,
    QUIET_S,
    Checkpoints,
    Positions,
    resume,
)
from services.analytics.hotspots.detector import Detector, Finding, Sighting

log = logging.getLogger(__name__)

SOURCES = (TICKETS, CONTACTS)
WANTED = frozenset({"TicketRegistered", "ContactReceived"})
ACTOR = "system:analytics-hotspots"


def sighting_of(value: bytes) -> Sighting | None:
    """The sighting a record's event makes (None for every other event, and for a record
    that does not decode: the projections dead-letter those, the detector just skips)."""
    name = event_name_of(value)  # most ticket events are not wanted: a peek, no decoding
    if name not in WANTED:
        return None
    try:
        env, data = decode_event(value)
    except (DecodeError, KeyError, ValueError):
        return None
    match data:
        case e.TicketRegistered():
            return Sighting(data.ticket_number, env.time, data.district_code,
                            data.category.level1, data.category.level2)
        case e.ContactReceived():
            return Sighting(data.contact_id, data.received_at, data.district_code,
                            text=data.content)
    return None


def _category(f: Finding) -> Category | None:
    return Category(level1=f.category1, level2=f.category2) if f.category1 else None


def event_of(f: Finding) -> tuple[str, int, EventData]:
    """A finding as (stream, expected version, event)."""
    if f.kind == "foreseen":
        assert f.last_year_from is not None and f.category1 is not None
        return f"foresight-{f.hotspot_id}", 0, PeriodicDemandForeseen(
            signal_id=f.hotspot_id, dimension="category2" if f.category2 else "category1",
            key=f.key, district_code=f.district, category=Category(
                level1=f.category1, level2=f.category2),
            expected_from=f.start, expected_to=f.end, last_year_from=f.last_year_from,
            last_year_count=f.count, last_year_baseline=f.baseline, score=f.score)
    stream = f"hotspot-{f.hotspot_id}"
    if f.kind == "cleared":
        return stream, 1, HotspotCleared(
            hotspot_id=f.hotspot_id, key=f.key, window_seconds=f.window_s,
            window_start=f.start, window_end=f.end, count=f.count, baseline=f.baseline)
    text = f.dimension == "text"
    return stream, 0, HotspotDetected(
        hotspot_id=f.hotspot_id, dimension=f.dimension,  # type: ignore[arg-type]
        key=f.key, district_code=f.district, category=_category(f),
        window_seconds=f.window_s, window_start=f.start, window_end=f.end, count=f.count,
        baseline=f.baseline, score=f.score, z=f.z,
        ticket_numbers=() if text else f.refs, contact_ids=f.refs if text else ())


async def append_findings(store: EventStore, found: Sequence[Finding], now: datetime,
                          source: str) -> int:
    """Append each finding at its version; those already there (or owned by another
    replica) are skipped. Returns how many were appended."""
    appended = 0
    for f in found:
        stream, version, event = event_of(f)
        try:
            await store.append(stream, [event], expected_version=version,
                               context=Context.new(ACTOR, source), now=now)
            appended += 1
        except VersionConflict:
            continue  # already appended: a replay, a restart or another replica
        except NotStreamOwner:
            continue  # its partition is another replica's: it appends the same finding
    return appended


@dataclass
class RunnerStats:
    """What the runner did (for tests and logs)."""

    records: int = 0
    restored_at: int = 0  # records the checkpoint it started from had read (0: from zero)
    sightings: int = 0
    found: list[Finding] = field(default_factory=list)
    appended: int = 0


class HotspotRunner:
    """The detector over the log, as a background task of the analytics app."""

    def __init__(self, log_: EventLog, detector: Detector, clock: Callable[[], datetime],
                 batch: int = 500, checkpoints: Checkpoints | None = None,
                 every: int = EVERY) -> None:
        self.log, self.clock, self.batch = log_, clock, batch
        self.detector = detector
        self.store = EventStore(log_)
        self.checkpoints, self.every = checkpoints, every
        # one detector per database (no database, no checkpoint: this process's alone)
        self.lease = None if checkpoints is None else Lease(
            checkpoints.engine, leases_table, f"hotspots:{checkpoints.name}")
        self.positions: Positions = {}  # what the detector has read: next offsets
        self._unsaved = 0  # records read since the last checkpoint
        self._saved_at = float("-inf")  # monotonic time of the last checkpoint
        self.stats = RunnerStats()
        self.caught_up = asyncio.Event()
        self._stop = asyncio.Event()

    async def run(self, readiness: Readiness | None = None) -> None:
        """Detect until `stop()`, whenever this replica holds the detector's lease; started
        again from its last checkpoint when it fails (hotline/restarts.py)."""
        if readiness is not None:
            await readiness.wait()
        await keep_running(self._run, self._stop, "hotspot runner")

    async def _run(self) -> None:
        while self.lease is None or await take_turn(self.lease, self._stop):
            try:
                return await self._detect()
            except LeaseLost:  # what it read is the other replica's to go on with
                log.warning("hotspot runner: another replica took the detector over")
                self.caught_up.clear()
            except BaseException:
                if self.lease is not None:  # gone: a successor may take over at once
                    self.lease.release_locally()
                raise

    async def _detect(self) -> None:
        """Read both topics from the checkpoint (or from zero), then follow them until
        `stop()`; the lease is free for another replica at once after."""
        await self.log.claim(ANALYTICS)  # on Kafka: the hotspot streams this replica writes
        consumer = self.log.partition_consumer(None, SOURCES)
        ends: Positions = {}
        for topic in SOURCES:
            ends |= {(topic, p): o for p, o in (await self.log.end_offsets(topic)).items()}
        # from the checkpoint or zero: not on what a run that failed or was taken over held
        self.detector, self.positions = await resume(
            self.checkpoints, Detector(self.detector.policy), ends, "hotspot runner")
        self.stats.restored_at = sum(self.positions.values())
        await consumer.assign(set(ends))
        await consumer.seek(self.positions)
        try:
            while not self._stop.is_set():
                await self.step(await consumer.poll(self.batch, timeout_s=0.2), ends)
        finally:
            await consumer.close()
        if self.lease is not None:
            await self.lease.give_up()

    async def step(self, records: list[Record], ends: dict[tuple[str, int], int]) -> None:
        """One batch: sightings in, findings out (appended), then rest the partitions that
        reached the end they had at start, and close what that lets close (LeaseLost when
        another replica has taken the detector over)."""
        if self.lease is not None:
            await self.lease.keep()
        found: list[Finding] = []
        for record in records:
            self.stats.records += 1
            source = (record.topic, record.partition)
            self.positions[source] = record.offset + 1
            sighting = sighting_of(record.value)
            if sighting is not None:
                self.stats.sightings += 1
                found += self.detector.observe(sighting, source)
            if record.offset + 1 >= ends.get(source, 0):
                self.detector.rest(source)
        if not records and all(self.positions[s] >= end for s, end in ends.items()):
            # quiet after reading what was there at start: nothing holds the watermark. An
            # empty poll before that is a slow fetch (Kafka under load), not the end: resting
            # a partition still behind would close windows its records still belong to
            for source in ends:
                self.detector.rest(source)
            self.caught_up.set()
        found += self.detector.close()
        if found:
            self.stats.found += found
            await self._append(found)
        self._unsaved += len(records)
        quiet = time.monotonic() - self._saved_at >= QUIET_S
        if self._unsaved >= self.every or (self._unsaved and not records and quiet):
            await self._checkpoint()

    async def _checkpoint(self) -> None:
        """The detector as it is now, after its findings are in the log (a failure only
        means a longer read at the next start)."""
        if self.checkpoints is not None and await self.checkpoints.try_save(
                self.detector, self.positions, self.clock(), "hotspot runner", self.lease):
            self._unsaved, self._saved_at = 0, time.monotonic()

    async def _append(self, found: list[Finding]) -> None:
        """Append a batch's findings, retrying while the log is unavailable (the detector
        has moved on: these findings exist nowhere else until appended)."""
        while True:
            try:
                self.stats.appended += await append_findings(
                    self.store, found, self.clock(), "urn:hotline:analytics")
                return
            except LogError:
                if self._stop.is_set():
                    raise
                log.warning("hotspot runner: appending %d findings failed; retrying",
                            len(found), exc_info=True)
                await asyncio.sleep(1.0)

    def stop(self) -> None:
        self._stop.set()


class Together:
    """Several backgrounds as one (an app runs one): started together, stopped together."""

    def __init__(self, parts: Sequence[Background]) -> None:
        self.parts = list(parts)

    async def run(self, readiness: Readiness) -> None:
        await asyncio.gather(*(p.run(readiness) for p in self.parts))

    def stop(self) -> None:
        for p in self.parts:
            p.stop()


async def settle(runner: HotspotRunner, timeout_s: float = 30.0) -> None:
    """Wait until the runner has read everything there was (tests)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(runner.caught_up.wait(), timeout_s)
