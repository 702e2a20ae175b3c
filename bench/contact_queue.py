"""The operators' contact queue page over a million contacts, beside its raw query.

1,000,000 contacts in `intake_queue` (SQLite, the embedded default), all but the last
few thousand already registered, merged or dismissed, as a day's backlog over a year of
history looks. Ours: `queue_queries.waiting` (the route's read: the page, the count,
the claim state). Raw: the same two statements through sqlite3 directly. Target: the
page's p95 under 50 ms (issue 13).

    BENCH_QUEUE_CONTACTS=200000 python -m bench contact-queue
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import Result, percentile, say, temp_dir
from services.intake.queue_board import metadata, queue
from services.intake.queue_queries import waiting

CONTACTS = 1_000_000
WAITING = 3_000  # still in the queue
PAGES = 300
CONTACTS_ENV = "BENCH_QUEUE_CONTACTS"
CHANNELS = ("phone", "wechat", "web", "app", "sms", "email")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def load(path: str, n: int) -> None:
    """n contacts, the newest WAITING still waiting, a few of those held."""
    rng = random.Random(12345)
    db = sqlite3.connect(path)
    cols = [c.name for c in queue.columns]
    sql = f"INSERT INTO {queue.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    start = NOW - timedelta(days=365)
    step = timedelta(days=365) / n
    batch = []
    for i in range(n):
        at = start + step * i
        open_ = i >= n - WAITING
        held = open_ and rng.random() < 0.1
        row = {"contact_id": f"c-{i:08d}", "channel": rng.choice(CHANNELS),
               "received_at": _time(at), "district_code": f"9901{rng.randint(1, 10):02d}",
               "holder": "operator:wang.li" if held else None,
               "held_until": _time(NOW + timedelta(minutes=5)) if held else None,
               "first_claimed_by": None if open_ else "operator:wang.li",
               "first_claimed_at": None if open_ else _time(at + timedelta(seconds=20)),
               "outcome": None if open_ else rng.choice(("registered", "merged", "dismissed")),
               "ticket_id": None, "outcome_by": None if open_ else "operator:wang.li",
               "outcome_at": None if open_ else _time(at + timedelta(minutes=3)),
               "version": 2}
        batch.append(tuple(row[c] for c in cols))
        if len(batch) == 50_000:
            db.executemany(sql, batch)
            batch.clear()
    db.executemany(sql, batch)
    db.commit()
    db.execute("ANALYZE")
    db.close()


def raw_pages(path: str) -> list[float]:
    db = sqlite3.connect(path)
    page = (f"SELECT * FROM {queue.name} WHERE outcome IS NULL AND received_at IS NOT NULL "
            "ORDER BY received_at, contact_id LIMIT 50")
    count = (f"SELECT count(*) FROM {queue.name} WHERE outcome IS NULL "
             "AND received_at IS NOT NULL")
    out = []
    for _ in range(PAGES):
        t0 = time.perf_counter()
        rows = db.execute(page).fetchall()
        db.execute(count).fetchone()
        out.append((time.perf_counter() - t0) * 1000)
        assert len(rows) == 50
    db.close()
    return out


async def our_pages(path: str) -> list[float]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    out = []
    try:
        async with engine.connect() as conn:
            for _ in range(PAGES):
                t0 = time.perf_counter()
                page, total = await waiting(conn, NOW, None, 50)
                out.append((time.perf_counter() - t0) * 1000)
                assert len(page) == 50 and total == WAITING
    finally:
        await engine.dispose()
    return out


async def run(contacts: int | None = None) -> list[Result]:
    n = contacts or int(os.environ.get(CONTACTS_ENV, CONTACTS))
    with temp_dir("contact-queue") as tmp:
        path = str(tmp / "queue.db")
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        await engine.dispose()
        t0 = time.perf_counter()
        load(path, n)
        say(f"  {n:,} contacts ({WAITING:,} waiting) loaded in {time.perf_counter() - t0:.0f} s")
        raw = raw_pages(path)
        ours = await our_pages(path)
    p95, raw95 = percentile(ours, 95), percentile(raw, 95)
    say(f"  queue page p95 {p95:.2f} ms (p50 {percentile(ours, 50):.2f}); raw sqlite3 "
        f"p95 {raw95:.2f} ms")
    return [Result("contact queue page p95 (sqlite)", p95, raw95, "ms",
                   note=f"{n:,} contacts, {WAITING:,} waiting, 50 a page, with the count",
                   max_ours=50.0)]
