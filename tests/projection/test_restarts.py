"""A runner that fails is started again (`ProjectionRunner.keep_running`, hotline/restarts.py),
as every service runs its projections and relays: the read model catches up, each event
applied once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from hotline.log.port import EventLog
from hotline.projection import Applied
from hotline.runner import ProjectionRunner
from tests.projection.tally import Tally
from tests.projection.test_runtime import seed


class Failing(Tally):
    """A tally whose database refuses its first `failures` batches (the transaction rolls
    back, as when the database goes away for a while)."""

    def __init__(self, topic: str, failures: int) -> None:
        super().__init__(topic)
        self.failures = failures

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database is locked")
        await super().apply(conn, batch)


def restarts() -> float:
    return REGISTRY.get_sample_value("hotline_restarts_total",
                                     {"worker": "projection tally"}) or 0.0


async def test_a_failed_runner_starts_again_and_applies_each_event_once(
        log: EventLog, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    topic = await seed(log, streams=4, per_stream=3)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    tally = Failing(topic, failures=2)
    runner = ProjectionRunner(log, engine, tally, batch_size=5)
    before = restarts()
    with caplog.at_level(logging.ERROR, logger="hotline.restarts"):
        task = asyncio.create_task(runner.keep_running(pauses=(0.05, 0.1)))
        deadline = time.monotonic() + 30
        while runner.stats.applied < 12:
            assert time.monotonic() < deadline and not task.done()
            await asyncio.sleep(0.05)
        runner.stop()
        await asyncio.wait_for(task, 10)
    async with engine.connect() as conn:
        assert await tally.counts(conn) == {f"s-{i}": 3 for i in range(4)}
    assert runner.stats.duplicates == 0
    assert restarts() - before == 2
    failed = [r for r in caplog.records if "projection tally failed" in r.getMessage()]
    assert [r.getMessage().split("(")[1].split(" ")[0] for r in failed] == ["1", "2"]
    assert all(r.exc_info and "database is locked" in str(r.exc_info[1]) for r in failed)
    await engine.dispose()


async def test_a_runner_stopped_while_it_pauses_returns_at_once(
        log: EventLog, tmp_path: Path) -> None:
    topic = await seed(log, streams=1, per_stream=1)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    runner = ProjectionRunner(log, engine, Failing(topic, failures=1_000))
    before = restarts()
    task = asyncio.create_task(runner.keep_running(pauses=(60.0,)))
    deadline = time.monotonic() + 30
    while restarts() == before:
        assert time.monotonic() < deadline and not task.done()
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # in its minute's pause now
    stopped = time.monotonic()
    runner.stop()
    await asyncio.wait_for(task, 10)
    assert time.monotonic() - stopped < 2
    await engine.dispose()
