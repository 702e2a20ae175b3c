"""Listing work orders: `services.dispatch.queries.list_tickets` over a million tickets.

The work-order tables (services/dispatch/projections.py, with their indexes) are
filled with synthetic but realistic rows — ten districts, the directory's member
units and categories, seven ticket types, two years of registrations, statuses
skewed to closed by age — by bulk insert (sqlite3 executemany; asyncpg COPY),
then ANALYZEd. Ours: the latency of `list_tickets` (page rows and the capped
count) for random filters as the consoles send them, each a first page and the
page after its cursor. Raw: the same engine answering a hand-written query on a
single index (`WHERE status=? AND district_code=? ORDER BY registered_at DESC
LIMIT 20`) through its plain driver. Target: ours p95 < 50 ms on SQLite and on
PostgreSQL.

    python -m bench ticket-list                    # 1,000,000 rows
    python -m bench.ticket_list --rows 100000      # smaller, alone
    HOTLINE_BENCH_TICKET_ROWS=100000 python -m bench ticket-list
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.common import SENTENCES, Result, Timer, percentile, say, temp_dir
from contracts.vocabulary import CloseReason, TicketStatus, TicketType
from reference.documents import load_reference_data
from services.dispatch import queries as q
from services.dispatch.projections import assignments, metadata, tickets

ROWS_ENV = "HOTLINE_BENCH_TICKET_ROWS"
ROWS = 1_000_000
CALLS = 200  # list_tickets calls: 100 filters, a first page and a cursor page each
PAGE = 20
TARGET_MS = 50.0
CHUNK = 50_000
PG_ADMIN = os.environ.get("HOTLINE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
SPAN = timedelta(days=730)
S = TicketStatus
T = TypeVar("T")
NO_EXTENSION = {"ext_request_id": None, "ext_unit": None, "ext_due_at": None, "ext_reason": None,
                "ext_requested_at": None}  # no extension waiting for a supervisor

TYPES: list[tuple[TicketType, float]] = [
    (TicketType.REQUEST, 35), (TicketType.COMPLAINT, 25), (TicketType.CONSULTATION, 20),
    (TicketType.REPORT, 8), (TicketType.SUGGESTION, 6), (TicketType.EMERGENCY_REPAIR, 4),
    (TicketType.PRAISE, 2)]
# status by age: new tickets are still with the hotline or a unit, old ones closed
BY_AGE: list[tuple[timedelta, list[tuple[S, float]]]] = [
    (timedelta(days=2), [(S.REGISTERED, 10), (S.DISPATCHED, 30), (S.ACKNOWLEDGED, 40),
                         (S.RETURNED, 3), (S.REPLIED, 10), (S.CLOSED, 7)]),
    (timedelta(days=30), [(S.DISPATCHED, 5), (S.ACKNOWLEDGED, 25), (S.RETURNED, 1),
                          (S.REPLIED, 20), (S.CLOSED, 47), (S.MERGED, 2)]),
    (SPAN, [(S.ACKNOWLEDGED, 0.5), (S.REPLIED, 0.5), (S.CLOSED, 96.5), (S.MERGED, 2.5)]),
]
CLOSES: list[tuple[CloseReason, float]] = [
    (CloseReason.SOLVED, 60), (CloseReason.SURVEY_UNANSWERED, 12),
    (CloseReason.UNSATISFIED_AFTER_REDO, 3), (CloseReason.CITIZEN_UNREACHABLE, 3),
    (CloseReason.DUPLICATE, 1), (CloseReason.WITHDRAWN, 1)]
HELD = frozenset({S.DISPATCHED, S.ACKNOWLEDGED, S.REPLIED})  # a unit holds it: active rows


def weighted(rng: random.Random, pairs: Sequence[tuple[T, float]]) -> T:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


@dataclass
class World:
    """The reference data the rows are drawn from."""

    districts: list[str]
    categories: list[tuple[str, list[str]]]  # level 1 with its level-2 codes
    units: dict[tuple[str, str], list[str]]  # (category, district) -> units handling it
    all_units: list[str]


def world() -> World:
    ref = load_reference_data()
    districts = [d.code for d in ref.directory.districts()]
    cats = [(n.code, [c.code for c in ref.taxonomy.children(n.code)])
            for n in ref.taxonomy.level1()][:15]
    units = {(c, d): [u.id for u in ref.directory.handling(c, d)] for c, _ in cats
             for d in districts}
    return World(districts, cats, units, [u.id for u in ref.directory.units()])


def _sqlite_time(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME text, so the queries compare like with like."""
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def generate(n: int, w: World, seed: int = 12345) -> Iterator[tuple[list[dict[str, Any]],
                                                                  list[dict[str, Any]]]]:
    """Rows of wo_tickets and wo_assignments, CHUNK tickets at a time."""
    rng = random.Random(seed)
    cat_weights = [1 / (i + 1) ** 0.8 for i in range(len(w.categories))]  # a few dominate
    district_weights = [3, 3, 2.5, 2, 2, 1.5, 1.2, 1, 0.8, 0.6][:len(w.districts)]
    per_day: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    units: list[dict[str, Any]] = []
    for _ in range(n):
        age = SPAN * rng.random() ** 1.3  # more recent tickets than old ones: volume grows
        registered = NOW - age
        status = weighted(rng, next(dist for limit, dist in BY_AGE if age <= limit))
        ttype = weighted(rng, TYPES)
        cat1, children = rng.choices(w.categories, cat_weights)[0]
        district = rng.choices(w.districts, district_weights)[0]
        day = f"{registered.astimezone(UTC):%Y%m%d}"
        per_day[day] = per_day.get(day, 0) + 1
        ticket_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        close_reason = None
        answered = status is S.CLOSED and ttype is TicketType.CONSULTATION and rng.random() < 0.6
        if status is S.CLOSED:
            close_reason = CloseReason.ANSWERED if answered else weighted(rng, CLOSES)
        dispatched = status not in (S.REGISTERED,) and not answered and not (
            status is S.MERGED and rng.random() < 0.5)
        round_ = 1 + (rng.random() < 0.05) if dispatched else 0
        candidates = w.units.get((cat1, district)) or w.all_units
        lead = rng.choice(candidates) if dispatched else None
        assisting = rng.choice(w.all_units) if dispatched and rng.random() < 0.15 else None
        if assisting == lead:
            assisting = None
        dispatched_at = registered + timedelta(minutes=rng.randint(5, 240)) if dispatched \
            else None
        days = 1 if ttype is TicketType.CONSULTATION else 5
        due = (registered + timedelta(days=days)).replace(hour=10, minute=0, second=0,
                                                          microsecond=0) if dispatched else None
        acked = dispatched_at + timedelta(hours=rng.randint(1, 20)) if dispatched_at and \
            status is not S.DISPATCHED else None
        replied = (acked + timedelta(days=rng.uniform(0.5, 6))) if acked and status in (
            S.REPLIED, S.CLOSED) else None
        closed = (replied or dispatched_at or registered) + timedelta(
            days=rng.uniform(0.1, 3)) if status is S.CLOSED else None
        if status is S.RETURNED:
            lead, assisting, due = None, None, None
        held = status in HELD
        updated = max(t for t in (registered, dispatched_at, acked, replied, closed) if t)
        late = held and status is not S.REPLIED and due is not None and due < NOW
        rows.append({
            "ticket_id": ticket_id, "ticket_number": f"12345-{day}-{per_day[day]:06d}",
            "status": status.value, "ticket_type": ttype.value, "category1": cat1,
            "category2": rng.choice(children) if children and rng.random() < 0.8 else None,
            "urgency": "urgent" if rng.random() < 0.06 else "normal",
            "summary": rng.choice(SENTENCES), "district_code": district,
            "channel": rng.choice(["phone", "phone", "wechat", "web", "app", "sms"]),
            "citizen_ref": f"ref-{rng.randrange(300_000):08x}" if rng.random() < 0.7 else None,
            "contact_count": 1 + (rng.random() < 0.08), "lead_unit": lead,
            "urgent": rng.random() < 0.05, "dispatch_round": round_, "registered_at": registered,
            "registered_by": f"op-{rng.randrange(300):03d}", "dispatched_at": dispatched_at,
            "acknowledged_at": acked, "replied_at": replied, "closed_at": closed,
            "close_reason": close_reason.value if close_reason else None,
            "ack_due_at": dispatched_at + timedelta(hours=8) if dispatched_at else None,
            "reply_due_at": due,
            "warning_level": rng.choice(["blue", "orange", "red"]) if late else None,
            "merged_into": str(uuid.UUID(int=rng.getrandbits(128), version=4))
            if status is S.MERGED else None,
            "updated_at": updated, "version": rng.randint(2, 14),
            "redone": rng.random() < 0.02, **NO_EXTENSION,
        })
        if dispatched and dispatched_at:
            if round_ == 2:  # the first unit returned it
                units.append(_unit(ticket_id, rng.choice(w.all_units), 1, "lead", False,
                                   dispatched_at - timedelta(minutes=1)))
            if lead:
                units.append(_unit(ticket_id, lead, round_, "lead", held, dispatched_at,
                                   replied is not None))
            if assisting:
                units.append(_unit(ticket_id, assisting, round_, "assisting", held,
                                   dispatched_at, rng.random() < 0.7))
        if len(rows) == CHUNK:
            yield rows, _dedupe(units)
            rows, units = [], []
    if rows:
        yield rows, _dedupe(units)


def _unit(ticket_id: str, unit_id: str, round_: int, role: str, active: bool, at: datetime,
          replied: bool = False) -> dict[str, Any]:
    return {"ticket_id": ticket_id, "unit_id": unit_id, "round": round_, "role": role,
            "active": active, "assigned_at": at, "replied": replied}


def _dedupe(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per primary key (a round-1 unit drawn again as round-2 lead is fine)."""
    return list({(u["ticket_id"], u["unit_id"], u["round"]): u for u in units}.values())


TIME_NAMES = {c.name for t in (tickets, assignments) for c in t.columns
              if c.type.python_type is datetime}


# -- loading ---------------------------------------------------------------------------------


def load_sqlite(path: str, n: int, w: World) -> float:
    """Create the schema, bulk-insert n tickets with the indexes dropped, index, ANALYZE."""
    sync = create_engine(f"sqlite:///{path}")
    with sync.begin() as conn:
        metadata.create_all(conn)
        for table in (tickets, assignments):
            for index in table.indexes:
                index.drop(conn)
    sync.dispose()
    with Timer() as t:
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")  # a benchmark fill: nothing to lose
        for rows, units in generate(n, w):
            for table, batch in ((tickets, rows), (assignments, units)):
                cols = [c.name for c in table.columns]
                sql = (f"INSERT INTO {table.name} ({', '.join(cols)}) "
                       f"VALUES ({', '.join('?' * len(cols))})")
                db.executemany(sql, [tuple(_sqlite_time(r[c]) if c in TIME_NAMES else r[c]
                                           for c in cols) for r in batch])
            db.commit()
        db.close()
        sync = create_engine(f"sqlite:///{path}")
        with sync.begin() as conn:
            for table in (tickets, assignments):
                for index in table.indexes:
                    index.create(conn)
            conn.execute(text("ANALYZE"))
        sync.dispose()
    return t.seconds


async def load_postgres(url: str, n: int, w: World) -> float:
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://"))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        for table in (tickets, assignments):
            for index in table.indexes:
                await conn.run_sync(index.drop)
    await engine.dispose()
    with Timer() as t:
        pg = await asyncpg.connect(url)
        try:
            for rows, units in generate(n, w):
                for table, batch in ((tickets, rows), (assignments, units)):
                    cols = [c.name for c in table.columns]
                    await pg.copy_records_to_table(
                        table.name, columns=cols,
                        records=[tuple(r[c] for c in cols) for r in batch])
            for table in (tickets, assignments):
                for index in table.indexes:
                    listed = ", ".join(c.name for c in index.columns)
                    await pg.execute(f"CREATE INDEX {index.name} ON {table.name} ({listed})")
            await pg.execute("VACUUM ANALYZE")  # what autovacuum would have done by now
        finally:
            await pg.close()
    return t.seconds


# -- the calls -------------------------------------------------------------------------------


def filters(rng: random.Random, w: World, units: list[str]) -> Iterator[
        tuple[str, q.TicketFilter, q.Sort]]:
    """Filters as the consoles send them, round robin over the kinds."""
    open_statuses = [S.REGISTERED, S.DISPATCHED, S.ACKNOWLEDGED, S.RETURNED, S.REPLIED]
    while True:
        district = rng.choice(w.districts)
        status = rng.choice([*open_statuses, S.CLOSED])
        yield ("status+district", q.TicketFilter(statuses=(status,), district_code=district),
               rng.choice([q.Sort.REGISTERED_DESC, q.Sort.REGISTERED_ASC]))
        yield ("unit inbox", q.TicketFilter(statuses=q.INBOX_STATUSES, unit=rng.choice(units)),
               q.Sort.DUE_ASC)
        cat = rng.choice(w.categories)[0]
        yield ("category+type", q.TicketFilter(category1=cat, ticket_type=weighted(rng, TYPES)),
               q.Sort.REGISTERED_DESC)
        yield ("overdue", q.TicketFilter(overdue=True, district_code=rng.choice(
            [None, district])), q.Sort.DUE_ASC)
        start = NOW + timedelta(days=rng.randint(-20, 5))
        yield ("due range", q.TicketFilter(due_from=start, due_to=start + timedelta(days=7),
                                           statuses=tuple(HELD) if rng.random() < 0.5 else ()),
               q.Sort.DUE_ASC)
        yield ("lead unit history", q.TicketFilter(lead_unit=rng.choice(units),
                                                   statuses=(S.CLOSED,)),
               q.Sort.REGISTERED_DESC)


@dataclass
class Timings:
    """Milliseconds per call, overall and per filter kind."""

    all: list[float]
    kinds: dict[str, list[float]]


async def ours(engine: AsyncEngine, w: World, units: list[str]) -> Timings:
    rng = random.Random(7)
    out = Timings([], {})
    async with engine.connect() as conn:
        for _ in range(5):  # warm the pool and the statement caches, not timed
            await q.list_tickets(conn, q.TicketFilter(), now=NOW)
        source = filters(rng, w, units)
        while len(out.all) < CALLS:
            kind, flt, sort = next(source)
            cursor = None
            for _ in range(2):  # the first page, then the page after its cursor
                t0 = time.perf_counter()
                page = await q.list_tickets(conn, flt, sort, PAGE, cursor, NOW)
                ms = (time.perf_counter() - t0) * 1000
                out.all.append(ms)
                out.kinds.setdefault(kind, []).append(ms)
                cursor = page.next_cursor
                if cursor is None:
                    break
    return out


RAW_SQL = ("SELECT * FROM " + tickets.name + " WHERE status = {0} AND district_code = {1} "
           "ORDER BY registered_at DESC LIMIT 20")


async def raw_calls(call: Callable[[str, str], Awaitable[object]], w: World) -> list[float]:
    rng = random.Random(7)
    statuses = [s.value for s in S if s is not S.MERGED]
    for _ in range(5):
        await call(statuses[0], w.districts[0])
    out = []
    for _ in range(CALLS):
        status, district = rng.choice(statuses), rng.choice(w.districts)
        t0 = time.perf_counter()
        await call(status, district)
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def raw_sqlite(path: str, w: World) -> list[float]:
    db = sqlite3.connect(path)
    sql = RAW_SQL.format("?", "?")

    async def call(status: str, district: str) -> object:
        return db.execute(sql, (status, district)).fetchall()

    try:
        return await raw_calls(call, w)
    finally:
        db.close()


async def raw_postgres(url: str, w: World) -> list[float]:
    pg = await asyncpg.connect(url)
    stmt = await pg.prepare(RAW_SQL.format("$1", "$2"))

    async def call(status: str, district: str) -> object:
        return await stmt.fetch(status, district)

    try:
        return await raw_calls(call, w)
    finally:
        await pg.close()


def report(engine_name: str, n: int, mine: Timings, raw: list[float]) -> list[Result]:
    p50, p95 = percentile(mine.all, 50), percentile(mine.all, 95)
    r50, r95 = percentile(raw, 50), percentile(raw, 95)
    say(f"  {engine_name}: list p95 {p95:.1f} ms, raw indexed select p95 {r95:.1f} ms, ratio "
        f"{p95 / r95:.1f}x (p50 {p50:.1f} ms vs {r50:.1f} ms; {len(mine.all)} calls)")
    for kind, values in mine.kinds.items():
        say(f"    {kind:<18} p50 {percentile(values, 50):6.1f} ms  p95 "
            f"{percentile(values, 95):6.1f} ms  max {max(values):6.1f} ms  ({len(values)})")
    note = (f"{n:,} tickets; {len(mine.all)} list_tickets calls (page of {PAGE} + capped "
            "count), first and cursor pages; raw: SELECT by status+district ORDER BY "
            "registered_at DESC LIMIT 20 on the plain driver")
    return [Result(f"ticket list p95, {engine_name}", p95, r95, "ms", note=note,
                   max_ours=TARGET_MS),
            Result(f"ticket list p50, {engine_name}", p50, r50, "ms")]


async def sqlite_side(n: int, w: World, units: list[str]) -> list[Result]:
    with temp_dir("ticket-list") as tmp:
        path = str(tmp / "workorders.db")
        seconds = load_sqlite(path, n, w)
        size = os.path.getsize(path) / 2**20
        say(f"  sqlite: {n:,} tickets loaded, indexed and analysed in {seconds:.0f} s "
            f"({size:,.0f} MiB)")
        raw = await raw_sqlite(path, w)
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        try:
            mine = await ours(engine, w, units)
        finally:
            await engine.dispose()
        return report("sqlite", n, mine, raw)


async def postgres_side(n: int, w: World, units: list[str]) -> list[Result]:
    name = f"hotline_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        seconds = await load_postgres(url, n, w)
        say(f"  postgresql: {n:,} tickets loaded, indexed and analysed in {seconds:.0f} s")
        raw = await raw_postgres(url, w)
        engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://"))
        try:
            mine = await ours(engine, w, units)
        finally:
            await engine.dispose()
        return report("postgresql", n, mine, raw)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def run(rows: int | None = None) -> list[Result]:
    n = rows or int(os.environ.get(ROWS_ENV, ROWS))
    w = world()
    units = sorted({u for us in w.units.values() for u in us})  # units that get tickets
    say(f"  {n:,} tickets, {len(w.districts)} districts, {len(w.categories)} categories, "
        f"{len(units)} units")
    return await sqlite_side(n, w, units) + await postgres_side(n, w, units)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.ticket_list", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help=f"tickets (default {ROWS:,})")
    args = parser.parse_args()
    from bench.__main__ import table

    results = asyncio.run(run(args.rows))
    print(table([("ticket-list", r) for r in results]))
