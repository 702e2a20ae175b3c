"""Reports: a monthly report made over a year of fact rows, beside the figures it reads, and
a report asked for over HTTP's path (the order written), beside a bare insert.

Ours (made): `ReportMaker.make` of the monthly report for 2026-11: its content read
(`content.gather`: the KPIs, trend, channels, categories, districts, units, calls), five
charts drawn, the HTML printed to PDF, CSV and XLSX written, the entry filed. Raw: the same
`content.gather` alone, the SQL a report cannot do without. Informative: what the drawing
and printing add to the reading.

Ours (asked for): `ReportMaker.request`, what `POST /v1/analytics/reports` awaits before its
202 (the filters checked, the order written), while the orders asked for before are drawn in
a worker thread as in the service (cancelled at the end). Raw: one INSERT of a small row and
its commit through the same engine, at the same moments. Target: p95 under 50 ms, so that no
client waits on the drawing.
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Column, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.analytics import synthetic
from bench.common import Result, Timer, percentile, say, temp_dir
from hotline.database import open_database
from hotline.projection import ReadSide
from hotline.runtime import utc_now
from reference.bundle import load_reference
from reference.calendar import WorkingCalendar
from services.analytics import cube
from services.analytics.calls import metadata as call_metadata
from services.analytics.contacts import metadata as contact_metadata
from services.analytics.projections import kpi_cube, kpi_pending, metadata, ticket_facts
from services.analytics.reports import content
from services.analytics.reports.jobs import Order, ReportMaker
from services.analytics.reports.periods import parse, previous
from services.analytics.reports.store import ReportStore

ROWS = 100_000  # a year of a small city's tickets, about 8,000 in the month reported
MADE, ASKED = 3, 30
NOW = datetime(2026, 12, 1, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
_RAW = Table("bench_rows", MetaData(), Column("id", String(40), primary_key=True),
             Column("body", JSON, nullable=False))


async def facts(engine: AsyncEngine, rows: int) -> None:
    """`rows` synthetic fact rows over 2026 and their cube, as after a replay."""
    calendar = WorkingCalendar.load("cn")
    async with engine.begin() as conn:
        for meta in (metadata, contact_metadata, call_metadata):
            await conn.run_sync(meta.create_all)
        await conn.run_sync(_RAW.metadata.create_all)
        data = synthetic(rows, calendar, random.Random(7), 0)
        for i in range(0, rows, 5000):
            await conn.execute(ticket_facts.insert(), data[i:i + 5000])
        await cube.mark(conn, kpi_pending, data)
    async with engine.begin() as conn:
        while await cube.recount(conn, kpi_cube, kpi_pending, ticket_facts, calendar.zone):
            pass


async def run(rows: int = ROWS) -> list[Result]:
    with temp_dir("reports") as tmp:
        engine = open_database(f"sqlite+aiosqlite:///{Path(tmp) / 'analytics.db'}")
        await facts(engine, rows)
        side = ReadSide()
        side.db = engine
        ref = load_reference()
        maker = ReportMaker(side, ref.data, ref.calendar.zone,
                            ReportStore(engine), utc_now)
        order = Order("monthly", parse("monthly", "2026-11"), {})
        await maker.make(order, NOW)  # warm: fonts, matplotlib's caches
        made, read = [], []
        for _ in range(MADE):
            with Timer() as reading:
                await side.read(content.gather, order.kind, order.span, previous(order.span),
                                order.filters, ref.data, ref.calendar.zone, NOW)
            with Timer() as making:
                await maker.make(order, NOW)
            read.append(reading.seconds)
            made.append(making.seconds)
        asked, inserted = [], []
        for n in range(ASKED):
            t0 = time.perf_counter()
            await maker.request(order, NOW, "analyst:bench", f"bench{n}")
            asked.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            async with engine.begin() as conn:
                await conn.execute(_RAW.insert().values(id=f"raw{n}", body={"kind": "monthly"}))
            inserted.append((time.perf_counter() - t0) * 1000)
        await maker.close()  # the orders' making, started by each request: not measured
        await engine.dispose()
    best_made, best_read = min(made), min(read)
    say(f"  monthly report over {rows:,} fact rows: made in {best_made:.2f} s, its content "
        f"read in {best_read:.3f} s; asked for: p95 {percentile(asked, 95):.1f} ms "
        f"(a bare insert {percentile(inserted, 95):.1f} ms)")
    return [
        Result(f"monthly report made, {rows:,} fact rows (best of {MADE})", best_made * 1000,
               best_read * 1000, "ms", None, "content read, 5 charts, HTML, PDF, CSV, XLSX, filed; "
               "raw: its content read alone (content.gather); informative"),
        Result("report asked for (the order written, before the 202): p95",
               percentile(asked, 95), percentile(inserted, 95), "ms", None,
               "ReportMaker.request; raw: one INSERT and commit of a row", max_ours=50)]


if __name__ == "__main__":
    import asyncio

    for r in asyncio.run(run()):
        print(f"{r.name}: {r.ours:,.3f} {r.unit} (raw {r.raw or 0:,.3f}) {r.verdict}")
