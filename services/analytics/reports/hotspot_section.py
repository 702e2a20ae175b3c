"""The hotspots section's rows, when this deployment has a hotspot read model.

A report may be made where the hotspot board's tables are not made yet (its runner not
started, or another replica writing a new build of it), so a report looks for the board's
table at run time: no table, no section (`None`), and the report is complete without it.
Whatever the table holds is shown as it is, limited to the report period when it has a
time column; it carries counts, codes and ticket numbers, never personal data (that is the
hotspot model's own rule).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import MetaData, Table, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.projection import aware
from services.analytics.hotspots.board import hotspots

TABLES = (hotspots.name,)  # the hotspot board's build of this version (hotline/builds.py)
TIME_COLUMNS = ("detected_at", "window_start", "started_at", "opened_at", "at")
LIMIT = 20
# the columns a reader wants, in Chinese, when the table has them (else every column)
SHOWN = {"kind": "类型", "dimension": "维度", "district_code": "区县", "category1": "诉求分类",
         "window_start": "窗口开始", "window_end": "窗口结束", "count": "件数",
         "baseline": "基线", "score": "评分", "active": "仍在持续"}
KINDS_ZH = {"hotspot": "热点", "foresight": "预见(未诉先办)", "burst": "突发"}


def _table(sync: Connection) -> Table | None:
    names = set(inspect(sync).get_table_names())
    for name in TABLES:
        if name in names:
            return Table(name, MetaData(), autoload_with=sync)
    return None


def _cell(column: str, value: Any, zone: ZoneInfo, names: Names) -> Any:
    if isinstance(value, datetime):
        return aware(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")  # type: ignore[union-attr]
    if column == "kind":
        return KINDS_ZH.get(value, value)
    if column == "active" and isinstance(value, bool):
        return "是" if value else "否"
    if column in names and isinstance(value, str):
        return names[column](value)
    return value


Names = dict[str, Callable[[str | None], str]]


async def hotspot_rows(conn: AsyncConnection, since: datetime | None,
                       until: datetime | None, zone: ZoneInfo,
                       names: Names) -> list[dict[str, Any]] | None:
    """The hotspots of [since, until) (latest first) under Chinese headings, codes named by
    `names` (column → namer), or None without a hotspot table."""
    table = await conn.run_sync(_table)
    if table is None:
        return None
    query = select(table).limit(LIMIT)
    for name in TIME_COLUMNS:
        if name in table.c:
            column = table.c[name]
            if since is not None:
                query = query.where(column >= aware(since))
            if until is not None:
                query = query.where(column < aware(until))
            query = query.order_by(column.desc())
            break
    shown = [c for c in SHOWN if c in table.c] or list(table.c.keys())
    return [{SHOWN.get(c, c): _cell(c, row._mapping[c], zone, names) for c in shown}
            for row in await conn.execute(query)]
