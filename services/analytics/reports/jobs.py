"""Making reports: on request (`ReportMaker.request`, what `POST /v1/analytics/reports`
calls) and on a schedule (`ReportScheduler`, run by the analytics app beside its routes).

A request is an order (orders.py), answered 202 once it is written down; the report is drawn
in a task of this process, and whatever a crash leaves undone is taken up again by the next
schedule tick of any replica (the order's lease has run out). Reading a period's figures is a
handful of GROUP BYs; drawing the charts and printing the PDF is CPU-bound and runs in a
worker thread, one report at a time per process (on a shared machine, and matplotlib's style
settings are process-wide) — seconds for a month, more for a year on a loaded machine.

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

from sqlalchemy.exc import IntegrityError

from hotline.builds import leases_table
from hotline.leases import Lease
from hotline.projection import ReadSide
from hotline.readiness import Readiness
from hotline.runtime import Platform
from hotline.ticking import every
from reference.bundle import reference_of
from reference.directory import ReferenceData
from services.analytics.reports import charts as charting
from services.analytics.reports import content
from services.analytics.reports import render as rendering
from services.analytics.reports.orders import LEASE, OrderBook, Ordered
from services.analytics.reports.periods import (
    PERIODIC,
    Kind,
    Span,
    last_complete,
    parse,
    previous,
    special_of,
)
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
    """Reads a report's content, draws and prints it, files it in the register; takes
    orders and makes them in the background."""

    def __init__(self, service: ReadSide, reference: ReferenceData, zone: ZoneInfo,
                 store: ReportStore, clock: Callable[[], datetime]) -> None:
        self.service, self.reference, self.zone, self.store = service, reference, zone, store
        self.orders, self.clock = OrderBook(store), clock
        self._one_at_a_time = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def make(self, order: Order, now: datetime, *, origin: str = "requested",
                   by: str | None = None, schedule_key: str | None = None) -> Stored | None:
        """The new report's entry, made now (None: its scheduled twin was made meanwhile)."""
        async with self._one_at_a_time:
            if schedule_key is not None and await self.store.scheduled(schedule_key):
                return None
            return await self._draw(uuid.uuid4().hex, order, now, origin, by, schedule_key)

    async def _draw(self, report_id: str, order: Order, now: datetime, origin: str,
                    by: str | None, schedule_key: str | None) -> Stored | None:
        report = await self.service.read(
            content.gather, order.kind, order.span, previous(order.span), order.filters,
            self.reference, self.zone, now)
        files = await asyncio.to_thread(render, report)
        names = {fmt: name for fmt, name in NAMES.items()}
        names |= {name.removesuffix(".svg"): name for name in files if name.startswith("chart-")}
        entry = Stored(
            report_id, order.kind, order.span.key, report.title, order.span.since(self.zone),
            order.span.until(self.zone), dict(order.filters), origin, by, now, names,
            {h.id: {"label_zh": h.label_zh, "value": h.now.value, "numerator": h.now.numerator,
                    "denominator": h.now.denominator, "previous": h.before.value}
             for h in report.headline}, schedule_key)
        return entry if await self.store.add(entry, files) else None

    async def request(self, order: Order, now: datetime, by: str, report_id: str
                      ) -> Ordered | Stored:
        """Write the order down and start making it; what stands under `report_id` when a
        retry (the same id) finds its order placed or its report made already (a failed
        order is made again)."""
        ordered = Ordered(report_id, order.kind, order.span.key,
                          content.title_of(order.kind, order.span,
                                           content.check_filters(self.reference, order.filters)),
                          dict(order.filters), by, now)
        standing: Ordered | Stored | None = await self.store.get(report_id)
        if standing is None:
            try:
                await self.orders.place(ordered)
            except IntegrityError:
                standing = await self.standing(report_id)
            else:
                self._start(report_id)
                return ordered
        if standing is None or (standing.kind, standing.period, standing.params) != (
                ordered.kind, ordered.period, ordered.params):
            raise Conflict(report_id)
        return await self.again(report_id) or standing

    async def again(self, report_id: str) -> Ordered | None:
        """A failed order made again (a client's retry, or someone pressing 重新生成): back
        to `making` and started; None when it is not a failed order."""
        if not await self.orders.again(report_id):
            return None
        ordered = await self.orders.get(report_id)  # read before a maker can file it
        self._start(report_id)
        return ordered

    async def standing(self, report_id: str) -> Ordered | Stored | None:
        """The order while it is one, else the report made (in that order: a report is
        filed and its order deleted in one transaction, so no moment shows neither)."""
        return await self.orders.get(report_id) or await self.store.get(report_id)

    def _start(self, report_id: str) -> None:
        task = asyncio.create_task(self._make_ordered(report_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _make_ordered(self, report_id: str) -> None:
        """Make one order if nobody else is: claimed, drawn with its lease renewed, filed; an
        error leaves it `failed` with its reason (the traceback in the log)."""
        async with self._one_at_a_time:
            ordered = await self.orders.claim(report_id, self.clock())
            if ordered is None:
                return
            span = (special_of(ordered.period) if ordered.kind == "special"
                    else parse(ordered.kind, ordered.period, checked=False))  # type: ignore[arg-type]
            order = Order(ordered.kind, span, ordered.params)  # type: ignore[arg-type]
            renewing = asyncio.create_task(self._renew(report_id))
            try:
                await self._draw(report_id, order, self.clock(), "requested",
                                 ordered.requested_by, None)
            except Exception as exc:
                log.exception("report %s could not be made", report_id)
                await self.orders.fail(report_id, f"报告生成出错 ({type(exc).__name__})")
            finally:
                renewing.cancel()

    async def _renew(self, report_id: str) -> None:
        while True:
            await asyncio.sleep(LEASE.total_seconds() / 3)
            await self.orders.renew(report_id, self.clock())

    async def resume(self, now: datetime) -> int:
        """Start making the orders nobody is making (a maker died); how many."""
        orphans = await self.orders.orphans(now)
        for report_id in orphans:
            self._start(report_id)
        return len(orphans)

    async def idle(self) -> None:
        """Wait until every order this process started is made or failed."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stop making (at shutdown): an order cut off is left to the next maker's lease."""
        for task in self._tasks:
            task.cancel()
        await self.idle()


class Conflict(Exception):
    """An Idempotency-Key reused for a different report."""


DRAW_S = 900.0  # a replica drawing a scheduled report holds it this long at most


class ReportScheduler:
    """Makes the scheduled reports every `interval_s` (the app's background work). Every
    replica ticks; the one that takes a period's lease (`report:<kind>:<period>`, in the
    service's database) draws its report, the others pass it by, and the report's unique
    schedule key keeps one should a lease run out while it is drawn."""

    def __init__(self, maker: ReportMaker, clock: Callable[[], datetime], *,
                 interval_s: float = 300.0, delay: timedelta = timedelta(minutes=15),
                 kinds: tuple[Kind, ...] = PERIODIC) -> None:
        self.maker, self.clock, self.interval_s = maker, clock, interval_s
        self.delay, self.kinds = delay, kinds
        self._stop = asyncio.Event()

    async def tick(self, now: datetime) -> list[Stored]:
        """Take up orphaned orders, and make the latest complete period of each kind that
        has none yet."""
        if resumed := await self.maker.resume(now):
            log.info("%d report orders taken up again", resumed)
        made = []
        for kind in self.kinds:
            span = last_complete(kind, now - self.delay, self.maker.zone)
            key = f"{kind}:{span.key}"
            if await self.maker.store.scheduled(key):
                continue
            drawing = Lease(self.maker.store.db, leases_table, f"report:{key}", seconds=DRAW_S)
            if not await drawing.acquire():  # another replica is drawing it
                continue
            try:
                entry = await self.maker.make(Order(kind, span), now, origin="scheduled",
                                              by="system:reports", schedule_key=key)
            finally:
                await drawing.give_up()
            if entry is not None:
                log.info("scheduled report %s made: %s", key, entry.report_id)
                made.append(entry)
        return made

    async def run(self, readiness: Readiness) -> None:
        """Tick every `interval_s` until `stop()`, once the service is ready (its facts
        caught up); an error is logged and the next tick tries again."""
        await readiness.wait()
        try:
            await every(self.interval_s, self._stop, lambda: self.tick(self.clock()),
                        "report schedule")
        finally:
            await self.maker.close()

    def stop(self) -> None:
        self._stop.set()


def reports_of(platform: Platform, clock: Callable[[], datetime]
               ) -> tuple[ReportMaker, ReportScheduler]:
    """The app's report maker (the reports and their files in the service's database; those
    made before kept their files under the data dir's `reports/`) and its schedule."""
    ref = reference_of(platform)
    store = ReportStore(platform.db, legacy=Path(platform.settings.data_dir) / "reports")
    maker = ReportMaker(AnalyticsService(platform), ref.data, ref.calendar.zone, store, clock)
    return maker, ReportScheduler(maker, clock)
