"""The report register on SQLite and PostgreSQL: a report over empty fact tables (the
queries on both databases), its entry read back with its times, parameters and figures,
the listing, and two replicas' schedules racing for the same periods keeping one each; the
book of orders (claims, leases, failures) on both."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import create_async_engine

from hotline.projection import ReadSide
from hotline.runtime import utc_now
from reference.bundle import load_reference
from services.analytics.calls import metadata as call_metadata
from services.analytics.contacts import metadata as contact_metadata
from services.analytics.projections import metadata as fact_metadata
from services.analytics.reports.jobs import Order, ReportMaker, ReportScheduler
from services.analytics.reports.orders import LEASE, OrderBook, Ordered
from services.analytics.reports.periods import parse
from services.analytics.reports.store import ReportStore, Stored

BJ = ZoneInfo("Asia/Shanghai")
REF = load_reference()


def maker_on(db: ReadSide) -> ReportMaker:
    return ReportMaker(db, REF.data, REF.calendar.zone, ReportStore(db.db), utc_now)


class Drawing(ReportMaker):
    """The maker, counting the reports it draws."""

    drawn = 0

    async def _draw(self, *args: Any, **kwargs: Any) -> Stored | None:
        self.drawn += 1
        return await super()._draw(*args, **kwargs)


async def test_the_register_on_both_databases(db_url: str, tmp_path: Path) -> None:
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            for meta in (fact_metadata, contact_metadata, call_metadata):
                await conn.run_sync(meta.create_all)
        side = ReadSide()
        side.db = engine
        maker = maker_on(side)
        now = datetime(2026, 12, 1, 9, tzinfo=BJ)
        entry = await maker.make(Order("monthly", parse("monthly", "2026-11"),
                                       {"district": "990101"}), now, by="analyst:someone")
        assert entry is not None
        got = await maker.store.get(entry.report_id)
        assert got == entry
        assert got.since == datetime(2026, 11, 1, tzinfo=BJ) and got.created_at == now
        assert got.params == {"district": "990101"} and got.title.endswith("(2026年11月)")
        assert got.figures["tickets"]["value"] == 0
        assert got.figures["direct_answer_rate"]["value"] is None  # no base: no rate
        pdf = await maker.store.file(entry.report_id, "report.pdf")
        assert pdf is not None and pdf[:5] == b"%PDF-"
        assert await maker.store.file(entry.report_id, "report.docx") is None
        # a report made before the files moved into the database: read from its folder
        (tmp_path / "reports" / "old-1").mkdir(parents=True)
        (tmp_path / "reports" / "old-1" / "report.pdf").write_bytes(b"%PDF-1.7 old")
        legacy = ReportStore(engine, legacy=tmp_path / "reports")
        assert await legacy.file("old-1", "report.pdf") == b"%PDF-1.7 old"
        assert await legacy.file(entry.report_id, "report.pdf") == pdf

        # two replicas tick at once: every scheduled period is drawn once and made once
        makers = [Drawing(side, REF.data, REF.calendar.zone, ReportStore(engine), utc_now)
                  for _ in range(2)]
        replicas = [ReportScheduler(m, lambda: now, kinds=("daily", "weekly")) for m in makers]
        made = await asyncio.gather(*(r.tick(now) for r in replicas))
        assert sorted(e.schedule_key or "" for batch in made for e in batch) == [
            "daily:2026-11-30", "weekly:2026-W48"]
        assert sum(m.drawn for m in makers) == 2  # the other replica passed each by
        items, total = await maker.store.listing(None, None, 10, 0)
        assert total == 3 and {i.kind for i in items} == {"monthly", "daily", "weekly"}
        items, total = await maker.store.listing("daily", "2026-11-30", 10, 0)
        assert total == 1 and items[0].origin == "scheduled"
    finally:
        await engine.dispose()


async def test_the_order_book_on_both_databases(db_url: str) -> None:
    """An order is claimed by one maker for its lease, free again when the lease runs out
    (what a dead maker leaves), kept with its reason when it fails, and gone from the book
    when its report is filed."""
    engine = create_async_engine(db_url)
    try:
        store = ReportStore(engine)
        book = OrderBook(store)
        now = datetime(2026, 12, 1, 9, tzinfo=BJ)
        for n in range(2):
            await book.place(Ordered(f"r{n}", "monthly", "2026-11", "月报", {"district": "990101"},
                                     "analyst:someone", now + timedelta(minutes=n)))
        assert await book.orphans(now) == ["r0", "r1"]  # never claimed
        claimed = await book.claim("r0", now)
        assert claimed is not None and claimed.params == {"district": "990101"}
        assert claimed.requested_at == now
        assert await book.claim("r0", now + timedelta(seconds=30)) is None  # leased
        assert await book.orphans(now + timedelta(seconds=30)) == ["r1"]
        later = now + LEASE + timedelta(seconds=1)
        assert await book.orphans(later) == ["r0", "r1"]  # its maker died
        await book.renew("r0", later)
        assert await book.claim("r0", later) is None  # renewed: alive after all
        await book.fail("r1", "报告生成出错 (OSError)")
        failed = await book.get("r1")
        assert failed is not None and failed.status == "failed" and failed.error
        assert await book.claim("r1", later) is None and await book.orphans(later) == []
        assert [o.report_id for o in await book.listing("monthly", "2026-11")] == ["r1", "r0"]
        await store.add(Stored("r0", "monthly", "2026-11", "月报", now, now, {}, "requested",
                               None, now, {"csv": "tables.csv"}, {}), {"tables.csv": b"a,b"})
        assert await book.get("r0") is None and await store.get("r0") is not None
    finally:
        await engine.dispose()
