"""Replicas of a service sharing one projection database: one writes each read model, the
others follow it and take over when it stops, is killed or is fenced off (hotline/leases.py).

Without the lease, two runners folding the same events into the same rows applied events
twice where no key collided and failed on the first that did (seen with two replicas of the
tally on one PostgreSQL database: a UniqueViolation on the second replica's batch)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hotline.builds import leases_table, stored_offsets
from hotline.eventstore import Context, EventStore
from hotline.log.port import EventLog
from hotline.runner import ProjectionRunner
from tests.conftest import settings_env
from tests.projection.tally import Tally, noted_on
from tests.projection.test_runtime import NOW, seed


async def more(log: EventLog, topic: str, first: int, streams: int, per_stream: int = 4) -> None:
    store, event = EventStore(log), noted_on(topic)
    for s in range(first, first + streams):
        await store.append(f"s-{s}", [event(text=f"第{i}次") for i in range(per_stream)],
                           expected_version=0, context=Context.new("operator:op-1", "/t"),
                           now=NOW)


async def eventually(check: Callable[[], object], what: str, timeout_s: float = 40) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():  # type: ignore[misc]
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        await asyncio.sleep(0.1)


async def counts(engine: AsyncEngine, topic: str) -> dict[str, int]:
    async with engine.connect() as conn:
        try:
            return await Tally(topic).counts(conn)
        except Exception:  # noqa: BLE001 - its table not made yet
            return {}


async def test_one_replica_writes_the_others_follow_and_take_over(log: EventLog,
                                                                  db_url: str) -> None:
    topic = await seed(log, streams=3, per_stream=5)
    engines = [create_async_engine(db_url) for _ in range(2)]
    first, second = (ProjectionRunner(log, e, Tally(topic), batch_size=4) for e in engines)
    tasks = [asyncio.create_task(first.run())]
    await eventually(lambda: _true(first.lease.epoch is not None), "the first runner leads")
    tasks.append(asyncio.create_task(second.run()))
    await more(log, topic, 3, 3)
    want = {f"s-{i}": 5 for i in range(3)} | {f"s-{i}": 4 for i in range(3, 6)}
    await eventually(lambda: _equal(counts(engines[0], topic), want), "both lots applied")
    assert first.stats.applied == 27 and second.stats.applied == 0
    assert second.lease.epoch is None
    await eventually(lambda: _equal(_offsets(engines[1]), second.stats.positions),
                     "the follower knows where the writer is")
    assert second.started.is_set()

    # fenced: the lease taken over behind the writer's back; its next batch writes nothing
    async with engines[0].begin() as conn:
        await conn.execute(update(leases_table).values(
            epoch=leases_table.c.epoch + 1, holder="elsewhere:1", until_s=time.time() + 600))
    await more(log, topic, 6, 2)
    await asyncio.sleep(1.5)
    assert await counts(engines[0], topic) == want and first.lease.epoch is None
    async with engines[0].begin() as conn:  # the other holder gone: its lease ran out
        await conn.execute(update(leases_table).values(until_s=0.0))
    want |= {"s-6": 4, "s-7": 4}
    await eventually(lambda: _equal(counts(engines[0], topic), want), "taken over, applied")

    # the writer stops: the other takes over at once and applies what comes next
    writer, follower = (first, second) if first.lease.epoch is not None else (second, first)
    writer.stop()
    await asyncio.wait_for(tasks[[first, second].index(writer)], 30)
    await more(log, topic, 8, 2)
    want |= {"s-8": 4, "s-9": 4}
    await eventually(lambda: _equal(counts(engines[0], topic), want), "the follower writes")
    assert follower.lease.epoch is not None
    assert first.stats.applied + second.stats.applied == 43  # each event once
    follower.stop()
    await asyncio.gather(*tasks)
    for engine in engines:
        await engine.dispose()


async def test_two_replicas_catching_up_on_updates_count_each_event_once(
        log: EventLog, db_url: str) -> None:
    """The silent case: later events of streams both replicas' store already holds, so no
    key collides. Without the lease both applied them (57 applications of 40 events, 9 of
    20 streams counted twice, no error); with it one applies all, the other follows."""
    topic = await seed(log, streams=20, per_stream=2)
    engines = [create_async_engine(db_url) for _ in range(2)]
    ends = await log.end_offsets(topic)
    await ProjectionRunner(log, engines[0], Tally(topic)).run(
        until={(topic, p): e for p, e in ends.items()})
    store, event = EventStore(log), noted_on(topic)
    for s in range(20):
        await store.append(f"s-{s}", [event(text="又来"), event(text="再来")], expected_version=2,
                           context=Context.new("operator:op-1", "/t"), now=NOW)
    until = {(topic, p): e for p, e in (await log.end_offsets(topic)).items()}
    runners = [ProjectionRunner(log, e, Tally(topic), batch_size=5) for e in engines]
    await asyncio.gather(*(r.run(until=until) for r in runners))
    assert await counts(engines[1], topic) == {f"s-{i}": 4 for i in range(20)}
    assert sorted(r.stats.applied for r in runners) == [0, 40]
    for engine in engines:
        await engine.dispose()


async def test_a_batch_longer_than_the_lease_is_not_cut_off(log: EventLog,
                                                           db_url: str) -> None:
    """The writer's first batch outlasts its lease (a second) while the follower tries to
    take over: the batch still commits (the renewal at its start holds the lease's row,
    or SQLite's write lock, to COMMIT), and every event counts once."""
    topic = await seed(log, streams=6, per_stream=5)
    engines = [create_async_engine(db_url) for _ in range(2)]
    slow = {"batches": 0}

    async def outlast_the_lease() -> None:
        slow["batches"] += 1
        if slow["batches"] == 1:
            await asyncio.sleep(2.5)  # the follower tries at 2 s

    first = ProjectionRunner(log, engines[0], Tally(topic), batch_size=10,
                             before_commit=outlast_the_lease)
    second = ProjectionRunner(log, engines[1], Tally(topic), batch_size=10)
    for runner in (first, second):
        assert runner.lease is not None
        runner.lease.seconds = 1.0
    until = {(topic, p): e for p, e in (await log.end_offsets(topic)).items()}
    # taken last thing before both run: the writer renews it at its first batch, within the
    # second (asking Kafka for the ends in between once let the lease run out first, and the
    # follower took it before the writer began, on a loaded machine)
    assert await first.lead()
    await asyncio.gather(first.run(until=until), second.run(until=until))
    assert await counts(engines[0], topic) == {f"s-{i}": 5 for i in range(6)}
    assert first.stats.applied >= 10 and first.stats.applied + second.stats.applied == 30
    for engine in engines:
        await engine.dispose()


async def test_a_killed_writer_is_replaced_by_a_follower_process(log: EventLog,
                                                                 db_url: str) -> None:
    """Two replica processes on one database; SIGKILL the one that writes, mid-stream; the
    other takes over (its host's dead process: at once) and every event counts once."""
    topic = await seed(log, streams=4, per_stream=5)
    env = {**os.environ, **settings_env(log)}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.projection.tally", "replica",
                               topic, db_url], env=env) for _ in range(2)]
    engine = create_async_engine(db_url)
    try:
        want = {f"s-{i}": 5 for i in range(4)}
        await eventually(lambda: _equal(counts(engine, topic), want), "the first lot")
        holder = await _holder(engine)
        victim = next(p for p in procs if holder.endswith(f":{p.pid}"))
        feeding = asyncio.create_task(more(log, topic, 4, 30, per_stream=3))
        await asyncio.sleep(0.2)  # mid-stream, as far as it got
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        await feeding
        await more(log, topic, 34, 5, per_stream=3)  # after it died
        want |= {f"s-{i}": 3 for i in range(4, 39)}
        await eventually(lambda: _equal(counts(engine, topic), want), "the survivor writes")
        assert (await _holder(engine)).endswith(f":{next(p for p in procs if p is not victim).pid}")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        await engine.dispose()


async def _holder(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(select(leases_table.c.holder))).scalar_one())


async def _offsets(engine: AsyncEngine) -> dict[tuple[str, int], int]:
    return await stored_offsets(engine, "tally@v1")


async def _true(value: bool) -> bool:
    return value


async def _equal(found: object, want: object) -> bool:
    return await found == want  # type: ignore[misc]
