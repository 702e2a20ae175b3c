"""Generated reports: their register (`an_reports`, one row each: id, kind, period,
parameters, when and by whom, the files) and their files (`an_report_files`).

Not a projection: a report is a document made at a moment from the facts as they stood
then, not something the log can give back (a rebuild would give today's figures), so its
row is written once and never replayed. Its files (HTML, PDF, CSV, XLSX, the charts: some
hundreds of KB for a month) are kept in the same database, written in the register row's
transaction: every replica of the service serves every report, and a pod's restart loses
none (they were under a replica's own data dir before, where the other replicas could not
read them and a new pod had none). The tables live in the service's database and are made
on first use. A scheduled report carries a `schedule_key` (kind and period) that is unique,
so replicas racing to make the same daily report keep exactly one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    select,
)
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
files_table = Table(
    "an_report_files", metadata,
    Column("report_id", String(40), primary_key=True),
    Column("name", String(80), primary_key=True),  # report.pdf, chart-trend.svg, …
    Column("content", LargeBinary, nullable=False),
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
    """The register and the files, in `db`; `legacy` is the folder where reports made
    before their files moved into the database keep theirs (read, never written)."""

    def __init__(self, db: AsyncEngine, legacy: Path | None = None) -> None:
        self.db, self.legacy = db, legacy
        self._tables = TablesOnce(db, metadata)

    async def ensure(self) -> None:
        await self._tables.ensure()

    async def add(self, entry: Stored, files: dict[str, bytes]) -> bool:
        """Register a report with its files, its order (if it was asked for) done, in one
        transaction; False when a scheduled one of that key is already there."""
        await self.ensure()
        row = asdict(entry)
        row["figures"] = json.loads(json.dumps(row["figures"]))
        for name in ("since", "until", "created_at"):  # UTC: SQLite keeps no zone
            row[name] = aware(row[name])
        try:
            async with self.db.begin() as conn:
                await conn.execute(reports.insert().values(**row))
                await conn.execute(files_table.insert(), [
                    {"report_id": entry.report_id, "name": name, "content": content}
                    for name, content in files.items()])
                await conn.execute(orders.delete().where(orders.c.report_id == entry.report_id))
        except IntegrityError:
            if entry.schedule_key is None:
                raise
            return False
        return True

    async def file(self, report_id: str, name: str) -> bytes | None:
        """One file of a made report (None: not kept)."""
        await self.ensure()
        async with self.db.connect() as conn:
            found = (await conn.execute(select(files_table.c.content).where(
                files_table.c.report_id == report_id, files_table.c.name == name))).first()
        if found is not None:
            return bytes(found.content)
        old = self.legacy / report_id / name if self.legacy is not None else None
        return old.read_bytes() if old is not None and old.is_file() else None

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
