"""The report register on SQLite and PostgreSQL: a report over empty fact tables (the
queries on both databases), its entry read back with its times, parameters and figures,
the listing, and two replicas' schedules racing for the same periods keeping one each."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import create_async_engine

from hotline.projection import ReadSide
from hotline.runtime import utc_now
from reference.bundle import load_reference
from services.analytics.calls import metadata as call_metadata
from services.analytics.contacts import metadata as contact_metadata
from services.analytics.projections import metadata as fact_metadata
from services.analytics.reports.jobs import Order, ReportMaker, ReportScheduler
from services.analytics.reports.periods import parse
from services.analytics.reports.store import ReportStore

BJ = ZoneInfo("Asia/Shanghai")
REF = load_reference()


def maker_on(db: ReadSide, root: Path) -> ReportMaker:
    return ReportMaker(db, REF.data, REF.calendar.zone, ReportStore(db.db, root), utc_now)


async def test_the_register_on_both_databases(db_url: str, tmp_path: Path) -> None:
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            for meta in (fact_metadata, contact_metadata, call_metadata):
                await conn.run_sync(meta.create_all)
        side = ReadSide()
        side.db = engine
        maker = maker_on(side, tmp_path / "reports")
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
        assert (tmp_path / "reports" / entry.report_id / "report.pdf").read_bytes()[:5] == \
            b"%PDF-"

        # two replicas tick at once: every scheduled period is made exactly once
        replicas = [ReportScheduler(maker_on(side, tmp_path / "reports"), lambda: now,
                                    kinds=("daily", "weekly")) for _ in range(2)]
        made = await asyncio.gather(*(r.tick(now) for r in replicas))
        assert sorted(e.schedule_key or "" for batch in made for e in batch) == [
            "daily:2026-11-30", "weekly:2026-W48"]
        items, total = await maker.store.listing(None, None, 10, 0)
        assert total == 3 and {i.kind for i in items} == {"monthly", "daily", "weekly"}
        items, total = await maker.store.listing("daily", "2026-11-30", 10, 0)
        assert total == 1 and items[0].origin == "scheduled"
    finally:
        await engine.dispose()
