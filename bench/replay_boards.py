"""Replay into the real read models, beside a raw read of the same records.

The log: whole tickets written through the ticket decider (register, dispatch with its
deadline, acknowledge, reply, open the survey: `bench.callback.lifecycle`), so the mix of
event types and sizes is the one the boards see. Ours: `hotline.runner.rebuild` of
each real projection in turn, the work orders (dispatch), the supervision board and the
callback board, each into its own SQLite file, every record of its topics read, decoded,
folded and written. Raw: the same topic read by hand (sqlite3 SELECT on the embedded
log, a plain AIOKafkaConsumer on Kafka), as in `bench.replay`; both sides timed from
the first batch in hand to the last record, so the consumer's start (about 0.15 s on
Kafka: a third of a run this size) is counted on neither; the overall rate is in the note.

A line more rebuilds the three boards at once, as a process that runs them all catches up
(informative): each record is validated once for all three (contracts.decoding remembers
decoded records by their bytes), so the rate in all is theirs together.

On the embedded log a line more reads the records with each one validated as the boards
validate it and nothing else (informative): the ceiling a replay that validates every
record could reach if folding and writing cost nothing.

The last lines extrapolate: how long one year of a large city (about 100 million ticket
events, see the performance issue) would take to replay into each board at the rate just
measured.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.broker import get_broker, on_both_logs
from bench.callback import _SURVEYS, CONCURRENCY, lifecycle
from bench.common import Result, Timer, bench_platform, rate, say, temp_dir
from bench.replay import Clock, ClockedLog, raw_kafka, raw_sqlite
from contracts.decoding import decode_event, forget_decoded
from contracts.ids import name_id, new_id
from contracts.topics import CATALOGUE, TICKETS
from hotline.database import open_database
from hotline.eventstore import EventStore
from hotline.log.embedded import EmbeddedEventLog
from hotline.log.namespaced import NamespacedLog
from hotline.log.port import EventLog
from hotline.projection import Projection
from hotline.runner import rebuild
from hotline.runtime import Platform
from reference.bundle import reference_of
from services.callback.bootstrap import callback_policy_of
from services.callback.projections import CallbackBoard
from services.dispatch.projections import WorkOrders
from services.supervision.projections import SupervisionBoard
from ticketing.handler import TicketDesk

TICKETS_N = {"embedded": 4_000, "kafka": 1_500}
YEAR_EVENTS = 100_000_000  # a Beijing-sized year: ~20 M contacts and their tickets' events


def boards(platform: Platform) -> list[Projection]:
    """The real read models over hotline.tickets, built as their composition roots do."""
    ref = reference_of(platform)
    return [WorkOrders(), SupervisionBoard(ref.policy, ref.calendar),
            CallbackBoard(callback_policy_of(platform))]


async def fill(log: EventLog, tickets: int) -> int:
    """Whole tickets through a desk, 64 at once; returns how many events they wrote."""
    desk = TicketDesk(EventStore(log))
    it = iter(range(tickets))
    written = 0

    async def worker() -> None:
        nonlocal written
        for n in it:
            ticket_id = new_id()
            survey_id = name_id(_SURVEYS, ticket_id)
            for command, at in lifecycle(ticket_id, survey_id, n):
                outcome = await desk.execute(command, actor="operator:op-017",
                                             command_id=new_id(), now=at)
                written += len(outcome.events)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return written


async def replayed(log: EventLog, projection: Projection, total: int, db_dir: Any) -> Clock:
    """Rebuild `projection` from offset zero into a fresh SQLite file, clocked as the raw
    read is: from the first batch in hand to the end (the start, about 0.15 s on Kafka,
    is reported beside)."""
    engine = open_database(f"sqlite+aiosqlite:///{db_dir / (projection.name + '.db')}")
    try:
        clock = Clock()
        stats = await rebuild(ClockedLog(log, clock), engine, projection)  # type: ignore[arg-type]
        clock.done()
    finally:
        await engine.dispose()
    if sum(stats.positions.values()) != total:
        raise AssertionError(f"{projection.name} read {sum(stats.positions.values())} of {total}")
    return clock


async def raw_read(log: EventLog, total: int) -> float:
    """events/s reading hotline.tickets by hand, from its first record to its last."""
    if isinstance(log, EmbeddedEventLog):
        return raw_sqlite(log.path, TICKETS, total).steady(total)
    assert isinstance(log, NamespacedLog)
    broker = get_broker()
    clock = await raw_kafka(broker.bootstrap, log.down(TICKETS), total, broker.options())
    return clock.steady(total)


async def measure(log: EventLog, engine: str) -> list[Result]:
    await log.create_topics([CATALOGUE[TICKETS].spec])
    platform = bench_platform(log)
    written = await fill(log, TICKETS_N[engine])
    total = sum((await log.end_offsets(TICKETS)).values())
    say(f"  {engine}: {TICKETS_N[engine]:,} tickets, {written:,} events on {total:,} records")
    results: list[Result] = []
    with temp_dir(f"replay-boards-{engine}") as tmp:
        for projection in boards(platform):
            raw = await raw_read(log, total)
            forget_decoded()  # one board alone: nothing decoded by the one before
            clock = await replayed(log, projection, total, tmp)
            ours = clock.steady(total)
            say(f"    {projection.name}: {ours:,.0f} events/s (overall "
                f"{clock.overall(total):,.0f}/s); raw read {raw:,.0f}/s")
            results.append(Result(
                f"replay {engine} into {projection.name}", ours, raw, "events/s", 0.3,
                f"{total:,} ticket events ({TICKETS_N[engine]:,} whole tickets) rebuilt into "
                f"SQLite, from the first batch in hand as the raw side (overall, start "
                f"included: {clock.overall(total):,.0f}/s); raw: the same topic read by hand"))
        results.append(await together(log, engine, platform, total, tmp))
    if isinstance(log, EmbeddedEventLog):
        results.append(decoded_alone(log, total))
    return results + [year_line(r) for r in results if r.target_ratio is not None]


def decoded_alone(log: EmbeddedEventLog, total: int) -> Result:
    """The raw read with every record validated as a board validates it, nothing else
    (informative): how near 30 % of the raw read a replay could come if folding and writing
    cost nothing."""
    raw = raw_sqlite(log.path, TICKETS, total).steady(total)
    forget_decoded()
    decoded = raw_sqlite(log.path, TICKETS, total, parse=decode_event).steady(total)
    return Result("raw read + typed decode alone, embedded", decoded, raw, "events/s", None,
                  f"sqlite3 SELECT of the {total:,} records, each validated into its envelope "
                  f"and event (contracts.decoding.decode_event, one pass): "
                  f"{1e6 / decoded - 1e6 / raw:.1f} µs a record; raw: the same SELECT alone")


async def together(log: EventLog, engine: str, platform: Platform, total: int,
                   db_dir: Any) -> Result:
    """The boards rebuilt at once, as a process that runs them all catches up: each record
    validated once for all of them (contracts.decoding remembers it by its bytes)."""
    raw = await raw_read(log, total)
    forget_decoded()
    dbs = [open_database(f"sqlite+aiosqlite:///{db_dir / (p.name + '-together.db')}")
           for p in boards(platform)]
    try:
        with Timer() as t:
            await asyncio.gather(*(rebuild(log, db, projection) for db, projection
                                   in zip(dbs, boards(platform), strict=True)))
    finally:
        for db in dbs:
            await db.dispose()
    n = len(dbs)
    ours = rate(n * total, t.seconds)
    say(f"    {n} boards at once: {ours:,.0f} events/s in all ({t.seconds:.2f} s); raw read "
        f"{raw:,.0f}/s")
    return Result(f"replay {engine} into the {n} boards at once", ours, raw, "events/s", None,
                  f"{n} x {total:,} events, start included, each record validated once for "
                  f"all {n}; raw: the topic read by hand once")


def year_line(result: Result) -> Result:
    """The measured rate stretched over one year of a large city (informative)."""
    seconds = YEAR_EVENTS / result.ours
    return Result(f"{result.name}: one year of a large city", seconds, None, "s", None,
                  f"{YEAR_EVENTS:,} events at {result.ours:,.0f}/s = {seconds / 3600:.1f} h")


async def run() -> list[Result]:
    return await on_both_logs("replay-boards", measure)



