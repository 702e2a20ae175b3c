"""How much each article is used, per day: the week's most used (热点问答) and its feedback.

A use is an answer that cites it (`TicketAnsweredDirectly` on hotline.tickets), an
offer of it to a citizen on a chat channel (`AnswerOffered`), or an operator's
"helpful" mark (`RecommendationRated`); "not helpful" marks are counted beside. The
projection reads both topics and keeps one row per (article, Beijing day), so the week's
figures are a seven-row sum per article whatever the volume of tickets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.knowledge_events import AnswerOffered, RecommendationRated
from contracts.ticket_events import TicketAnsweredDirectly
from contracts.topics import KNOWLEDGE, TICKETS
from hotline.builds import projection_metadata
from hotline.projection import Applied

CITY = ZoneInfo("Asia/Shanghai")
COUNTS = ("cited", "offered", "helpful", "unhelpful")
VERSION = 1  # bump it when the tables change: a new build, made from zero
metadata = projection_metadata(VERSION)
use = Table(
    f"kb_use_v{VERSION}", metadata,
    Column("article_id", String(128), primary_key=True),
    Column("day", String(10), primary_key=True),  # ISO date in the city
    *(Column(name, Integer, nullable=False, default=0) for name in COUNTS),
)


class KnowledgeUse:
    """kb_use, from the citations on hotline.tickets and the offers and ratings."""

    name: str = "knowledge-use"
    version: int = VERSION
    topics: Sequence[str] = (KNOWLEDGE, TICKETS)
    events: frozenset[str] = frozenset({"TicketAnsweredDirectly", "AnswerOffered",
                                        "RecommendationRated"})
    metadata: MetaData = metadata

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        counts: Counter[tuple[str, str, str]] = Counter()
        for envelope, e in batch:
            day = envelope.time.astimezone(CITY).date().isoformat()
            found = _counted(e)
            if found is not None:
                counts[(found[0], day, found[1])] += 1
        by_row: dict[tuple[str, str], dict[str, int]] = {}
        for (article, day, what), n in counts.items():
            by_row.setdefault((article, day), {})[what] = n
        for (article, day), adds in by_row.items():
            u = use.c
            done = await conn.execute(update(use).where(u.article_id == article, u.day == day)
                                      .values({k: u[k] + n for k, n in adds.items()}))
            if done.rowcount == 0:
                await conn.execute(use.insert().values(
                    article_id=article, day=day, **{k: adds.get(k, 0) for k in COUNTS}))


def _counted(e: Any) -> tuple[str, str] | None:
    """(article, which count) an event adds one to, if any."""
    if isinstance(e, TicketAnsweredDirectly) and e.knowledge_article_id:
        return e.knowledge_article_id, "cited"
    if isinstance(e, AnswerOffered):
        return e.article_id, "offered"
    if isinstance(e, RecommendationRated):
        return e.article_id, "helpful" if e.helpful else "unhelpful"
    return None


async def most_used(conn: AsyncConnection, today: date, days: int = 7,
                    limit: int = 50) -> list[dict[str, Any]]:
    """The articles used most over the `days` ending today, most first (ties by id)."""
    u = use.c
    uses = (func.sum(u.cited) + func.sum(u.offered) + func.sum(u.helpful)).label("uses")
    rows = await conn.execute(
        select(u.article_id, uses, func.sum(u.helpful).label("helpful"),
               func.sum(u.unhelpful).label("unhelpful"))
        .where(u.day > (today - timedelta(days=days)).isoformat(), u.day <= today.isoformat())
        .group_by(u.article_id).order_by(uses.desc(), u.article_id).limit(limit))
    return [dict(row._mapping) for row in rows]
