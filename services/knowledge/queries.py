"""Reads over the knowledge read model (projections.py): the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.projection import aware, page_and_total
from services.knowledge.domain import STAGE_ZH, Stage
from services.knowledge.projections import articles, offers, versions

REVIEW_WITHIN = timedelta(days=3)  # a submission reviewed later than this is late (及时率)
WAITING_TOO_LONG = timedelta(days=2)  # the review queue flags submissions older than this


def article_row(row: Any) -> dict[str, Any]:
    """A kb_articles row for JSON (times aware, ISO)."""
    found = dict(row._mapping)
    for key in ("drafted_at", "submitted_at", "publish_at", "published_at"):
        found[key] = _iso(aware(found[key]))
    found["stage_zh"] = STAGE_ZH[Stage(found["stage"])] if found["stage"] else None
    return found


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def article(conn: AsyncConnection, article_id: str) -> dict[str, Any] | None:
    """The article's row, or None."""
    row = (await conn.execute(select(articles).where(articles.c.article_id == article_id))
           ).first()
    return article_row(row) if row else None


async def version_text(conn: AsyncConnection, article_id: str,
                       version: int) -> dict[str, Any] | None:
    """One version's whole text (a draft's as last written), or None."""
    v = versions.c
    row = (await conn.execute(select(versions).where(
        v.article_id == article_id, v.version == version))).first()
    if row is None:
        return None
    found = dict(row._mapping)
    details = json.loads(found.pop("details"))
    for key in ("drafted_at", "published_at", "submitted_at"):
        found[key] = _iso(aware(found[key]))
    return found | details


async def by_source(conn: AsyncConnection, source_id: str) -> str | None:
    """The article imported under `source_id`, if any."""
    return (await conn.execute(select(articles.c.article_id).where(
        articles.c.source_id == source_id))).scalar()


@dataclass(frozen=True, slots=True)
class Listing:
    """Which articles a list shows."""

    stage: str | None = None
    owning_unit: str | None = None
    review_due_by: date | None = None  # published ones whose review date is on or before it
    include_retired: bool = False


async def listing(conn: AsyncConnection, which: Listing,
                  limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    """A page of articles (the review queue: stage submitted, oldest submission first)."""
    a = articles.c
    where: list[Any] = [] if which.include_retired else [a.retired.is_(False)]
    if which.stage is not None:
        where.append(a.stage == which.stage)
    if which.owning_unit is not None:
        where.append(a.owning_unit == which.owning_unit)
    if which.review_due_by is not None:
        where += [a.published_version.is_not(None), a.review_by <= which.review_due_by.isoformat()]
    order = [a.submitted_at, a.article_id] if which.stage == "submitted" else [a.article_id]
    rows, total = await page_and_total(conn, articles, where, order, limit)
    return [article_row(r) for r in rows], total


async def waiting_too_long(conn: AsyncConnection, now: datetime) -> int:
    """Submissions waiting for a reviewer longer than WAITING_TOO_LONG (a reminder's count)."""
    a = articles.c
    return int((await conn.execute(select(func.count()).select_from(articles).where(
        a.stage == "submitted", a.submitted_at < now - WAITING_TOO_LONG))).scalar_one())


async def maintenance(conn: AsyncConnection, since: datetime,
                      today: date) -> list[dict[str, Any]]:
    """知识库维护及时率 per owning unit, over versions published since `since`: how many, the
    mean hours from first submission to publication, and the share published within
    REVIEW_WITHIN; plus how many of the unit's live articles are past their review date."""
    v, a = versions.c, articles.c
    rows = await conn.execute(
        select(a.owning_unit, v.submitted_at, v.published_at)
        .select_from(versions.join(articles, a.article_id == v.article_id))
        .where(v.published_at >= since, v.submitted_at.is_not(None)))
    units: dict[str | None, list[float]] = {}
    for unit, submitted, published in rows:
        hours = (aware(published) - aware(submitted)).total_seconds() / 3600  # type: ignore[operator]
        units.setdefault(unit, []).append(hours)
    overdue: dict[str | None, int] = dict((await conn.execute(
        select(a.owning_unit, func.count()).where(
            and_(a.retired.is_(False), a.published_version.is_not(None),
                 a.review_by < today.isoformat()))
        .group_by(a.owning_unit))).all())
    limit_h = REVIEW_WITHIN.total_seconds() / 3600
    return [{"owning_unit": unit, "published": len(hours),
             "mean_hours_to_publish": round(sum(hours) / len(hours), 1),
             "on_time_share": round(sum(h <= limit_h for h in hours) / len(hours), 4),
             "past_review_date": int(overdue.get(unit, 0))}
            for unit, hours in sorted(units.items(), key=lambda kv: str(kv[0]))]


async def due_for_publication(conn: AsyncConnection, now: datetime) -> list[tuple[str, int]]:
    """(article, version) approved for publication at or before `now`."""
    a = articles.c
    rows = await conn.execute(select(a.article_id, a.draft_version).where(
        a.stage == "approved", a.publish_at <= now).order_by(a.publish_at).limit(500))
    return [(article_id, version) for article_id, version in rows]


async def self_service(conn: AsyncConnection, since: datetime) -> dict[str, Any]:
    """自助答复 since `since`: offers per channel, how many solved, not solved, unanswered,
    and the articles that solved most."""
    o = offers.c
    rows = (await conn.execute(select(o.channel, o.solved, func.count())
                               .where(o.offered_at >= since).group_by(o.channel, o.solved))).all()
    channels: dict[str, dict[str, int]] = {}
    for channel, solved, n in rows:
        key = {True: "solved", False: "not_solved", None: "unanswered"}[solved]
        figures = channels.setdefault(channel, {"offered": 0, "solved": 0, "not_solved": 0,
                                                "unanswered": 0})
        figures[key] += n
        figures["offered"] += n
    top = await conn.execute(
        select(o.article_id, func.count().label("n")).where(o.offered_at >= since,
                                                            o.solved.is_(True))
        .group_by(o.article_id).order_by(func.count().desc(), o.article_id).limit(10))
    return {"channels": channels, "top_articles": [{"article_id": a, "solved": n}
                                                   for a, n in top]}
