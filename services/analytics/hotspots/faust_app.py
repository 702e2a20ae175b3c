"""The hotspot job on faust-streaming (Kafka): the same pure detector as the embedded runner
(services/analytics/hotspots/detector.py), fed by faust agents over `hotline.tickets` and
`hotline.contacts`, appending the same events to `hotline.analytics`.

    HOTLINE_LOG=kafka://127.0.0.1:9092 \
        python -m faust -A services.analytics.hotspots.faust_app:app worker -l info --without-web

Designed around what the issue measured of faust on the test broker:

- window expiry follows the wall clock: the job keeps no faust table or window at all; its
  event-time windows are the detector's (closed by the partitions' watermark, kept in its
  checkpoint), so a replay of old events is never dropped as expired. (It once also kept a
  faust table of the same counts that nothing read: one changelog write per window key and
  record, and a changelog topic left behind by every start.) Nor does it elect a leader
  (`topic_disable_leader`: one worker per deployment), so faust creates no topic of its
  own and a start leaves only an empty consumer group, which Kafka drops once its offsets
  expire (`offsets.retention.minutes`, a week by default);
- undeclared source topics get the wrong partition count: each source is declared with its
  catalogue partition count (contracts/topics.py);
- events must be keyed: findings are appended through the event store on a KafkaEventLog
  (key = the hotspot's stream, at its version, hash-chained), exactly as the embedded
  runner appends them, so the two write the same streams and a finding is written once.

Like the embedded runner, the job keeps a checkpoint of its windows in the analytics
database (row `hotspots-faust` of `an_hotspot_checkpoint`) and counts only what came after
it; without one it rebuilds its windows from the beginning, by event time.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import faust

from contracts.topics import ANALYTICS, CATALOGUE, CONTACTS, TICKETS
from hotline.database import open_database
from hotline.eventstore import EventStore
from hotline.log.factory import open_log
from hotline.log.port import EventLog
from hotline.settings import Settings
from services.analytics.hotspots.burst import load_policy
from services.analytics.hotspots.checkpoint import (
    EVERY,
    QUIET_S,
    Checkpoints,
    Positions,
    resume,
)
from services.analytics.hotspots.detector import Detector, Finding
from services.analytics.hotspots.runner import SOURCES, append_findings, sighting_of

READER = "faust hotspot job"  # in its log lines


class Job:
    """The detector, the partitions' ends at start, the log the findings go to and the
    job's checkpoint (services/analytics/hotspots/checkpoint.py, under a name of its own).

    A start takes up the checkpoint's detector and skips what it had read: faust still
    delivers the topics from the beginning (a consumer group of its own per start), but
    only the records after the checkpoint are counted, so the windows are not rebuilt from
    zero. A checkpoint is written every `EVERY` records, once a minute while records came
    (`QUIET_S`), and when the worker stops; never while a record is being handled, so one
    always follows its records' findings into the log (the lock)."""

    def __init__(self, log: EventLog, checkpoints: Checkpoints) -> None:
        self.log = log
        self.store = EventStore(log)
        self.checkpoints = checkpoints
        self.detector = Detector(load_policy())
        self.ends: Positions = {}
        self.positions: Positions = {}  # next offset per source partition
        self.skip: Positions = {}  # where the checkpoint had read to
        self.appended = 0
        self.unsaved = 0
        self.ready = asyncio.Event()
        self.lock = asyncio.Lock()

    async def start(self) -> None:
        await self.log.start()
        await self.log.claim(ANALYTICS)
        for topic in SOURCES:
            self.ends |= {(topic, p): o for p, o in (await self.log.end_offsets(topic)).items()}
        self.detector, self.skip = await resume(self.checkpoints, self.detector, self.ends,
                                                READER)
        self.positions = dict(self.skip)
        self.ready.set()

    async def handle(self, topic: str, partition: int, offset: int, value: bytes) -> None:
        """One record: count it, append what closes."""
        await self.ready.wait()
        source = (topic, partition)
        if offset < self.skip.get(source, 0):
            return  # counted before the checkpoint
        async with self.lock:
            sighting = sighting_of(value)
            found: list[Finding] = []
            if sighting is not None:
                found += self.detector.observe(sighting, source)
            if offset + 1 >= self.ends.get(source, 0):
                self.detector.rest(source)
            found += self.detector.close()
            if found:
                self.appended += await append_findings(self.store, found, datetime.now(UTC),
                                                       "urn:hotline:analytics:faust")
            self.positions[source] = offset + 1
            self.unsaved += 1
        if self.unsaved >= EVERY:
            await self.checkpoint()

    async def checkpoint(self) -> None:
        """The detector as it is after the records handled so far (a failure only means a
        longer read at the next start)."""
        if not self.unsaved:
            return
        async with self.lock:
            if await self.checkpoints.try_save(self.detector, self.positions,
                                               datetime.now(UTC), READER):
                self.unsaved = 0


def build(settings: Settings, app_id: str) -> tuple[faust.App, Job]:
    """The faust app over the Kafka log the settings name (HOTLINE_LOG, its topic prefix and
    its group timings: on tansu a join completes after half the session timeout)."""
    if not settings.log.startswith("kafka://"):
        raise SystemExit("the faust hotspot job runs on Kafka: set HOTLINE_LOG=kafka://host:port "
                         "(the embedded engine runs services/analytics/hotspots/runner.py)")
    prefix = settings.topic_prefix
    job = Job(open_log(settings), Checkpoints(open_database(settings.db), name="hotspots-faust"))
    app = faust.App(app_id, broker=settings.log, store="memory://", web_enabled=False,
                    consumer_auto_offset_reset="earliest", topic_disable_leader=True,
                    topic_replication_factor=settings.kafka_replication_factor,
                    broker_session_timeout=settings.kafka_session_timeout_ms / 1000,
                    broker_heartbeat_interval=settings.kafka_heartbeat_interval_ms / 1000)
    for name in (TICKETS, CONTACTS):
        topic = app.topic(prefix + name, partitions=CATALOGUE[name].spec.partitions,
                          key_type=bytes, value_type=bytes, key_serializer="raw",
                          value_serializer="raw", internal=False)

        async def process(stream: Any, _name: str = name) -> None:
            async for event in stream.events():
                message = event.message
                await job.handle(_name, message.partition, message.offset, event.value)

        app.agent(topic, name=f"hotspots-{name}")(process)

    @app.task
    async def open_log_task() -> None:
        await job.start()

    @app.timer(interval=QUIET_S)
    async def checkpoint_now() -> None:
        await job.checkpoint()

    @app.on_before_shutdown.connect
    async def checkpoint_at_stop(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await job.checkpoint()

    return app, job


app, job = build(Settings(), os.environ.get("HOTLINE_FAUST_ID",
                                            f"hotline-hotspots-{uuid.uuid4().hex[:8]}"))
