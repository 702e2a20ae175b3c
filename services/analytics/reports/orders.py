"""Reports asked for and not made yet (`an_report_orders`): the queue behind
`POST /v1/analytics/reports`.

A request is written here and answered 202 before anything is drawn: a year's report on a
loaded machine takes longer than an HTTP client waits, and an order that is on disk survives
the process that was making it. Making an order claims it for a lease (`LEASE`) that the
maker renews while it draws; an order whose lease ran out (its maker died) is claimed again
by the next schedule tick of any replica. A made report moves to the register
(`store.ReportStore.add` deletes its order in the same transaction); one that could not be
made stays here as `failed`, with the reason, until whoever asks for reports makes it again
(`again`: back to `making`, for a maker to claim) or withdraws it (`withdraw`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from hotline.projection import aware
from services.analytics.reports.store import ReportStore, orders

LEASE = timedelta(seconds=90)  # renewed every third of it while the report is drawn
MAKING, FAILED = "making", "failed"


@dataclass(frozen=True, slots=True)
class Ordered:
    """A report asked for: what and by whom, and how far it got."""

    report_id: str
    kind: str
    period: str
    title: str
    params: dict[str, str]
    requested_by: str | None
    requested_at: datetime
    status: str = MAKING
    error: str | None = None

    def public(self) -> dict[str, Any]:
        """As the API shows it: like a made report's entry, without files yet."""
        out = asdict(self)
        out["status_zh"] = "生成中" if self.status == MAKING else "生成失败"
        return out


def _ordered(row: Any) -> Ordered:
    m = dict(row._mapping)
    del m["lease_until"]
    m["requested_at"] = aware(m["requested_at"])
    return Ordered(**m)


class OrderBook:
    """The orders in the service's database (its tables made by the register's `ensure`)."""

    def __init__(self, store: ReportStore) -> None:
        self.store = store  # the register's engine, and its `ensure` makes both tables

    async def place(self, order: Ordered) -> None:
        """Write an order down (what the 202 promises)."""
        await self.store.ensure()
        row = asdict(order) | {"requested_at": aware(order.requested_at), "lease_until": None}
        async with self.store.db.begin() as conn:
            await conn.execute(orders.insert().values(**row))

    async def claim(self, report_id: str, now: datetime) -> Ordered | None:
        """The order, leased to the caller until `now + LEASE`; None when it is made,
        failed, or leased to another maker."""
        await self.store.ensure()
        now = aware(now)  # type: ignore[assignment]
        free = (orders.c.lease_until.is_(None)) | (orders.c.lease_until < now)
        async with self.store.db.begin() as conn:
            claimed = await conn.execute(
                update(orders).where(orders.c.report_id == report_id,
                                     orders.c.status == MAKING, free)
                .values(lease_until=now + LEASE))
            if claimed.rowcount != 1:
                return None
            row = (await conn.execute(select(orders).where(
                orders.c.report_id == report_id))).one()
        return _ordered(row)

    async def renew(self, report_id: str, now: datetime) -> None:
        async with self.store.db.begin() as conn:
            await conn.execute(update(orders).where(orders.c.report_id == report_id)
                               .values(lease_until=aware(now + LEASE)))

    async def fail(self, report_id: str, reason: str) -> None:
        """The order could not be made: kept, with why, and no longer claimed."""
        async with self.store.db.begin() as conn:
            await conn.execute(update(orders).where(orders.c.report_id == report_id)
                               .values(status=FAILED, error=reason[:500], lease_until=None))

    async def again(self, report_id: str) -> bool:
        """A failed order back to `making`, free for a maker to claim; False when it is not
        a failed order (made meanwhile, still being made, withdrawn, unknown)."""
        await self.store.ensure()
        async with self.store.db.begin() as conn:
            moved = await conn.execute(update(orders).where(
                orders.c.report_id == report_id, orders.c.status == FAILED)
                .values(status=MAKING, error=None, lease_until=None))
            return bool(moved.rowcount == 1)

    async def withdraw(self, report_id: str) -> bool:
        """A failed order taken off the book; False when it is not a failed order (one
        being made is left to its maker: its report would be filed with no order)."""
        await self.store.ensure()
        async with self.store.db.begin() as conn:
            gone = await conn.execute(delete(orders).where(
                orders.c.report_id == report_id, orders.c.status == FAILED))
            return bool(gone.rowcount == 1)

    async def get(self, report_id: str) -> Ordered | None:
        await self.store.ensure()
        async with self.store.db.connect() as conn:
            row = (await conn.execute(select(orders).where(
                orders.c.report_id == report_id))).first()
        return _ordered(row) if row else None

    async def orphans(self, now: datetime) -> list[str]:
        """Orders being made by nobody: never claimed, or their maker's lease ran out."""
        await self.store.ensure()
        free = (orders.c.lease_until.is_(None)) | (orders.c.lease_until < aware(now))
        async with self.store.db.connect() as conn:
            rows = await conn.execute(select(orders.c.report_id).where(
                orders.c.status == MAKING, free).order_by(orders.c.requested_at))
            return [r.report_id for r in rows]

    async def listing(self, kind: str | None, period: str | None,
                      limit: int = 20) -> list[Ordered]:
        """The orders not made, newest first (of one kind and/or period when told)."""
        await self.store.ensure()
        where = [c == v for c, v in ((orders.c.kind, kind), (orders.c.period, period))
                 if v is not None]
        async with self.store.db.connect() as conn:
            rows = await conn.execute(select(orders).where(*where).order_by(
                orders.c.requested_at.desc(), orders.c.report_id).limit(limit))
            return [_ordered(r) for r in rows]
