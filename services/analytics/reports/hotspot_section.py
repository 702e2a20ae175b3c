"""The hotspots section's rows, when this deployment has a hotspot read model.

A report may be made where the hotspot board's tables are not made yet (its runner not
started, or another replica writing a new build of it), so a report looks for the board's
table at run time: no table, no section (`None`), and the report is complete without it.
The rows are the board's windows that began in the report's period; they carry counts,
codes and ticket numbers, never personal data (that is the hotspot model's own rule).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.projection import aware
from services.analytics.hotspots.board import hotspots

LIMIT = 20
# the columns a reader wants, in Chinese
SHOWN = {"kind": "类型", "dimension": "维度", "district_code": "区县", "category1": "诉求分类",
         "window_start": "窗口开始", "window_end": "窗口结束", "count": "件数",
         "baseline": "基线", "score": "评分", "active": "仍在持续"}
KINDS_ZH = {"hotspot": "热点", "foresight": "预见(未诉先办)", "burst": "突发"}


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
    if not await conn.run_sync(lambda sync: inspect(sync).has_table(hotspots.name)):
        return None
    start = hotspots.c.window_start
    query = select(*(hotspots.c[c] for c in SHOWN)).order_by(start.desc()).limit(LIMIT)
    if since is not None:
        query = query.where(start >= aware(since))
    if until is not None:
        query = query.where(start < aware(until))
    return [{SHOWN[c]: _cell(c, row._mapping[c], zone, names) for c in SHOWN}
            for row in await conn.execute(query)]
