"""Making reports: on request (`ReportMaker.make`, what `POST /v1/analytics/reports` calls)
and on a schedule (`ReportScheduler`, run by the analytics app beside its routes).

Generation is synchronous: reading a period's figures is a handful of GROUP BYs, and
drawing five charts and printing a few A4 pages takes a second or two, so the request
waits and gets its report's id with 201; the drawing and printing run in a worker thread,
one report at a time per process (they are CPU-bound on a shared machine, and
matplotlib's style settings are process-wide).

The schedule makes, once each, the latest complete day, week, month, quarter and year
(日报 for yesterday after midnight local time, 月报 for last month on the 1st, …), a few
minutes after the period ended so late events are folded in. What was made is in the
register under the kind and period (`schedule_key`), so a restart, a second replica or a
tick that comes early never makes one twice.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hotline.projection import ReadSide
from hotline.readiness import Readiness
from hotline.runtime import Platform
from hotline.ticking import every
from reference.bundle import reference_of
from reference.directory import ReferenceData
from services.analytics.reports import charts as charting
from services.analytics.reports import content
from services.analytics.reports import render as rendering
from services.analytics.reports.periods import PERIODIC, Kind, Span, last_complete, previous
from services.analytics.reports.store import ReportStore, Stored
from services.analytics.service import AnalyticsService

log = logging.getLogger(__name__)
NAMES = {"html": "report.html", "pdf": "report.pdf", "csv": "tables.csv",
         "xlsx": "tables.xlsx"}


@dataclass(frozen=True, slots=True)
class Order:
    """What to report on: a kind, its period, and filters (dimension → code)."""

    kind: Kind
    span: Span
    filters: dict[str, str] = field(default_factory=dict)


def render(report: content.Report) -> dict[str, bytes]:
    """Every file of a report by name (CPU-bound: run it in a thread)."""
    charts = charting.draw(report)
    page = rendering.html(report, charts)
    files = {NAMES["html"]: page.encode(), NAMES["pdf"]: rendering.pdf(page),
             NAMES["csv"]: rendering.to_csv(report.tables),
             NAMES["xlsx"]: rendering.to_xlsx(report)}
    files |= {f"chart-{name}.svg": svg.encode() for name, svg in charts.items()}
    return files


class ReportMaker:
    """Reads a report's content, draws and prints it, files it in the register."""

    def __init__(self, service: ReadSide, reference: ReferenceData, zone: ZoneInfo,
                 store: ReportStore) -> None:
        self.service, self.reference, self.zone, self.store = service, reference, zone, store
        self._one_at_a_time = asyncio.Lock()

    async def make(self, order: Order, now: datetime, *, origin: str = "requested",
                   by: str | None = None, schedule_key: str | None = None) -> Stored | None:
        """The new report's entry (None: its scheduled twin was made meanwhile)."""
        async with self._one_at_a_time:
            if schedule_key is not None and await self.store.scheduled(schedule_key):
                return None
            report = await self.service.read(
                content.gather, order.kind, order.span, previous(order.span), order.filters,
                self.reference, self.zone, now)
            files = await asyncio.to_thread(render, report)
            report_id = uuid.uuid4().hex
            await asyncio.to_thread(self.store.write, report_id, files)
        names = {fmt: name for fmt, name in NAMES.items()}
        names |= {name.removesuffix(".svg"): name for name in files if name.startswith("chart-")}
        entry = Stored(
            report_id, order.kind, order.span.key, report.title, order.span.since(self.zone),
            order.span.until(self.zone), dict(order.filters), origin, by, now, names,
            {h.id: {"label_zh": h.label_zh, "value": h.now.value, "numerator": h.now.numerator,
                    "denominator": h.now.denominator, "previous": h.before.value}
             for h in report.headline}, schedule_key)
        return entry if await self.store.add(entry) else None


class ReportScheduler:
    """Makes the scheduled reports every `interval_s` (the app's background work)."""

    def __init__(self, maker: ReportMaker, clock: Callable[[], datetime], *,
                 interval_s: float = 300.0, delay: timedelta = timedelta(minutes=15),
                 kinds: tuple[Kind, ...] = PERIODIC) -> None:
        self.maker, self.clock, self.interval_s = maker, clock, interval_s
        self.delay, self.kinds = delay, kinds
        self._stop = asyncio.Event()

    async def tick(self, now: datetime) -> list[Stored]:
        """Make the latest complete period of each kind that has none yet."""
        made = []
        for kind in self.kinds:
            span = last_complete(kind, now - self.delay, self.maker.zone)
            key = f"{kind}:{span.key}"
            if await self.maker.store.scheduled(key):
                continue
            entry = await self.maker.make(Order(kind, span), now, origin="scheduled",
                                          by="system:reports", schedule_key=key)
            if entry is not None:
                log.info("scheduled report %s made: %s", key, entry.report_id)
                made.append(entry)
        return made

    async def run(self, readiness: Readiness) -> None:
        """Tick every `interval_s` until `stop()`, once the service is ready (its facts
        caught up); an error is logged and the next tick tries again."""
        await readiness.wait()
        await every(self.interval_s, self._stop, lambda: self.tick(self.clock()),
                    "report schedule")

    def stop(self) -> None:
        self._stop.set()


def reports_of(platform: Platform, clock: Callable[[], datetime]
               ) -> tuple[ReportMaker, ReportScheduler]:
    """The app's report maker (files under the data dir's `reports/`) and its schedule."""
    ref = reference_of(platform)
    store = ReportStore(platform.db, Path(platform.settings.data_dir) / "reports")
    maker = ReportMaker(AnalyticsService(platform), ref.data, ref.calendar.zone, store)
    return maker, ReportScheduler(maker, clock)
