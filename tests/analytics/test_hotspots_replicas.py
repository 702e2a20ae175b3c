"""Two analytics replicas on one database run one hotspot detector between them: the one
holding the detector's lease reads and checkpoints, the other waits; when the first stops,
the second takes over from its checkpoint, and the two find together exactly what one run
over everything finds, each finding appended once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from contracts.topics import CONTACTS, TICKETS
from hotline.eventstore import EventStore
from hotline.log.port import EventLog
from services.analytics.hotspots.burst import load_policy
from services.analytics.hotspots.checkpoint import Checkpoints
from services.analytics.hotspots.detector import Detector
from services.analytics.hotspots.runner import HotspotRunner, settle
from tests.analytics.hotspot_stream import append_all, stream
from tests.analytics.test_hotspots_runner import PLAN, reference
from tests.intake.conftest import make_platform


def replica(log: EventLog, checkpoints: Checkpoints) -> HotspotRunner:
    return HotspotRunner(log, Detector(load_policy()),
                         lambda: datetime(2026, 3, 5, tzinfo=UTC), batch=200,
                         checkpoints=checkpoints)


async def test_one_replica_detects_and_the_other_takes_over_from_its_checkpoint(
        log: EventLog, tmp_path: Path) -> None:
    platform = await make_platform(log, tmp_path)
    await asyncio.gather(log.claim(TICKETS), log.claim(CONTACTS))  # joins at once
    sightings = stream(PLAN)
    half = len(sightings) // 2
    store = EventStore(log)
    await append_all(store, sightings[:half])
    # each replica with its own Checkpoints, as each analytics process has, on one database
    a, b = replica(log, Checkpoints(platform.db)), replica(log, Checkpoints(platform.db))
    tasks = {r: asyncio.create_task(r.run()) for r in (a, b)}
    try:
        done, _ = await asyncio.wait([asyncio.create_task(r.caught_up.wait()) for r in (a, b)],
                                     timeout=120, return_when=asyncio.FIRST_COMPLETED)
        assert done
        first, second = (a, b) if a.caught_up.is_set() else (b, a)
        await asyncio.sleep(0.5)  # the other tries the lease in the meantime, and waits
        assert first.stats.records == half and second.stats.records == 0
        assert not second.caught_up.is_set()

        first.stop()  # a rollout: the lease is free at once, the other takes over
        await tasks[first]
        await append_all(store, sightings[half:])
        await settle(second, 120)
        assert second.caught_up.is_set()
    finally:
        for r in tasks:
            r.stop()
        await asyncio.gather(*tasks.values())
        await platform.keys.close()
        await platform.close_shared()
        await platform.db.dispose()
    # the second read only what came after the first's checkpoint
    assert second.stats.restored_at == half
    assert second.stats.records == len(sightings) - half
    expected = reference(sightings)
    assert set(first.stats.found) | set(second.stats.found) == expected
    assert first.stats.appended + second.stats.appended == len(expected)
