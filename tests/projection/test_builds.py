"""Builds (hotline/builds.py): a projection's new version is made beside the old one while
the old one's runner goes on writing and serving it; the old build is retired (tables
dropped, offsets and heads deleted) once no runner has held its lease for the grace; a
database from before builds is retired alike; an older version coming back leaves a newer
build alone; a relay keeps its tables in place. Both logs, both databases."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import hotline.builds
import hotline.runner
from hotline.builds import builds_table, offsets_table, stored_offsets
from hotline.eventstore import Context, EventStore
from hotline.log.port import EventLog
from hotline.runner import ProjectionRunner
from tests.projection.tally import Tally, noted_on
from tests.projection.test_runtime import NOW, seed

GRACE_S = 0.3


@pytest.fixture(autouse=True)
def quick_retirement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hotline.builds, "GRACE_S", GRACE_S)
    monkeypatch.setattr(hotline.runner, "RETIRE_EVERY_S", 0.05)


class Running:
    """A runner in the background, as a replica runs it."""

    def __init__(self, log: EventLog, engine: AsyncEngine, tally: Tally) -> None:
        self.log, self.tally = log, tally
        self.runner = ProjectionRunner(log, engine, tally, batch_size=4)
        self.task = asyncio.create_task(self.runner.run())

    async def caught_up(self) -> None:
        topic = self.tally.topics[0]
        ends = {(topic, p): e for p, e in (await self.log.end_offsets(topic)).items()}
        deadline = time.monotonic() + 60
        while any(self.runner.stats.positions.get(tp, 0) < e for tp, e in ends.items()):
            assert time.monotonic() < deadline and not self.task.done()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.runner.stop()
        await asyncio.wait_for(self.task, 30)


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def counts(engine: AsyncEngine, tally: Tally) -> dict[str, int]:
    async with engine.connect() as conn:
        return await tally.counts(conn)


async def until_gone(engine: AsyncEngine, table: str) -> None:
    deadline = time.monotonic() + 30
    while table in await tables(engine):
        assert time.monotonic() < deadline, f"{table} was not retired"
        await asyncio.sleep(0.05)


async def test_a_new_version_is_built_beside_the_old_one_which_is_retired_once_left(
        log: EventLog, db_url: str) -> None:
    topic = await seed(log, streams=2, per_stream=3)
    engine = create_async_engine(db_url)
    old, new = Tally(topic), Tally(topic, version=2)
    first = Running(log, engine, old)
    await first.caught_up()
    second = Running(log, engine, new)  # a rollout: the old replica still runs and serves
    await seed_more(log, topic)
    await asyncio.gather(first.caught_up(), second.caught_up())
    want = {"s-0": 3, "s-1": 3, "t-0": 2}
    assert await counts(engine, old) == want and await counts(engine, new) == want
    assert first.runner.stats.applied == 8 and second.runner.stats.applied == 8
    await asyncio.sleep(3 * GRACE_S)  # the old build is still run: not retired
    assert {"tally_v1", "tally_v2"} <= await tables(engine)

    await first.stop()  # the last old replica goes
    await until_gone(engine, "tally_v1")
    assert await stored_offsets(engine, "tally@v1") == {}
    assert await counts(engine, new) == want
    async with engine.connect() as conn:
        assert list(await conn.execute(select(builds_table.c.version))) == [(2,)]
    await second.stop()

    again = Running(log, engine, Tally(topic))  # a rollback: v1 is made again, v2 left alone
    await again.caught_up()
    assert again.runner.stats.applied == 8 and await counts(engine, again.tally) == want
    await asyncio.sleep(3 * GRACE_S)
    assert {"tally_v1", "tally_v2"} <= await tables(engine)
    await again.stop()
    await engine.dispose()


async def seed_more(log: EventLog, topic: str) -> None:
    await EventStore(log).append("t-0", [noted_on(topic)(text="又一次") for _ in range(2)],
                                 expected_version=0,
                                 context=Context.new("operator:op-1", "/tests"), now=NOW)


async def test_a_database_from_before_builds_is_built_again_and_its_tables_dropped(
        log: EventLog, db_url: str) -> None:
    topic = await seed(log, streams=2, per_stream=3)
    engine = create_async_engine(db_url)
    legacy = MetaData()  # as the runtime left it: no version in the names, one version row
    Table("tally", legacy, Column("subject", String(100), primary_key=True),
          Column("events", Integer, nullable=False))
    versions = Table("projection_versions", legacy,
                     Column("projection", String(100), primary_key=True),
                     Column("version", Integer, nullable=False))
    async with engine.begin() as conn:
        await conn.run_sync(legacy.create_all)
        await conn.run_sync(hotline.builds.runtime_metadata.create_all)
        await conn.execute(insert(versions).values(projection="tally", version=1))
        await conn.execute(insert(offsets_table).values(
            projection="tally", topic=topic, partition=0, next_offset=6))
    running = Running(log, engine, Tally(topic))
    await running.caught_up()
    assert running.runner.stats.applied == 6  # from zero, into its own build
    await until_gone(engine, "tally")
    assert await stored_offsets(engine, "tally") == {}
    async with engine.connect() as conn:
        assert list(await conn.execute(select(versions))) == []
    assert await counts(engine, running.tally) == {"s-0": 3, "s-1": 3}
    await running.stop()
    await engine.dispose()


async def test_a_relay_keeps_its_tables_in_place_and_a_new_version_empties_them(
        db_url: str) -> None:
    """A relay's rows are the memory of its effects: from before builds they are kept as
    they are, and only a new version of it empties them."""
    engine = create_async_engine(db_url)
    relay = Tally("t", relay=True)
    legacy = MetaData()
    versions = Table("projection_versions", legacy,
                     Column("projection", String(100), primary_key=True),
                     Column("version", Integer, nullable=False))
    async with engine.begin() as conn:
        await conn.run_sync(legacy.create_all)
        await conn.run_sync(relay.metadata.create_all)
        await conn.execute(insert(versions).values(projection="tally", version=1))
        await conn.execute(insert(relay.table).values(subject="s-0", events=3))
    await hotline.builds.ensure_schema(engine, relay)
    assert await counts(engine, relay) == {"s-0": 3}
    async with engine.connect() as conn:
        assert list(await conn.execute(select(versions))) == []
        assert list(await conn.execute(select(builds_table.c.projection,
                                              builds_table.c.version))) == [("tally", 1)]
    newer = Tally("t", version=2, relay=True)
    await hotline.builds.ensure_schema(engine, newer)
    assert await counts(engine, newer) == {}
    async with engine.connect() as conn:
        assert list(await conn.execute(select(builds_table.c.version))) == [(2,)]
    await engine.dispose()


async def test_a_build_whose_tables_do_not_carry_its_version_is_refused() -> None:
    tally = Tally("t", version=2)
    tally.version = 3  # the tables say 2: two builds would write one table
    engine = create_async_engine("sqlite+aiosqlite://")
    with pytest.raises(ValueError, match="_v3"):
        await hotline.builds.ensure_schema(engine, tally)
    await engine.dispose()
