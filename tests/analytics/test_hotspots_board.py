"""`an_hotspots` on SQLite and PostgreSQL: the events of a generated stream's findings (one
of them delivered twice) → one row per hotspot, cleared ones inactive, the evidence and a
text cluster's linked tickets; a rebuild gives the same rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine

from contracts.topics import ANALYTICS, core_specs
from hotline.eventstore import STRUCTURED, EventStore
from hotline.log.embedded import EmbeddedEventLog
from hotline.log.port import OutgoingRecord
from hotline.projection import checksum
from hotline.runner import rebuild
from services.analytics import contacts, projections
from services.analytics.hotspots.board import (
    HotspotBoard,
    HotspotFilter,
    hotspot_detail,
    hotspot_list,
)
from services.analytics.hotspots.burst import load_policy
from services.analytics.hotspots.detector import Detector
from services.analytics.hotspots.runner import append_findings
from tests.analytics.hotspot_stream import Plan, stream


async def test_board_rows_and_rebuild(db_url: str, tmp_path: Path) -> None:
    detector = Detector(load_policy())
    found = [f for s in stream(Plan(hours=72, burst_hour=50, cluster_hour=60))
             for f in detector.observe(s)]
    log = EmbeddedEventLog(str(tmp_path / "log.db"))
    await log.start()
    engine = create_async_engine(db_url)
    try:
        await log.create_topics(core_specs())
        store = EventStore(log)
        assert await append_findings(store, found, datetime(2026, 3, 5, tzinfo=UTC),
                                     "urn:test") == len(found)
        first = [r for p in range(3) for r in await log.read(ANALYTICS, p, 0, 1)][0]
        # a producer's retry stores it twice
        await log.append(ANALYTICS, [OutgoingRecord(first.key, first.value, STRUCTURED)])
        async with engine.begin() as conn:  # the fact tables the detail joins on
            await conn.run_sync(contacts.metadata.create_all)
            await conn.run_sync(projections.metadata.create_all)

        await rebuild(log, engine, HotspotBoard())
        async with engine.connect() as conn:
            rows, total = await hotspot_list(conn, HotspotFilter(), 100, 0)
            detected = [f for f in found if f.kind == "detected"]
            assert total == len(detected) == len(rows)
            cleared = {f.hotspot_id for f in found if f.kind == "cleared"}
            assert {r["hotspot_id"] for r in rows if not r["active"]} == cleared
            active, n = await hotspot_list(conn, HotspotFilter(active=True), 100, 0)
            assert n == len(detected) - len(cleared)
            for f in detected:
                one = await hotspot_detail(conn, f.hotspot_id)
                assert one is not None and one["count"] == f.count
                assert one["window_start"] == f.start and one["window_end"] == f.end
                refs = one["evidence"]["contact_ids" if f.dimension == "text"
                                       else "ticket_numbers"]
                assert refs == sorted(f.refs)
            assert await hotspot_detail(conn, "none") is None
        before = await checksum(engine, HotspotBoard.metadata)
        await rebuild(log, engine, HotspotBoard())
        assert await checksum(engine, HotspotBoard.metadata) == before
    finally:
        await engine.dispose()
        await log.close()
