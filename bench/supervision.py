"""Supervision: the ticker's tick over a million open tickets, and escalation through the desk.

Tick. The board (`sv_tickets`, services/supervision/projections.py, with its index on
`next_check_at`) is filled by bulk insert with 1,000,000 acknowledged request tickets
whose watches are realistic: a few hundred templates, each a ticket lived through the
real decider and folded by `evolve_watch` — registered, dispatched with the policy's
clocks (reply in 5 working days, `WorkingCalendar` "cn"), acknowledged, then every
escalation fired at its threshold as the ticker would have fired it — with `next_check_at`
from `escalation.next_check`. The ticks run every 10 minutes across a Monday afternoon's
close of business (blue thresholds, then 17:30's orange, red and order steps), the rows
spread so that 0.1 % to 0.5 % of them are due. Ours: per tick, `due_rows` iterated to
the end exactly as `Ticker.tick` does (keyset pages of 1,000 over the index, through the
SQLAlchemy engine): the tickets whose colour may change, nothing sent; reported again with
`plan` on every row found (what to fire), for information. Raw: the same engine answering
one hand-written `SELECT ticket_id, watch ... WHERE next_check_at <= ? ORDER BY
next_check_at LIMIT n` for the same number of rows through its plain driver. Target: the
find's p95 < 200 ms, on SQLite and on PostgreSQL.

Escalation. Tickets registered, dispatched with the policy's clocks and acknowledged
through `TicketDesk.execute`; each one's watch folded from its events (untimed), then,
after its red threshold, ours: 64 concurrent tasks planning each ticket (`plan`) and
sending its 6 commands (blue warning; orange warning and yellow card; red warning, red
card and supervision order) through a fresh `TicketDesk` — cold cache, every ticket
loaded once, as after a restart: from its snapshot, as the platform keeps them by default
(`BENCH_TICKET_SNAPSHOTS=off`: from the log) — with the ticker's command ids and actor.
Raw: the very records ours wrote, read back and appended again to a fresh topic with
`EventLog.append_stream`, one call per command, 64-way (bench/decider.py's `raw`).
Target: ours >= 50 % of raw on the embedded log, >= 30 % on Kafka (the performance issue).

    python -m bench supervision                       # 1,000,000 board rows
    python -m bench.supervision --rows 50000          # smaller, alone
    BENCH_SUPERVISION_ROWS=50000 python -m bench supervision
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.broker import on_both_logs
from bench.common import (
    SENTENCES,
    SERVICE_TARGETS,
    Result,
    Timer,
    bench_platform,
    cold_loads,
    percentile,
    platform_database,
    rate,
    say,
    temp_dir,
    unique,
)
from bench.decider import CONCURRENCY, REPS, raw, registration
from bench.ticket_list import PG_ADMIN, World, _sqlite_time, world
from contracts import commands as c
from contracts.base import Category
from contracts.events import from_envelope
from contracts.ids import new_id
from contracts.vocabulary import TicketType, Urgency
from hotline.builds import ensure_schema
from hotline.database import open_database
from hotline.log.port import EventLog, TopicSpec
from hotline.projection import aware
from hotline.runtime import Platform, tune_gc
from reference.calendar import WorkingCalendar
from reference.policy import DeadlinePolicy, load_policy
from services.supervision.escalation import next_check, plan, red_at
from services.supervision.projections import SupervisionBoard, board
from services.supervision.ticker import ACTOR, SOURCE, Ticker, escalation_command_id
from services.supervision.watch import SEVERITY, Clock, Watch, evolve_watch, from_json, to_json
from ticketing import domain
from ticketing.client import LocalTickets
from ticketing.domain import Ticket
from ticketing.handler import stream_of
from ticketing.timer import due_rows

ROWS_ENV = "BENCH_SUPERVISION_ROWS"
ROWS = 1_000_000
CHUNK = 20_000
ZONE = ZoneInfo("Asia/Shanghai")
# Monday afternoon: blue thresholds from 16:06, every clock due today turns at 17:30
TICK0 = datetime(2026, 11, 23, 15, 30, tzinfo=ZONE)
TICKS = 30
STEP = timedelta(minutes=10)
LAST_TICK = TICK0 + STEP * (TICKS - 1)
DUE_FIRST, DUE_LAST = 0.001, 0.005  # share of the rows due at the first and the last tick
BACKGROUND_TEMPLATES = 300  # watches of tickets with nothing due before the last tick
DUE_TEMPLATES = 200  # watches of tickets due at one of the ticks
MAX_AGE = timedelta(days=25)  # dispatched up to this long before the ticks
MAX_LAG = timedelta(days=4)  # a due row is as the ticker left it up to this long ago (Thursday)
TICK_TARGET_MS = 200.0

EMBEDDED_TICKETS = 1_000
KAFKA_TICKETS = 300
OPENED = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # registration of the escalation tickets
UNIT = "d01-urban-squad"


# -- the watches -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """One ticket as the board holds it; a row is a template under its own ticket id."""

    values: dict[str, Any]  # every column of sv_tickets but the ticket id and number
    next_check: datetime | None  # UTC
    day: str  # registration day, for the ticket number


class Life:
    """A ticket lived through the real decider, its Watch folded as the board folds it."""

    def __init__(self, ticket_id: str, policy: DeadlinePolicy, calendar: WorkingCalendar
                 ) -> None:
        self.ticket_id = ticket_id
        self.policy, self.calendar = policy, calendar
        self.ticket: Ticket | None = None
        self.watch: Watch | None = None
        self.version = 0
        self.updated: datetime | None = None

    def apply(self, command: c.TicketCommand, at: datetime) -> None:
        at = at.astimezone(UTC)  # envelope times are UTC
        for event in domain.decide(self.ticket, command, at):
            self.ticket = domain.evolve(self.ticket, event, at)
            self.watch = evolve_watch(self.watch, event, at, self.ticket_id)
            self.version += 1
            self.updated = at

    def advance(self, until: datetime) -> None:
        """Fire every escalation due up to `until`, each at its threshold, as the ticker would."""
        assert self.watch is not None
        while (due := next_check(self.watch, self.policy, self.calendar)) is not None \
                and due <= until:
            commands = plan(self.watch, due, self.policy, self.calendar)
            if not commands:
                raise AssertionError(f"next_check says {due}, plan lists nothing: "
                                     f"{to_json(self.watch)}")
            for command in commands:
                self.apply(command, due)


def live(n: int, rng: random.Random, w: World, dispatched: datetime, cutoff: datetime,
         policy: DeadlinePolicy, calendar: WorkingCalendar) -> Template:
    """A request ticket dispatched at `dispatched`, acknowledged, escalated up to `cutoff`."""
    cat1, children = rng.choice(w.categories)
    district = rng.choice(w.districts)
    unit = rng.choice(w.units.get((cat1, district)) or w.all_units)
    life = Life(f"template-{n}", policy, calendar)
    registered = dispatched - timedelta(minutes=rng.randint(3, 90))
    life.apply(c.RegisterTicket(
        ticket_id=life.ticket_id, ticket_number=f"12345-{registered:%Y%m%d}-{n:06d}",
        contact_ids=(f"contact-{n}",), ticket_type=TicketType.REQUEST,
        category=Category(level1=cat1, level2=rng.choice(children) if children else None),
        summary=rng.choice(SENTENCES), district_code=district, registered_by="op-017"),
        registered)
    deadlines = policy.at_dispatch(TicketType.REQUEST, Urgency.NORMAL, False, dispatched,
                                   calendar)
    life.apply(c.DispatchTicket(ticket_id=life.ticket_id, lead_unit=unit, note="请尽快处理",
                                deadlines=deadlines), dispatched)
    acked = dispatched + timedelta(minutes=rng.randint(10, 90))
    life.advance(acked)
    life.apply(c.AcknowledgeTicket(ticket_id=life.ticket_id, unit_id=unit), acked)
    life.advance(cutoff)
    watch = life.watch
    assert watch is not None and life.updated is not None
    colour = watch.colour()
    due = aware(next_check(watch, policy, calendar))
    return Template({
        "ticket_type": watch.ticket_type.value, "category1": cat1, "district_code": district,
        "status": watch.status.value, "open": watch.open, "lead_unit": watch.lead_unit,
        "colour": colour.value if colour else None,
        "severity": SEVERITY[colour] if colour else 0,
        "due_at": aware(min((k.due_at for k in watch.running()), default=None)),
        "next_check_at": due, "registered_at": aware(registered), "updated_at": life.updated,
        "version": life.version, "watch": json.dumps(to_json(watch), separators=(",", ":")),
    }, due, f"{registered:%Y%m%d}")


def ticks() -> list[datetime]:
    return [TICK0 + STEP * k for k in range(TICKS)]


def templates(w: World, policy: DeadlinePolicy, calendar: WorkingCalendar, seed: int = 12345
              ) -> tuple[list[Template], list[Template]]:
    """(background, due): nothing due before the last tick / due at one of the ticks."""
    rng = random.Random(seed)

    def age() -> timedelta:
        return timedelta(hours=2) + MAX_AGE * rng.random() ** 1.5  # more young than old

    background = [live(n, rng, w, TICK0 - age(), LAST_TICK, policy, calendar)
                  for n in range(BACKGROUND_TEMPLATES)]
    due: list[Template] = []
    for n in range(BACKGROUND_TEMPLATES, BACKGROUND_TEMPLATES + 50 * DUE_TEMPLATES):
        cutoff = TICK0 - MAX_LAG * rng.random()
        t = live(n, rng, w, cutoff - age(), cutoff, policy, calendar)
        if t.next_check is not None and t.next_check <= LAST_TICK:
            due.append(t)
            if len(due) == DUE_TEMPLATES:
                break
    return background, due


def counts(n: int, background: list[Template], due: list[Template]) -> list[int]:
    """Rows per template (background first, then due): at tick k, up to
    n * (DUE_FIRST + (DUE_LAST - DUE_FIRST) * k / (TICKS - 1)) rows are due — a tick with
    no threshold of its own carries its share to the next that has one, the last to 0.5 %."""
    at = ticks()
    target = [n * (DUE_FIRST + (DUE_LAST - DUE_FIRST) * k / (TICKS - 1)) for k in range(TICKS)]
    slots: list[list[int]] = [[] for _ in at]
    for j, t in enumerate(due):
        assert t.next_check is not None
        slots[next(k for k, now in enumerate(at) if t.next_check <= now)].append(j)
    out = [0] * len(due)
    given = 0
    last = max(k for k, slot in enumerate(slots) if slot)
    for k, slot in enumerate(slots[:last + 1]):
        want = round(target[k] if k < last else target[-1]) - given  # empty slots carry on
        if not slot or want <= 0:
            continue
        share, extra = divmod(want, len(slot))
        for i, j in enumerate(slot):
            out[j] = share + (i < extra)
        given += want
    rest = n - sum(out)
    share, extra = divmod(rest, len(background))
    return [share + (i < extra) for i in range(len(background))] + out


COLUMNS = [col.name for col in board.columns]
TIMES = {col.name for col in board.columns if col.type.python_type is datetime}
assert COLUMNS[:2] == ["ticket_id", "ticket_number"]


def generate(n: int, background: list[Template], due: list[Template], sqlite: bool,
             seed: int = 7) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of sv_tickets in random order, CHUNK at a time (SQLite: times as SQLAlchemy
    stores them, booleans as integers)."""
    rng = random.Random(seed)
    every = background + due
    tails = [tuple((_sqlite_time(t.values[col]) if col in TIMES else
                    int(t.values[col]) if col == "open" else t.values[col]) if sqlite
                   else t.values[col] for col in COLUMNS[2:]) for t in every]
    order = [j for j, k in enumerate(counts(n, background, due)) for _ in range(k)]
    rng.shuffle(order)
    for start in range(0, n, CHUNK):
        yield [(str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                f"12345-{every[j].day}-{(start + i) % 1_000_000:06d}", *tails[j])
               for i, j in enumerate(order[start:start + CHUNK])]


# -- loading ---------------------------------------------------------------------------------


async def create_board(engine: AsyncEngine) -> None:
    """The projection's schema as the runtime creates it, secondary indexes dropped for the fill."""
    await ensure_schema(engine, SupervisionBoard())
    async with engine.begin() as conn:
        for index in board.indexes:
            await conn.run_sync(index.drop)


def load_sqlite(path: str, n: int, background: list[Template], due: list[Template]) -> float:
    sync = create_engine(f"sqlite:///{path}")
    with Timer() as t:
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")  # a benchmark fill: nothing to lose
        db.execute("PRAGMA cache_size=-500000")  # the primary key is a random uuid
        sql = (f"INSERT INTO {board.name} ({', '.join(COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(COLUMNS))})")
        for done, rows in enumerate(generate(n, background, due, sqlite=True), 1):
            with db:
                db.executemany(sql, rows)
            if done % 10 == 0:
                say(f"    sqlite: {done * CHUNK:,} rows")
        db.close()
        with sync.begin() as conn:
            for index in board.indexes:
                index.create(conn)
            conn.execute(text("ANALYZE"))
    sync.dispose()
    return t.seconds


async def load_postgres(url: str, n: int, background: list[Template], due: list[Template]
                        ) -> float:
    with Timer() as t:
        pg = await asyncpg.connect(url)
        try:
            for done, rows in enumerate(generate(n, background, due, sqlite=False), 1):
                async with pg.transaction():
                    await pg.copy_records_to_table(board.name, columns=COLUMNS, records=rows)
                if done % 10 == 0:
                    say(f"    postgresql: {done * CHUNK:,} rows")
            for index in board.indexes:
                listed = ", ".join(col.name for col in index.columns)
                await pg.execute(f"CREATE INDEX {index.name} ON {board.name} ({listed})")
            await pg.execute("VACUUM ANALYZE")  # what autovacuum would have done by now
        finally:
            await pg.close()
    return t.seconds


# -- the ticks -------------------------------------------------------------------------------


@dataclass
class Tick:
    """One tick: ours (find + plan) and the raw read of as many rows, in milliseconds."""

    now: datetime
    found: int
    commands: int
    find_ms: float
    ours_ms: float
    raw_ms: float = 0.0


async def tick(ticker: Ticker, now: datetime) -> Tick:
    """What the ticker does before sending: every due row, and the plan on each."""
    t0 = time.perf_counter()
    found = [row async for row in due_rows(ticker.db, board, now, board.c.watch)]
    t1 = time.perf_counter()
    commands = sum(len(plan(from_json(row.ticket_id, json.loads(row.watch)), now,
                            ticker.policy, ticker.calendar)) for row in found)
    t2 = time.perf_counter()
    return Tick(now, len(found), commands, (t1 - t0) * 1000, (t2 - t0) * 1000)


RAW_SQL = ("SELECT ticket_id, watch FROM " + board.name + " WHERE next_check_at <= {0} "
           "ORDER BY next_check_at LIMIT {1}")


class RawSqlite:
    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)
        self.sql = RAW_SQL.format("?", "?")

    async def read(self, now: datetime, n: int) -> list[Any]:
        return self.db.execute(self.sql, (_sqlite_time(now), n)).fetchall()

    async def close(self) -> None:
        self.db.close()


class RawPostgres:
    def __init__(self, pg: asyncpg.Connection, stmt: Any) -> None:
        self.pg, self.stmt = pg, stmt

    @classmethod
    async def open(cls, url: str) -> RawPostgres:
        pg = await asyncpg.connect(url)
        return cls(pg, await pg.prepare(RAW_SQL.format("$1", "$2")))

    async def read(self, now: datetime, n: int) -> list[Any]:
        return cast(list[Any], await self.stmt.fetch(now, n))

    async def close(self) -> None:
        await self.pg.close()


async def run_ticks(engine: AsyncEngine, reader: RawSqlite | RawPostgres) -> list[Tick]:
    policy = load_policy()
    calendar = WorkingCalendar.load(policy.jurisdiction)
    with temp_dir("supervision-store") as tmp:
        from hotline.log.embedded import EmbeddedEventLog

        log = EmbeddedEventLog(str(tmp / "log.db"))
        await log.start()
        try:
            platform = bench_platform(log, engine)
            ticker = Ticker(platform, policy, calendar)
            for now in (TICK0, LAST_TICK):  # warm the pool and the caches, not timed
                warm = await tick(ticker, now)
                await reader.read(now, warm.found)
            out = []
            for now in ticks():
                result = await tick(ticker, now)
                t0 = time.perf_counter()
                rows = await reader.read(now, result.found)
                result.raw_ms = (time.perf_counter() - t0) * 1000
                assert len(rows) == result.found, (len(rows), result.found)
                out.append(result)
            return out
        finally:
            await log.close()


def report(engine_name: str, n: int, done: list[Tick]) -> list[Result]:
    ours = [t.ours_ms for t in done]
    raws = [t.raw_ms for t in done]
    p95, r95 = percentile(ours, 95), percentile(raws, 95)
    found = [t.found for t in done]
    say(f"  {engine_name}: tick (find + plan) p95 {p95:.1f} ms, raw select p95 {r95:.1f} ms, "
        f"ratio {p95 / r95:.1f}x (p50 {percentile(ours, 50):.1f} ms vs "
        f"{percentile(raws, 50):.1f} ms; find alone p95 "
        f"{percentile([t.find_ms for t in done], 95):.1f} ms)")
    say(f"    {len(done)} ticks {done[0].now:%H:%M}-{done[-1].now:%H:%M} local: "
        f"{min(found):,}-{max(found):,} rows due ({min(found) / n:.2%}-{max(found) / n:.2%}), "
        f"{sum(t.commands for t in done) / len(done):,.0f} commands planned per tick")
    for t in done[:: max(1, len(done) // 6)]:
        say(f"    {t.now:%H:%M}  {t.found:6,} due  {t.commands:6,} commands  find "
            f"{t.find_ms:6.1f} ms  find+plan {t.ours_ms:6.1f} ms  raw {t.raw_ms:6.1f} ms")
    note = (f"{n:,} open tickets; {len(done)} ticks 10 min apart, {min(found):,}-{max(found):,} "
            "due; ours: due_rows (keyset pages); raw: SELECT ticket_id, watch WHERE "
            "next_check_at <= now ORDER BY next_check_at LIMIT found")
    find95 = percentile([t.find_ms for t in done], 95)
    return [Result(f"supervision tick find p95, {engine_name}", find95, r95, "ms",
                   note="the target's figure: the due rows found and read. " + note,
                   max_ours=TICK_TARGET_MS),
            Result(f"supervision tick find+plan p95, {engine_name}", p95, r95, "ms",
                   note="informative: due_rows, then plan on every row found")]


async def sqlite_side(n: int, background: list[Template], due: list[Template]) -> list[Result]:
    with temp_dir("supervision") as tmp:
        path = str(tmp / "supervision.db")
        engine = open_database(f"sqlite+aiosqlite:///{path}")
        try:
            await create_board(engine)
            await engine.dispose()
            seconds = load_sqlite(path, n, background, due)
            size = os.path.getsize(path) / 2**20
            say(f"  sqlite: {n:,} board rows loaded, indexed and analysed in {seconds:.0f} s "
                f"({size:,.0f} MiB)")
            reader = RawSqlite(path)
            try:
                done = await run_ticks(engine, reader)
            finally:
                await reader.close()
        finally:
            await engine.dispose()
        return report("sqlite", n, done)


async def postgres_side(n: int, background: list[Template], due: list[Template]
                        ) -> list[Result]:
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        say(f"  postgresql: {PG_ADMIN} unreachable ({exc!r}); skipped")
        return []
    name = f"hotline_bench_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        engine = open_database(url.replace("postgresql://", "postgresql+asyncpg://"))
        try:
            await create_board(engine)
            seconds = await load_postgres(url, n, background, due)
            say(f"  postgresql: {n:,} board rows loaded, indexed and analysed in {seconds:.0f} s")
            reader = await RawPostgres.open(url)
            try:
                done = await run_ticks(engine, reader)
            finally:
                await reader.close()
        finally:
            await engine.dispose()
        return report("postgresql", n, done)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


# -- escalation through the desk -------------------------------------------------------------


@dataclass(frozen=True)
class Clocks:
    """The escalation tickets' times: dispatched with the policy's clocks, escalated red."""

    policy: DeadlinePolicy
    calendar: WorkingCalendar
    dispatched: datetime
    deadlines: tuple[Any, ...]
    escalate_at: datetime

    @classmethod
    def make(cls) -> Clocks:
        policy = load_policy()
        calendar = WorkingCalendar.load(policy.jurisdiction)
        dispatched = OPENED + timedelta(minutes=5)
        ack, reply = policy.at_dispatch(TicketType.REQUEST, Urgency.NORMAL, False, dispatched,
                                        calendar)
        clock = Clock(reply.kind, UNIT, dispatched, reply.due_at)
        return cls(policy, calendar, dispatched, (ack, reply),
                   red_at(clock, policy, calendar) + timedelta(hours=1))


def opening(ticket_id: str, n: int, k: Clocks) -> list[tuple[c.TicketCommand, datetime]]:
    return [
        (registration(ticket_id, n), OPENED),
        (c.DispatchTicket(ticket_id=ticket_id, lead_unit=UNIT, note="请尽快处理",
                          deadlines=k.deadlines), k.dispatched),
        (c.AcknowledgeTicket(ticket_id=ticket_id, unit_id=UNIT),
         k.dispatched + timedelta(minutes=40)),
    ]


async def opened(platform: Platform, tickets: int, k: Clocks) -> list[tuple[Watch, int]]:
    """Tickets registered, dispatched and acknowledged; each one's watch folded from its
    events, with its stream version before the escalations (snapshots written when the
    platform keeps them)."""
    tickets_here = LocalTickets.of(platform)
    desk = tickets_here.desk
    ids = [new_id() for _ in range(tickets)]
    it = iter(enumerate(ids))

    async def worker() -> None:
        for n, ticket_id in it:
            for command, at in opening(ticket_id, n, k):
                await desk.execute(command, actor="operator:op-017",
                                   command_id=new_id(), now=at)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    out = []
    for ticket_id in ids:
        watch: Watch | None = None
        history = await desk.history(ticket_id)
        for stored in history:
            watch = evolve_watch(watch, from_envelope(stored.envelope), stored.envelope.time,
                                 ticket_id)
        assert watch is not None
        out.append((watch, len(history)))
    await tickets_here.close()
    return out


async def escalate(platform: Platform, watches: Sequence[Watch], k: Clocks
                   ) -> tuple[float, float, list[int]]:
    """(commands/s, events/s, events per command): plan and send through a cold desk."""
    tickets_here = LocalTickets.of(platform)
    desk = tickets_here.desk
    it = iter(enumerate(watches))
    sizes: list[int] = []
    totals = [0, 0]

    async def worker() -> None:
        for n, watch in it:
            for command in plan(watch, k.escalate_at, k.policy, k.calendar):
                outcome = await desk.execute(command, actor=ACTOR,
                                             command_id=escalation_command_id(command),
                                             now=k.escalate_at, source=SOURCE)
                assert not outcome.duplicate
                totals[0] += 1
                totals[1] += len(outcome.events)
                if n == 0:
                    sizes.append(len(outcome.events))

    with Timer() as t:
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        await tickets_here.close()  # its last snapshots written, within the time
    assert totals[0] == 6 * len(watches), f"{totals[0]} commands for {len(watches)} tickets"
    return rate(totals[0], t.seconds), rate(totals[1], t.seconds), sizes


async def measure(log: EventLog, engine: str, tickets: int) -> list[Result]:
    from contracts.topics import CATALOGUE, TICKETS

    k = Clocks.make()
    spec = replace(CATALOGUE[TICKETS].spec, replication_factor=1)
    raw_topic = unique("bench.raw-escalations")  # one for all reps, warmed like ours by rep 1
    await log.create_topics([spec, TopicSpec(raw_topic, spec.partitions, -1, 1)])
    await log.claim(TICKETS)
    await log.claim(raw_topic)
    ours_runs: list[tuple[float, float]] = []
    raw_runs: list[float] = []
    async with platform_database(f"supervision-{engine}") as db:
        def platform() -> Platform:  # a fresh one: a fresh desk, the same database
            return bench_platform(log, db)

        source_of_state = cold_loads(platform())
        for rep in range(REPS):  # interleaved, best of each: the noise hits both sides
            folded = await opened(platform(), tickets, k)  # not timed
            cmd_rate, ev_rate, sizes = await escalate(platform(), [w for w, _ in folded], k)
            source = [(await log.read_stream(TICKETS, stream_of(w.ticket_id), after=before))
                      for w, before in folded]
            raw_runs.append(await raw(log, [(recs, sizes) for recs in source], raw_topic))
            ours_runs.append((ev_rate, cmd_rate))
            say(f"  {engine} rep {rep + 1}: escalation {cmd_rate:,.0f} commands/s = "
                f"{ev_rate:,.0f} events/s; raw append_stream of the same events "
                f"{raw_runs[-1]:,.0f} events/s")
    ev_rate, cmd_rate = max(ours_runs)
    return [Result(f"supervision escalation {engine}, events/s", ev_rate, max(raw_runs),
                   "events/s", SERVICE_TARGETS[engine],
                   f"{cmd_rate:,.0f} commands/s; {tickets} tickets x 6 escalations (plan + "
                   f"TicketDesk.execute, cold desk: each ticket loaded once, from "
                   f"{source_of_state}), {CONCURRENCY} at once; "
                   "raw: append_stream of the same records")]


async def escalation() -> list[Result]:
    return await on_both_logs("supervision", lambda log, engine: measure(
        log, engine, EMBEDDED_TICKETS if engine == "embedded" else KAFKA_TICKETS))


async def run(rows: int | None = None) -> list[Result]:
    n = rows or int(os.environ.get(ROWS_ENV, ROWS))
    policy = load_policy()
    calendar = WorkingCalendar.load(policy.jurisdiction)
    with Timer() as t:
        background, due = templates(world(), policy, calendar)
    say(f"  {n:,} board rows from {len(background)} + {len(due)} watch templates "
        f"(built in {t.seconds:.1f} s); ticks {TICK0:%Y-%m-%d %H:%M}-{LAST_TICK:%H:%M} "
        f"{TICK0.tzname()}")
    results = await sqlite_side(n, background, due)
    results += await postgres_side(n, background, due)
    return results + await escalation()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.supervision", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help=f"board rows (default {ROWS:,})")
    args = parser.parse_args()
    from bench.__main__ import table
    from bench.broker import stop_broker

    tune_gc()  # as `python -m bench` does before each benchmark
    try:
        results = asyncio.run(run(args.rows))
    finally:
        stop_broker()
    print(table([("supervision", r) for r in results]))
