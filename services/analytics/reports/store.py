"""Generated reports: their register (`an_reports`, one row each: id, kind, period,
parameters, when and by whom, the files) and their files under the data dir.

Not a projection: a report is a document made at a moment from the facts as they stood
then, not something the log can give back (a rebuild would give today's figures), so its
row is written once and never replayed, and its files are kept beside it. The table lives
in the service's database and is made on first use (`CREATE TABLE IF NOT EXISTS`). A
scheduled report carries a `schedule_key` (kind and period) that is unique, so replicas
racing to make the same daily report keep exactly one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, MetaData, String, Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.database import TablesOnce
from hotline.projection import aware

FORMATS = ("html", "pdf", "csv", "xlsx")  # downloads; charts are `chart-<name>` (svg)
metadata = MetaData()
reports = Table(
    "an_reports", metadata,
    Column("report_id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("period", String(32), nullable=False),
    Column("title", String(300), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
    Column("params", JSON, nullable=False),  # filters
    Column("origin", String(16), nullable=False),  # requested | scheduled
    Column("requested_by", String(120), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("files", JSON, nullable=False),  # format or chart-<name> → file name
    Column("figures", JSON, nullable=False),  # kpi id → {value, numerator, denominator}
    Column("schedule_key", String(64), nullable=True, unique=True),
    Index("an_reports_by_kind", "kind", "period", "created_at"),
    Index("an_reports_by_time", "created_at"),
)
orders = Table(  # reports asked for and not made yet: see orders.py
    "an_report_orders", metadata,
    Column("report_id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("period", String(32), nullable=False),
    Column("title", String(300), nullable=False),
    Column("params", JSON, nullable=False),
    Column("requested_by", String(120), nullable=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # making | failed
    Column("error", String(500), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Index("an_report_orders_by_time", "requested_at"),
)


@dataclass(frozen=True, slots=True)
class Stored:
    """A generated report's register entry."""

    report_id: str
    kind: str
    period: str
    title: str
    since: datetime
    until: datetime
    params: dict[str, str]
    origin: str
    requested_by: str | None
    created_at: datetime
    files: dict[str, str]
    figures: dict[str, Any]
    schedule_key: str | None = None

    def public(self) -> dict[str, Any]:
        """As the API shows it."""
        out = asdict(self)
        out["formats"] = sorted(k for k in self.files if k in FORMATS)
        out["charts"] = sorted(k.removeprefix("chart-") for k in self.files
                               if k.startswith("chart-"))
        del out["files"]
        return out | {"status": "ready", "status_zh": "已生成"}


def _stored(row: Any) -> Stored:
    m = dict(row._mapping)
    m["since"], m["until"], m["created_at"] = (aware(m["since"]), aware(m["until"]),
                                               aware(m["created_at"]))
    return Stored(**m)


class ReportStore:
    """The register (in `db`) and the files (under `root`, one folder per report)."""

    def __init__(self, db: AsyncEngine, root: Path) -> None:
        self.db, self.root = db, root
        self._tables = TablesOnce(db, metadata)

    async def ensure(self) -> None:
        await self._tables.ensure()

    def folder(self, report_id: str) -> Path:
        return self.root / report_id

    def write(self, report_id: str, files: dict[str, bytes]) -> None:
        """Write a report's files by name (before its row: a listed report has its files)."""
        folder = self.folder(report_id)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)

    async def add(self, entry: Stored) -> bool:
        """Register a report, its order (if it was asked for) done in the same transaction;
        False when a scheduled one of that key is already there."""
        await self.ensure()
        row = asdict(entry)
        row["figures"] = json.loads(json.dumps(row["figures"]))
        for name in ("since", "until", "created_at"):  # UTC: SQLite keeps no zone
            row[name] = aware(row[name])
        try:
            async with self.db.begin() as conn:
                await conn.execute(reports.insert().values(**row))
                await conn.execute(orders.delete().where(orders.c.report_id == entry.report_id))
        except IntegrityError:
            if entry.schedule_key is None:
                raise
            return False
        return True

    async def get(self, report_id: str) -> Stored | None:
        await self.ensure()
        async with self.db.connect() as conn:
            row = (await conn.execute(select(reports).where(
                reports.c.report_id == report_id))).first()
        return _stored(row) if row else None

    async def scheduled(self, key: str) -> bool:
        """Whether the scheduled report of this key exists."""
        await self.ensure()
        async with self.db.connect() as conn:
            found = await conn.execute(select(reports.c.report_id).where(
                reports.c.schedule_key == key))
            return found.first() is not None

    async def listing(self, kind: str | None, period: str | None, limit: int,
                      offset: int) -> tuple[list[Stored], int]:
        """Reports newest first, of one kind and/or period when told, and how many."""
        await self.ensure()
        where = []
        if kind is not None:
            where.append(reports.c.kind == kind)
        if period is not None:
            where.append(reports.c.period == period)
        async with self.db.connect() as conn:
            rows = await conn.execute(select(reports).where(*where).order_by(
                reports.c.created_at.desc(), reports.c.report_id).limit(limit).offset(offset))
            items = [_stored(r) for r in rows]
            total = (await conn.execute(select(func.count()).select_from(reports)
                                        .where(*where))).scalar_one()
        return items, int(total)
