"""The faust job on the real broker gives the same hotspots as the embedded runner on the
same events: a generated stream with a planted burst and cluster is appended to Kafka, the
faust worker runs as a subprocess over it, and what it appends to hotline.analytics is
compared with the embedded runner's findings on a copy of the same events in SQLite; then
the worker is stopped and started again, and takes up the checkpoint it left."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.envelope import decode
from contracts.topics import ANALYTICS, CONTACTS, TICKETS, core_specs
from hotline.eventstore import EventStore
from hotline.log.embedded import EmbeddedEventLog
from hotline.log.kafka import KafkaEventLog, KafkaOptions
from hotline.log.namespaced import NamespacedLog
from hotline.log.port import EventLog
from services.analytics.hotspots.burst import load_policy
from services.analytics.hotspots.detector import Detector
from services.analytics.hotspots.runner import HotspotRunner, settle
from tests.analytics.hotspot_stream import Plan, append_all, stream
from tests.conftest import settings_env

pytestmark = pytest.mark.kafka
PLAN = Plan(hours=72, burst_hour=50, cluster_hour=60, seed=11)
ROOT = Path(__file__).resolve().parents[2]


async def analytics_records(log: EventLog) -> list[tuple[str, str]]:
    """(stream, event type) of every record on hotline.analytics."""
    found = []
    for p in range(await log.partitions(ANALYTICS)):
        for record in await log.read(ANALYTICS, p, 0, 10_000):
            env = decode(record.value)
            found.append((env.subject, env.event_name))
    return sorted(found)


async def embedded_findings(tmp_path: Path) -> list[tuple[str, str]]:
    log = EmbeddedEventLog(str(tmp_path / "log.db"))
    await log.start()
    try:
        await log.create_topics(core_specs())
        await append_all(EventStore(log), stream(PLAN))
        runner = HotspotRunner(log, Detector(load_policy()),
                               lambda: datetime(2026, 3, 5, tzinfo=UTC))
        task = asyncio.create_task(runner.run())
        await settle(runner, 60)
        runner.stop()
        await task
        return await analytics_records(log)
    finally:
        await log.close()


async def test_faust_job_finds_what_the_embedded_runner_finds(
        kafka_options: KafkaOptions, tmp_path: Path) -> None:
    expected = await embedded_findings(tmp_path)
    assert any(name == "HotspotDetected" for _, name in expected)

    prefix = f"f{uuid.uuid4().hex[:8]}."
    log = NamespacedLog(KafkaEventLog(kafka_options), prefix)
    await log.start()
    worker = None
    try:
        await log.create_topics(core_specs())
        await asyncio.gather(log.claim(TICKETS), log.claim(CONTACTS))  # joins at once
        await append_all(EventStore(log), stream(PLAN))
        env = {**os.environ, **settings_env(log), "HOTLINE_FAUST_ID": f"{prefix}hotspots",
               "HOTLINE_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
        worker = start_worker(env, tmp_path / "faust.log")
        got: list[tuple[str, str]] = []
        for _ in range(900):  # up to 90 s: a group join on tansu, then the stream
            got = await analytics_records(log)
            if len(got) >= len(expected) or worker.poll() is not None:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # anything more than expected would show now
        got = await analytics_records(log)
        tail = (tmp_path / "faust.log").read_text(errors="replace")[-3000:]
        assert got == expected, tail

        # stopped, it leaves a checkpoint; started again (a new group: faust delivers both
        # topics from the beginning), it takes the windows up and counts nothing twice
        stop(worker)
        read = sum([*(await log.end_offsets(TICKETS)).values(),
                    *(await log.end_offsets(CONTACTS)).values()])
        env["HOTLINE_FAUST_ID"] = f"{prefix}hotspots-again"
        worker = start_worker(env, tmp_path / "faust-again.log")
        said = f"from its checkpoint ({read} records read before)"
        for _ in range(600):
            if said in (tmp_path / "faust-again.log").read_text(errors="replace"):
                break
            await asyncio.sleep(0.1)
        again = (tmp_path / "faust-again.log").read_text(errors="replace")
        assert said in again, again[-3000:]
        await asyncio.sleep(3.0)
        assert await analytics_records(log) == expected
        # faust made no topic of its own (no table changelog, no leader topic): starts
        # leave nothing behind but their empty groups, which expire
        assert [t.name for t in await log.topics("hotspots")] == []
    finally:
        if worker is not None:
            stop(worker)
        await log.close()


def start_worker(env: dict[str, str], output: Path) -> subprocess.Popen[bytes]:
    with output.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "services.analytics.hotspots.faust_app:app",
             "worker", "-l", "info", "--without-web"],
            cwd=output.parent, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM: faust stops its agents, then the job writes its checkpoint."""
    worker.terminate()
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()
