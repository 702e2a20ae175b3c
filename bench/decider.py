"""Commands through the ticket decider beside the raw append of the same events.

Ours: 64 concurrent tasks, each driving whole tickets through `TicketDesk.execute` on the
platform's desk (load or cache, decide, envelope + hash chain, append with the expected
version; the tickets' snapshots written behind, as the platform keeps them by default):
register, dispatch (+ deadlines), acknowledge, progress note, reply — 5 commands,
6 events per ticket.
Raw: the very records ours wrote, read back and appended again to a fresh topic
with `EventLog.append_stream`, one call per command (same grouping, same expected
versions, same 64-way concurrency): the engine's price for those events without
the decider, the envelopes and the hash chain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bench.broker import on_both_logs
from bench.common import Result, Timer, bench_platform, platform_database, rate, say, unique
from contracts import commands as c
from contracts.base import Category, Deadline
from contracts.ids import new_id
from contracts.vocabulary import DeadlineKind, TicketType
from hotline.log.port import EventLog, OutgoingRecord, Record, TopicSpec
from hotline.runtime import Platform
from ticketing.client import LocalTickets

CONCURRENCY = 64
REPS = 3
EMBEDDED_TICKETS = 1_000
KAFKA_TICKETS = 400
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
UNIT = "d01-urban-squad"


def registration(ticket_id: str, n: int) -> c.RegisterTicket:
    """The n-th bench ticket's registration (every ticket benchmark starts with it)."""
    return c.RegisterTicket(
        ticket_id=ticket_id, ticket_number=f"12345-20261123-{n:06d}",
        contact_ids=(f"contact-{n}",), ticket_type=TicketType.REQUEST,
        category=Category(level1="urban-management", level2="street-lights"),
        summary="幸福路18号小区门口路灯不亮, 市民要求尽快维修", district_code="990101",
        registered_by="op-017")


def lifecycle(ticket_id: str, n: int) -> list[c.TicketCommand]:
    due = Deadline(kind=DeadlineKind.REPLY, due_at=NOW + timedelta(days=5), policy_id="bench")
    return [
        registration(ticket_id, n),
        c.DispatchTicket(ticket_id=ticket_id, lead_unit=UNIT, note="请尽快处理",
                         deadlines=(due,)),
        c.AcknowledgeTicket(ticket_id=ticket_id, unit_id=UNIT),
        c.NoteProgress(ticket_id=ticket_id, unit_id=UNIT, note="已到现场查看", public=True),
        c.ReplyTicket(ticket_id=ticket_id, unit_id=UNIT, text="已更换灯泡, 恢复照明", solved=True),
    ]


async def ours(platform: Platform, tickets: int) -> tuple[float, float, list[int]]:
    """(commands/s, events/s, events per command) through the platform's desk, its snapshots
    written behind (the last of them within the time)."""
    tickets_here = LocalTickets.of(platform)
    desk = tickets_here.desk
    ids = [new_id() for _ in range(tickets)]
    it = iter(enumerate(ids))
    sizes: list[int] = []
    events = 0

    async def worker() -> None:
        nonlocal events
        for n, ticket_id in it:
            for command in lifecycle(ticket_id, n):
                outcome = await desk.execute(command, actor="operator:op-017",
                                             command_id=new_id(), now=NOW)
                events += len(outcome.events)  # counted, not assumed
                if n == 0:
                    sizes.append(len(outcome.events))

    with Timer() as t:
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        await tickets_here.close()
    return rate(tickets * 5, t.seconds), rate(events, t.seconds), sizes


async def raw(log: EventLog, source: Sequence[tuple[list[Record], Sequence[int]]], topic: str
              ) -> float:
    """events/s appending the same records with append_stream, one call per command: each
    stream's records with the sizes of the commands that wrote them."""
    streams = [([OutgoingRecord(r.key, r.value, r.headers) for r in recs], sizes)
               for recs, sizes in source]
    it = iter(streams)

    async def worker() -> None:
        for records, sizes in it:
            version = 0
            for size in sizes:
                await log.append_stream(topic, records[0].key, records[version:version + size],
                                        expected_version=version)
                version += size

    with Timer() as t:
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return rate(sum(len(records) for records, _ in streams), t.seconds)


async def measure(log: EventLog, engine: str, tickets: int) -> list[Result]:
    from contracts.topics import CATALOGUE, TICKETS

    spec = replace(CATALOGUE[TICKETS].spec, replication_factor=1)
    raw_topic = unique("bench.raw-tickets")  # one for all reps, warmed like ours by rep 1
    await log.create_topics([spec, TopicSpec(raw_topic, spec.partitions, -1, 1)])
    await log.claim(TICKETS)
    await log.claim(raw_topic)
    ours_runs: list[tuple[float, float]] = []
    raw_runs: list[float] = []
    seen: set[str] = set()
    async with platform_database(f"decider-{engine}") as db:
        for rep in range(REPS):  # interleaved, best of each: the noise hits both sides
            cmd_rate, ev_rate, sizes = await ours(bench_platform(log, db), tickets)
            keys = {r.key for p, end in (await log.end_offsets(TICKETS)).items()
                    for r in await log.read(TICKETS, p, 0, end)} - seen
            seen |= keys
            source = [await log.read_stream(TICKETS, k) for k in sorted(keys)]
            raw_runs.append(await raw(log, [(recs, sizes) for recs in source], raw_topic))
            ours_runs.append((ev_rate, cmd_rate))
            say(f"  {engine} rep {rep + 1}: decider {cmd_rate:,.0f} commands/s = "
                f"{ev_rate:,.0f} events/s; raw append_stream of the same events "
                f"{raw_runs[-1]:,.0f} events/s")
    ev_rate, cmd_rate = max(ours_runs)
    return [Result(f"decider {engine}, events/s via commands", ev_rate, max(raw_runs),
                   "events/s", 0.5, f"{cmd_rate:,.0f} commands/s; {tickets} tickets x 5 "
                   f"commands, {CONCURRENCY} at once; raw: append_stream of the same records")]


async def run() -> list[Result]:
    return await on_both_logs("decider", lambda log, engine: measure(
        log, engine, EMBEDDED_TICKETS if engine == "embedded" else KAFKA_TICKETS))
