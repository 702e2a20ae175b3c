"""Hotspots: the embedded hotspot runner over a stream of tickets and contacts, beside a raw
consumer reading and decoding the same records.

A generated stream (`HOTLINE_BENCH_HOTSPOT_WEEKS`, default 4 weeks of a mid-size city:
20 districts × 12 categories of tickets, Poisson noise, and contacts with texts of their
own) is appended to a fresh embedded log; then `HotspotRunner` reads both topics from zero
(windows, baselines, MinHash signatures and LSH clusters, appends) until caught up, beside
a partition consumer that only reads and decodes every envelope. Informative: the issue
sets no ratio for it.

Run alone with `python -m bench.hotspots`.
"""

from __future__ import annotations

import asyncio
import os
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import Result, Timer, rate, say, temp_dir
from contracts.base import Category
from contracts.envelope import decode
from contracts.events import ContactReceived, TicketRegistered
from contracts.topics import CONTACTS, TICKETS, core_specs
from contracts.vocabulary import Channel, TicketType
from hotline.database import open_database
from hotline.eventstore import Context, EventStore
from hotline.log.embedded import EmbeddedEventLog
from hotline.log.port import EventLog
from services.analytics.hotspots.burst import load_policy
from services.analytics.hotspots.checkpoint import Checkpoints
from services.analytics.hotspots.detector import Detector
from services.analytics.hotspots.runner import HotspotRunner, settle

WEEKS = int(os.environ.get("HOTLINE_BENCH_HOTSPOT_WEEKS", "4"))
T0 = datetime(2026, 3, 1, 16, tzinfo=UTC)
DISTRICTS = [f"3702{i:02d}" for i in range(1, 21)]
CATEGORIES = [f"cat-{i:02d}" for i in range(12)]
PER_HOUR = 60  # tickets per hour, city-wide (≈ 500,000 a year)
CONTACTS_PER_HOUR = 90


def events(weeks: int, seed: int = 1) -> list[tuple[str, Any, datetime]]:
    """(stream, event, time) in time order."""
    rng = random.Random(seed)
    out: list[tuple[str, Any, datetime]] = []
    n = 0
    for hour in range(weeks * 7 * 24):
        start = T0 + timedelta(hours=hour)
        for _ in range(PER_HOUR):
            n += 1
            at = start + timedelta(seconds=rng.randrange(3600))
            out.append((f"ticket-b{n}", TicketRegistered(
                ticket_id=f"b{n}", ticket_number=f"12345-{at:%Y%m%d}-{n % 1_000_000:06d}",
                contact_ids=(f"bc{n}",), ticket_type=TicketType.COMPLAINT,
                category=Category(level1=rng.choice(CATEGORIES)), summary="诉求",
                district_code=rng.choice(DISTRICTS), registered_by="operator:bench"), at))
        for _ in range(CONTACTS_PER_HOUR):
            n += 1
            at = start + timedelta(seconds=rng.randrange(3600))
            words = "".join(chr(0x4E00 + rng.randrange(3000)) for _ in range(30))
            out.append((f"contact-k{n}", ContactReceived(
                contact_id=f"k{n}", channel=Channel.WECHAT, channel_message_id=f"wx{n}",
                received_at=at, content=words, district_code=rng.choice(DISTRICTS),
                body_digest=f"{n:064x}"), at))
    return sorted(out, key=lambda e: e[2])


async def fill(log: EventLog, stream: list[tuple[str, Any, datetime]]) -> None:
    store, context = EventStore(log), Context.new("operator:bench", "urn:bench")

    async def one(name: str, event: Any, at: datetime) -> None:
        await store.append(name, [event], expected_version=0, context=context, now=at)

    for i in range(0, len(stream), 200):
        await asyncio.gather(*(one(*e) for e in stream[i:i + 200]))


async def raw_read(log: EventLog) -> int:
    """Every record of both topics read and its envelope decoded: the floor."""
    count = 0
    for topic in (TICKETS, CONTACTS):
        for p in range(await log.partitions(topic)):
            offset = 0
            while batch := await log.read(topic, p, offset, 2000):
                for record in batch:
                    decode(record.value)
                count += len(batch)
                offset = batch[-1].offset + 1
    return count


async def run() -> list[Result]:
    stream = events(WEEKS)
    say(f"  {len(stream):,} events over {WEEKS} weeks")
    with temp_dir("hotspots") as tmp:
        log = EmbeddedEventLog(str(tmp / "log.db"))
        await log.start()
        try:
            await log.create_topics(core_specs())
            await fill(log, stream)
            with Timer() as raw:
                count = await raw_read(log)
            db = open_database(f"sqlite+aiosqlite:///{tmp / 'analytics.db'}")
            try:
                runner, ours = await caught_up(log, Checkpoints(db))
                say(f"  runner: {runner.stats.sightings:,} sightings, "
                    f"{len(runner.stats.found)} findings, {runner.stats.appended} appended")
                again, restart = await caught_up(log, Checkpoints(db))
                say(f"  restart: from the checkpoint of {again.stats.restored_at:,} records "
                    f"in {restart:.2f} s")
            finally:
                await db.dispose()
        finally:
            await log.close()
    return [Result("hotspot runner (embedded), events/s", rate(count, ours),
                   rate(count, raw.seconds), "/s",
                   note="windows + MinHash LSH + appends vs read and decode"),
            Result("hotspot runner start from its checkpoint", restart, ours, "s",
                   note=f"caught up again over {count:,} records, beside the first start's "
                        "read from zero (raw column)")]


async def caught_up(log: EventLog, checkpoints: Checkpoints) -> tuple[HotspotRunner, float]:
    """A runner started and timed until it has read everything there was, then stopped."""
    runner = HotspotRunner(log, Detector(load_policy()), lambda: datetime.now(UTC),
                           batch=2000, checkpoints=checkpoints)
    with Timer() as t:
        task = asyncio.create_task(runner.run())
        await settle(runner, 3600)
    runner.stop()
    await task
    return runner, t.seconds


if __name__ == "__main__":
    for r in asyncio.run(run()):
        print(r)
