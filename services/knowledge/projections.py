"""The knowledge base's read model: articles and every version's text, on SQLite or PostgreSQL.

`kb_articles`: one row per article — its review stage, the version under work, the
live published version, the owning unit, dates the reminders need (review by,
submitted at) — what the review queue, the lists and the maintenance figures read.
`kb_versions`: one row per (article, version) with its whole text as last drafted,
and when it was published: what an old ticket's citation opens. `kb_offers`: the
self-service offers on chat channels and whether they solved the citizen's question.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, Column, Float, Integer, MetaData, String, Table, Text, and_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import Envelope
from contracts.knowledge_events import (
    AnswerOffered,
    ArticleApproved,
    ArticleDrafted,
    ArticlePublished,
    ArticleRetired,
    ArticleReturned,
    ArticleSubmitted,
    OfferAnswered,
)
from contracts.topics import KNOWLEDGE
from hotline.projection import Applied, utc_column

metadata = MetaData()
articles = Table(
    "kb_articles", metadata,
    Column("article_id", String(128), primary_key=True),
    Column("stream_version", Integer, nullable=False),  # for read-your-writes
    Column("title", String(200), nullable=False),  # of the version under work, else the live one
    Column("stage", String(16)),  # draft, submitted, returned, approved; None: nothing under work
    Column("draft_version", Integer),
    Column("published_version", Integer),
    Column("retired", Boolean, nullable=False, default=False),
    Column("kind", String(32)),
    Column("level1", String(128), nullable=False),
    Column("level2", String(128)),
    Column("audience", String(16), nullable=False),
    Column("owning_unit", String(64), index=True),
    Column("review_by", String(10)),
    Column("drafted_by", String(200)),
    utc_column("drafted_at"),
    Column("submitted_by", String(200)),
    utc_column("submitted_at"),
    Column("returned_reason", Text),
    utc_column("publish_at"),
    utc_column("published_at"),
    Column("source_id", String(128), index=True),
    Column("from_ticket", String(128)),
)
versions = Table(
    "kb_versions", metadata,
    Column("article_id", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("details", Text, nullable=False),  # JSON: kind, category, audience, validity …
    utc_column("drafted_at", nullable=False),
    utc_column("published_at"),
    utc_column("submitted_at"),  # first submission of this version
)
offers = Table(  # self-service on chat channels: what was offered, and did it solve it
    "kb_offers", metadata,
    Column("offer_id", String(64), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("article_id", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("confidence", Float, nullable=False),
    utc_column("offered_at", nullable=False),
    Column("solved", Boolean),  # None: not answered (yet)
)


class Articles:
    """kb_articles and kb_versions, from hotline.knowledge."""

    name: str = "knowledge-articles"
    version: int = 2
    topics: Sequence[str] = (KNOWLEDGE,)
    events: frozenset[str] = frozenset({"ArticleDrafted", "ArticleSubmitted", "ArticleReturned",
                        "ArticleApproved", "ArticlePublished", "ArticleRetired",
                        "AnswerOffered", "OfferAnswered"})
    metadata: MetaData = metadata

    async def apply(self, conn: AsyncConnection, batch: Sequence[Applied]) -> None:
        for envelope, payload in batch:
            await _apply_one(conn, envelope, payload)


async def _apply_one(conn: AsyncConnection, env: Envelope, e: Any) -> None:
    if isinstance(e, AnswerOffered):
        await conn.execute(offers.insert().values(
            offer_id=e.offer_id, channel=e.channel.value, article_id=e.article_id,
            version=e.version, confidence=e.confidence, offered_at=env.time))
        return
    if isinstance(e, OfferAnswered):
        await conn.execute(update(offers).where(offers.c.offer_id == e.offer_id)
                           .values(solved=e.solved))
        return
    if isinstance(e, ArticleDrafted):
        await _drafted(conn, env, e)
        return
    changes: dict[str, Any] = {}
    v = versions.c
    this_version = and_(v.article_id == e.article_id, v.version == e.version)
    if isinstance(e, ArticleSubmitted):
        changes = {"stage": "submitted", "submitted_by": env.actor, "submitted_at": env.time,
                   "returned_reason": None}
        await conn.execute(update(versions).where(this_version, v.submitted_at.is_(None))
                           .values(submitted_at=env.time))
    elif isinstance(e, ArticleReturned):
        changes = {"stage": "returned", "returned_reason": e.reason}
    elif isinstance(e, ArticleApproved):
        changes = {"stage": "approved", "publish_at": e.publish_at}
    elif isinstance(e, ArticlePublished):
        changes = {"stage": None, "draft_version": None, "published_version": e.version,
                   "title": e.title, "published_at": env.time, "publish_at": None,
                   "submitted_at": None, "returned_reason": None}
        await conn.execute(update(versions).where(this_version).values(published_at=env.time))
    elif isinstance(e, ArticleRetired):
        changes = {"retired": True, "stage": None, "draft_version": None}
    await conn.execute(update(articles).where(articles.c.article_id == e.article_id)
                       .values(stream_version=env.streamversion, **changes))


def details_of(e: ArticleDrafted | ArticlePublished) -> dict[str, Any]:
    """What a version says besides title and body, as JSON-ready values."""
    return e.model_dump(mode="json", exclude={"article_id", "version", "title", "body"})


async def _drafted(conn: AsyncConnection, env: Envelope, e: ArticleDrafted) -> None:
    row = {"title": e.title, "stage": "draft", "draft_version": e.version,
           "stream_version": env.streamversion,
           "kind": e.kind.value if e.kind else None, "level1": e.category.level1,
           "level2": e.category.level2, "audience": e.audience.value,
           "owning_unit": e.owning_unit, "review_by": e.review_by.isoformat()
           if e.review_by else None, "drafted_by": env.actor, "drafted_at": env.time,
           "returned_reason": None}
    found = await conn.execute(update(articles).where(articles.c.article_id == e.article_id)
                               .values(row))
    if found.rowcount == 0:
        await conn.execute(articles.insert().values(
            article_id=e.article_id, retired=False, source_id=e.source_id,
            from_ticket=e.from_ticket, **row))
    text = {"title": e.title, "body": e.body, "details": json.dumps(details_of(e),
                                                                      ensure_ascii=False),
            "drafted_at": env.time}
    v = versions.c
    found = await conn.execute(update(versions).where(
        v.article_id == e.article_id, v.version == e.version).values(text))
    if found.rowcount == 0:
        await conn.execute(versions.insert().values(article_id=e.article_id,
                                                    version=e.version, **text))
